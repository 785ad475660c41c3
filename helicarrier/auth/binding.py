"""Which token speaks for which agent: the rule, as plain functions.

An agent is owned by one token. A token may name the agents it may claim (globs such as ``build-*``); a
token that names none may claim any agent nobody owns (trust on first use). Reporting for an agent,
fetching its commands and answering them is allowed only to its owner; the first token that does so for an
agent nobody owns becomes its owner, if its globs allow. An admin re-assigns an agent to another token.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

MAX_PATTERNS = 50
MAX_PATTERN_CHARS = 128


class BindingError(ValueError):
    pass


def parse_agent_patterns(value: str | None) -> tuple[str, ...] | None:
    """``build-*, deploy-7`` -> ("build-*", "deploy-7"); None or empty: no restriction."""
    if value is None or not value.strip():
        return None
    patterns = tuple(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))
    if len(patterns) > MAX_PATTERNS or any(len(p) > MAX_PATTERN_CHARS for p in patterns):
        raise BindingError(f"at most {MAX_PATTERNS} agent patterns of {MAX_PATTERN_CHARS} characters")
    return patterns


def may_claim(patterns: tuple[str, ...] | None, agent_id: str) -> bool:
    return patterns is None or any(fnmatchcase(agent_id, p) for p in patterns)


@dataclass(frozen=True)
class Speaker:
    """Who reports for agents: an API token (binding applies), or the process itself (``token_id`` None:
    the demo seeder, an import run from the command line; nothing to bind)."""

    token_id: int | None
    token_name: str
    patterns: tuple[str, ...] | None = None

    @property
    def trusted(self) -> bool:
        return self.token_id is None

    @classmethod
    def internal(cls, name: str) -> Speaker:
        return cls(None, name)


def verdict(speaker: Speaker, agent_id: str, owner_token_id: int | None) -> str:
    """``bound`` (the token owns the agent), ``claim`` (nobody does, and the token may take it) or
    ``refused``."""
    if speaker.trusted or owner_token_id == speaker.token_id:
        return "bound"
    if owner_token_id is None and may_claim(speaker.patterns, agent_id):
        return "claim"
    return "refused"
