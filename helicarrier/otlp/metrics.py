"""Metric data points -> native events, where a metric says something the events do not.

``claude_code.session.count`` names each session Claude Code starts: one ``session.start`` per session id
(the counter is cumulative and re-exported every interval; the id makes the repeats duplicates). The token
and cost counters carry the same figures as the ``claude_code.api_request`` events, call by call: stored
from both, every call would count twice, so they are counted as covered. Every other metric is counted by
name on the Operations page and not stored.
"""

from __future__ import annotations

from datetime import datetime

from helicarrier.otlp.attributes import agent_of, flat, ts_of
from helicarrier.otlp.mapped import Mapped

COVERED_BY_EVENTS = frozenset({"claude_code.token.usage", "claude_code.cost.usage"})


def _points(metric):
    kind = metric.WhichOneof("data")
    return getattr(metric, kind).data_points if kind else ()


def map_metrics(request, now: datetime, session_keys: tuple[str, ...] = ()) -> Mapped:
    """``session_keys`` is unused: the one metric mapped is Claude Code's, which names ``session.id``."""
    out = Mapped()
    for rm in request.resource_metrics:
        resource = flat(rm.resource.attributes)
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                points = _points(metric)
                if metric.name == "claude_code.session.count":
                    for point in points:
                        _session_started(out, point, resource, now)
                elif metric.name in COVERED_BY_EVENTS:
                    out.unmapped[f"{metric.name} (claude_code.api_request events carry it)"] += len(points)
                elif metric.name.startswith(("claude_code.", "codex.")):
                    out.unmapped[f"metric {metric.name[:80]} (not stored)"] += len(points)
                else:
                    out.unmapped["metric of another instrumentation"] += len(points)
    return out


def _session_started(out: Mapped, point, resource: dict, now: datetime) -> None:
    attrs = flat(point.attributes)
    session = attrs.get("session.id")
    if not session:
        out.unmapped["claude_code.session.count without session.id"] += 1
        return
    agent = agent_of(resource, attrs)
    if agent is None:
        out.refused.append("claude_code.session.count: no agent (set helicarrier.agent.id or service.name)")
        return
    ts = ts_of(point.start_time_unix_nano or point.time_unix_nano, now)
    if ts is None:
        out.refused.append("claude_code.session.count: timestamp out of range")
        return
    labels = {"source": "claude-code"}
    if attrs.get("start_type"):
        labels["start_type"] = str(attrs["start_type"])[:256]
    data = {"provider": "anthropic", "labels": labels}
    out.event(f"claude-code-session:{agent}:{session}"[:128], "session.start", ts, agent, str(session), data)
