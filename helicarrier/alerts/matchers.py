"""Label matchers, as Alertmanager writes them: ``name=value``, ``name!=value``, ``name=~regex``,
``name!~regex``. Used by silences, inhibition rules and receiver routes.

A label an alert does not have matches as the empty string (so ``team!=core`` matches an alert without a
team, and ``team=~".+"`` requires one). Regexes are anchored: ``agent=~"atlas-.*"`` must match the whole
value, as in Alertmanager.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

OPS = ("=", "!=", "=~", "!~")
MAX_VALUE_CHARS = 500
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]*$")
# name, op, value; the value optionally "quoted". Longest operators first.
_TEXT = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_.:-]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(\S.*?))\s*$')


class MatcherError(ValueError):
    """A matcher that cannot be used; the message says which and why."""


@lru_cache(maxsize=2048)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise MatcherError(f"matcher label name {self.name!r} is not a valid label name")
        if self.op not in OPS:
            raise MatcherError(f"matcher operator {self.op!r} is not one of {', '.join(OPS)}")
        if not isinstance(self.value, str) or len(self.value) > MAX_VALUE_CHARS:
            raise MatcherError(
                f"matcher {self.name}: the value must be text of at most {MAX_VALUE_CHARS} chars"
            )
        if self.op in ("=~", "!~"):
            try:
                _compiled(self.value)
            except re.error as exc:
                raise MatcherError(f"matcher {self.name}{self.op}: bad regular expression: {exc}") from None

    def matches(self, labels: Mapping[str, Any]) -> bool:
        raw = labels.get(self.name)
        value = "" if raw is None else str(raw)
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        hit = _compiled(self.value).fullmatch(value) is not None
        return hit if self.op == "=~" else not hit

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op, "value": self.value}

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


def parse_matcher(raw: Any) -> Matcher:
    """A matcher from ``{"name", "op", "value"}`` or from text such as ``severity=~"warn|crit"``."""
    if isinstance(raw, Matcher):
        return raw
    if isinstance(raw, Mapping):
        unknown = set(raw) - {"name", "op", "value"}
        if unknown:
            raise MatcherError(f"matcher has unknown fields: {', '.join(sorted(unknown))}")
        return Matcher(raw.get("name"), raw.get("op", "="), raw.get("value", ""))  # type: ignore[arg-type]
    if isinstance(raw, str):
        m = _TEXT.match(raw)
        if not m:
            raise MatcherError(f'cannot read matcher {raw!r}: write it as name="value" (or !=, =~, !~)')
        name, op, quoted, bare = m.groups()
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        return Matcher(name, op, value)
    raise MatcherError(f"a matcher is an object or a string, not {type(raw).__name__}")


def parse_matchers(raw: Any, *, allow_empty: bool = True) -> list[Matcher]:
    """A list of matchers from a JSON list, or from text with matchers separated by commas or newlines."""
    if raw is None:
        items: list[Any] = []
    elif isinstance(raw, str):
        items = [part for part in re.split(r"[,\n]", raw) if part.strip()]
    elif isinstance(raw, list | tuple):
        items = list(raw)
    else:
        raise MatcherError("matchers must be a list")
    matchers = [parse_matcher(item) for item in items]
    if not matchers and not allow_empty:
        raise MatcherError("at least one matcher is needed")
    return matchers


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, Any]) -> bool:
    return all(m.matches(labels) for m in matchers)


def matches_everything(matchers: Iterable[Matcher]) -> bool:
    """True when the matchers would match an alert with no labels at all: a silence like that mutes
    everything, which is refused (Alertmanager refuses it too)."""
    return matches_all(matchers, {})
