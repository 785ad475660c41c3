"""Spans -> native events. A span with GenAI usage attributes is one ``usage`` event (normalized and priced by
the ingest path like any other: ``helicarrier.ingest.providers.otel``); an agent or tool span
(``gen_ai.operation.name`` ``invoke_agent`` / ``execute_tool``) is one ``log`` line in the Pulse. Agent spans
are not usage even when they carry totals: they sum their child model calls, which are counted themselves.

The event id is the span's trace and span id, so an export sent again stores nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from helicarrier.otlp.attributes import SESSION_KEYS, agent_of, digest, first, flat, text, ts_of
from helicarrier.otlp.mapped import Mapped

USAGE_PREFIX = "gen_ai.usage."
LOG_OPERATIONS = frozenset({"invoke_agent", "execute_tool"})
# What a usage event keeps of a span's attributes: what the normalizer reads and what identifies the call.
# Never the prompt or completion (gen_ai.input.messages and the like), never the whole span.
_KEPT = frozenset(
    {
        "gen_ai.provider.name",
        "gen_ai.system",
        "gen_ai.request.model",
        "gen_ai.response.model",
        "gen_ai.response.id",
        "gen_ai.operation.name",
        "openai.response.service_tier",
        "gen_ai.openai.response.service_tier",
        "llm.usage.total_tokens",
    }
)
_STATUS_ERROR = 2  # Status.STATUS_CODE_ERROR
CLAUDE_CODE = "claude-code"  # Claude Code's service.name


def span_event_id(span) -> str:
    if span.span_id:
        return f"span:{span.trace_id.hex()}:{span.span_id.hex()}"
    return f"span:{digest(span.SerializeToString(deterministic=True))}"


def map_traces(request, now: datetime, session_keys: tuple[str, ...] = SESSION_KEYS) -> Mapped:
    out = Mapped()
    for rs in request.resource_spans:
        resource = flat(rs.resource.attributes)
        agent = agent_of(resource)
        if resource.get("service.name") == CLAUDE_CODE:
            # Claude Code's (beta) spans repeat what its log events say, call by call and tool by tool:
            # stored from both, every call would count twice. The events are the documented contract.
            out.unmapped["Claude Code span (its log events carry the same)"] += sum(
                len(ss.spans) for ss in rs.scope_spans
            )
            continue
        for ss in rs.scope_spans:
            scope = text(f"{ss.scope.name}@{ss.scope.version or '?'}")[:200] if ss.scope.name else None
            for span in ss.spans:
                _map_span(out, span, resource, agent, scope, now, session_keys)
    return out


def _map_span(
    out: Mapped, span, resource: dict, agent: str | None, scope: str | None, now, session_keys
) -> None:
    attrs = flat(span.attributes)
    operation = attrs.get("gen_ai.operation.name")
    is_log = operation in LOG_OPERATIONS
    has_usage = not is_log and any(k.startswith(USAGE_PREFIX) for k in attrs)
    if not (is_log or has_usage):
        out.unmapped["span without GenAI usage"] += 1
        return
    if agent is None:
        out.refused.append(f"span {span.name!r}: no agent (set helicarrier.agent.id or service.name)")
        return
    ts = ts_of(span.end_time_unix_nano or span.start_time_unix_nano, now)
    if ts is None:
        out.refused.append(f"span {span.name!r}: timestamp out of range")
        return
    trace_id = span.trace_id.hex()
    session = first(session_keys, attrs, resource) or trace_id or None
    name = text(span.name)[:200]
    otel = {"trace_id": trace_id, "span_id": span.span_id.hex(), "span": name, "scope": scope}
    if has_usage:
        kept = {k: v for k, v in attrs.items() if k in _KEPT or k.startswith(USAGE_PREFIX)}
        data = {
            "provider": attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system"),
            "attributes": kept,
            "otel": otel,
        }
        out.event(span_event_id(span), "usage", ts, agent, session, data)
        return
    out.event(span_event_id(span), "log", ts, agent, session, _span_line(span, name, attrs, operation, otel))


def _span_line(span, span_name: str, attrs: dict, operation: str, otel: dict) -> dict:
    duration_ms = max(0, span.end_time_unix_nano - span.start_time_unix_nano) // 1_000_000
    failed = span.status.code == _STATUS_ERROR
    if operation == "execute_tool":
        name = attrs.get("gen_ai.tool.name") or span_name
        message = f"tool {name} {'failed' if failed else 'ran'} in {duration_ms} ms"
    else:
        name = attrs.get("gen_ai.agent.name") or span_name
        message = f"agent {name} {'failed' if failed else 'ran'} for {duration_ms} ms"
    if failed and span.status.message:
        message += f": {text(span.status.message[:500])}"
    line_attrs = {"operation": operation, "duration_ms": duration_ms, **otel}
    for key in ("gen_ai.tool.call.id", "gen_ai.tool.name", "gen_ai.agent.name", "gen_ai.agent.id"):
        if key in attrs:
            line_attrs[key] = attrs[key]
    return {"level": "error" if failed else "info", "message": message, "attrs": line_attrs}
