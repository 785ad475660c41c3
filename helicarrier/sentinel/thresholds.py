"""The sentinel's thresholds and policy for an agent: the defaults from the settings, overridden per label by
``HELICARRIER_SENTINEL_LABELS`` (a JSON object {"key=value": {"field": value, ...}}, applied in its order to
the agents carrying that label). Plain functions; ``parse_overrides`` is the setting's parser."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from typing import Any

from helicarrier.sentinel.ladder import LADDER


@dataclass(frozen=True)
class Thresholds:
    policy: str = "alert"  # the highest rung of the ladder the sentinel may take for this agent
    repeat_n: int = 12  # the same normalized line (or tool call) this many times ...
    repeat_window_s: int = 300  # ... within this window ...
    # ... and making up more than this share (percent) of the agent's lines in it: a working agent's progress
    # lines ("step 3/12: calling o3", "step 4/12: ...") are one shape too, but never most of what it logs.
    repeat_share_pct: int = 60
    no_output_s: int = 600  # tokens spent for this long without one new distinct log line
    long_run_factor: int = 3  # a session running longer than this many times its task kind's p99 ...
    long_run_min_sessions: int = 20  # ... once the p99 stands on at least this many ended sessions
    silent_s: int = 900  # heartbeats say running, no model call for this long
    grace_s: int = 120  # between two rungs of the ladder
    cooldown_s: int = 3600  # after a steer or kill, no action for the same reason on the same agent

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


FIELDS = {f.name for f in fields(Thresholds)}


def _checked(label: str, values: Any) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise ValueError(f"{label}: an object of thresholds")
    for key, value in values.items():
        if key not in FIELDS:
            raise ValueError(f"{label}: unknown field {key!r} (known: {', '.join(sorted(FIELDS))})")
        if key == "policy":
            if value not in LADDER:
                raise ValueError(f"{label}: policy is one of {', '.join(LADDER)}")
        elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{label}: {key} is a whole number of at least 1")
    return values


def parse_overrides(text: str) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
    """``{"team=research": {"policy": "observe"}, ...}`` as ((label, ((field, value), ...)), ...)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(doc, dict):
        raise ValueError('a JSON object {"key=value": {...}}')
    out = []
    for label, values in doc.items():
        if "=" not in label:
            raise ValueError(f"{label!r}: a label is key=value")
        out.append((label, tuple(_checked(label, values).items())))
    return tuple(out)


def for_labels(defaults: Thresholds, overrides, labels: dict[str, str] | None) -> Thresholds:
    """The thresholds of an agent with these labels: each matching override, in order, on the defaults."""
    have = {f"{k}={v}" for k, v in (labels or {}).items()}
    out = defaults
    for label, values in overrides:
        if label in have:
            out = replace(out, **dict(values))
    return out


def from_settings(settings) -> Thresholds:
    """The defaults every agent starts from (``HELICARRIER_SENTINEL_*``)."""
    return replace(
        Thresholds(),
        policy=settings.sentinel_policy,
        repeat_n=settings.sentinel_repeat_n,
        repeat_window_s=settings.sentinel_repeat_window_s,
        no_output_s=settings.sentinel_no_output_s,
        long_run_factor=settings.sentinel_long_run_factor,
        silent_s=settings.sentinel_silent_s,
        grace_s=settings.sentinel_grace_s,
        cooldown_s=settings.sentinel_cooldown_s,
    )
