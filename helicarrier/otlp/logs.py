"""Log records -> native events: the telemetry events Claude Code and Codex CLI export.

Attribute lists as documented (fixtures in ``fixtures/otlp/`` note the documentation and its date):
- Claude Code, code.claude.com/docs/en/monitoring-usage: ``claude_code.api_request`` (model, cost_usd,
  duration_ms, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, request_id, ...),
  ``claude_code.api_error``, ``claude_code.tool_result``, ``claude_code.user_prompt``,
  ``claude_code.tool_decision``; ``session.id`` on every event. The event name is the record's body
  (``claude_code.api_request``) and, without the prefix, its ``event.name`` attribute.
- Codex CLI, openai/codex ``codex-rs/otel`` (``SessionTelemetry``): ``codex.sse_event`` with ``event.kind``
  ``response.completed`` carries input/output/cached/reasoning/tool token counts (often as text);
  ``codex.conversation_starts``, ``codex.api_request``, ``codex.user_prompt``, ``codex.tool_decision``,
  ``codex.tool_result``; ``conversation.id`` and ``model`` on every event.

A record has no id of its own: the event id is a digest of the record and its agent, so a re-sent export
stores nothing twice. Claude Code's ``input_tokens`` exclude cache reads and writes (Anthropic's usage
semantics), Codex's ``input_token_count`` includes its cached tokens (OpenAI's): each is sent to the
normalizer in its provider's own usage shape, which knows that.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from helicarrier.otlp.attributes import SESSION_KEYS, agent_of, count, digest, first, flat, scalar, ts_of
from helicarrier.otlp.mapped import Mapped

Handler = Callable[[dict[str, Any]], tuple[str, dict[str, Any]] | str]
_PREFIXES = ("claude_code.", "codex.")


def event_name(record, attrs: dict[str, Any], resource: dict[str, Any]) -> str | None:
    """``claude_code.api_request`` / ``codex.sse_event``: from the record's event_name, its body or its
    ``event.name`` attribute (Claude Code puts the bare name there)."""
    body = scalar(record.body) if record.HasField("body") else None
    for candidate in (record.event_name, body, attrs.get("event.name")):
        if isinstance(candidate, str) and candidate.startswith(_PREFIXES):
            return candidate
    bare = attrs.get("event.name")
    if isinstance(bare, str) and bare and str(resource.get("service.name", "")).startswith("claude"):
        return f"claude_code.{bare}"
    return bare if isinstance(bare, str) and bare else None


# -- Claude Code ----------------------------------------------------------------------------------------


def _claude_provider(model: Any) -> str:
    """Claude Code on Bedrock reports Bedrock model ids, on Vertex ``model@version``: price them there."""
    text = str(model or "")
    if "anthropic." in text:
        return "aws.bedrock"
    if "@" in text:
        return "gcp.vertex_ai"
    return "anthropic"


def _claude_cost(attrs: dict[str, Any]) -> Any:
    if attrs.get("cost_usd") is not None:
        return str(attrs["cost_usd"])  # str: a double's repr, never its binary error, becomes the Decimal
    micros = count(attrs.get("cost_usd_micros"))
    return None if micros is None else str(Decimal(micros).scaleb(-6))  # exact: money is never a float


def _pick(attrs: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: attrs[k] for k in keys if k in attrs}


def claude_api_request(attrs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    model = attrs.get("model")
    usage = {
        "input_tokens": attrs.get("input_tokens", 0),
        "output_tokens": attrs.get("output_tokens", 0),
        "cache_read_input_tokens": attrs.get("cache_read_tokens", 0),
        "cache_creation_input_tokens": attrs.get("cache_creation_tokens", 0),
    }
    data = {
        "provider": _claude_provider(model),
        "model": model,
        "usage": usage,
        "cost": _claude_cost(attrs),
        "claude_code": _pick(
            attrs, ("duration_ms", "request_id", "query_source", "speed", "prompt.id", "event.sequence")
        ),
    }
    return "usage", data


def claude_api_error(attrs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    status = attrs.get("status_code")
    message = f"API error{f' {status}' if status is not None else ''}: {attrs.get('error') or 'unknown'}"
    keys = ("model", "status_code", "attempt", "duration_ms", "request_id", "prompt.id")
    return "log", {"level": "error", "message": message, "attrs": _pick(attrs, keys)}


def claude_tool_result(attrs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ok = str(attrs.get("success", "true")).lower() == "true"
    name = attrs.get("tool_name") or attrs.get("name") or "tool"
    message = f"tool {name} {'ran' if ok else 'failed'} in {attrs.get('duration_ms', '?')} ms"
    if not ok and attrs.get("error_type"):
        message += f" ({attrs['error_type']})"
    keys = (
        "tool_name",
        "tool_use_id",
        "success",
        "duration_ms",
        "error_type",
        "decision_source",
        "prompt.id",
    )
    return "log", {"level": "info" if ok else "warning", "message": message, "attrs": _pick(attrs, keys)}


def claude_user_prompt(attrs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # The prompt text is never stored: only its length (Claude Code redacts it by default anyway).
    message = f"user prompt ({attrs.get('prompt_length', '?')} characters)"
    keys = ("prompt_length", "prompt.id", "command_name")
    return "log", {"level": "info", "message": message, "attrs": _pick(attrs, keys)}


def tool_decision(attrs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    decision = str(attrs.get("decision", "?")).lower()
    message = f"tool {attrs.get('tool_name', '?')}: {decision} ({attrs.get('source', '?')})"
    level = "warning" if decision in ("reject", "denied", "abort") else "info"
    keys = ("tool_name", "tool_use_id", "call_id", "decision", "source")
    return "log", {"level": level, "message": message, "attrs": _pick(attrs, keys)}


# -- Codex CLI ------------------------------------------------------------------------------------------


def codex_sse_event(attrs: dict[str, Any]) -> tuple[str, dict[str, Any]] | str:
    if attrs.get("event.kind") != "response.completed" or "input_token_count" not in attrs:
        return "codex.sse_event without token counts (stream progress)"
    usage = {
        "input_tokens": attrs.get("input_token_count", 0),
        "output_tokens": attrs.get("output_token_count", 0),
        "input_tokens_details": {"cached_tokens": attrs.get("cached_token_count") or 0},
        "output_tokens_details": {"reasoning_tokens": attrs.get("reasoning_token_count")},
    }
    data = {
        "provider": "openai",
        "model": attrs.get("model"),
        "usage": usage,
        "codex": _pick(attrs, ("tool_token_count", "slug", "app.version")),
    }
    return "usage", data


def codex_conversation_starts(attrs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    data = {
        "model": attrs.get("model"),
        "provider": str(attrs.get("provider_name") or "openai").lower()[:200],
        "labels": {"source": "codex", **{k: str(attrs[k])[:256] for k in ("approval_policy",) if k in attrs}},
    }
    return "session.start", data


def codex_api_request(attrs: dict[str, Any]) -> tuple[str, dict[str, Any]] | str:
    status = count(attrs.get("http.response.status_code"))
    if not attrs.get("error.message") and (status is None or status < 400):
        return "codex.api_request without error (usage comes with codex.sse_event)"
    message = f"API error {status if status is not None else ''}: {attrs.get('error.message') or 'unknown'}"
    keys = ("model", "http.response.status_code", "attempt", "duration_ms", "endpoint")
    return "log", {"level": "error", "message": message, "attrs": _pick(attrs, keys)}


def codex_tool_result(attrs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ok = str(attrs.get("success", "true")).lower() == "true"
    outcome = "ran" if ok else "failed"
    message = f"tool {attrs.get('tool_name', '?')} {outcome} in {attrs.get('duration_ms', '?')} ms"
    keys = ("tool_name", "call_id", "success", "duration_ms", "mcp_server")
    return "log", {"level": "info" if ok else "warning", "message": message, "attrs": _pick(attrs, keys)}


def codex_user_prompt(attrs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    message = f"user prompt ({attrs.get('prompt_length', '?')} characters)"
    return "log", {"level": "info", "message": message, "attrs": _pick(attrs, ("prompt_length",))}


HANDLERS: dict[str, Handler] = {
    "claude_code.api_request": claude_api_request,
    "claude_code.api_error": claude_api_error,
    "claude_code.tool_result": claude_tool_result,
    "claude_code.user_prompt": claude_user_prompt,
    "claude_code.tool_decision": tool_decision,
    "codex.sse_event": codex_sse_event,
    "codex.conversation_starts": codex_conversation_starts,
    "codex.api_request": codex_api_request,
    "codex.tool_result": codex_tool_result,
    "codex.user_prompt": codex_user_prompt,
    "codex.tool_decision": tool_decision,
}


def map_logs(request, now: datetime, session_keys: tuple[str, ...] = SESSION_KEYS) -> Mapped:
    out = Mapped()
    for rl in request.resource_logs:
        resource = flat(rl.resource.attributes)
        for sl in rl.scope_logs:
            for record in sl.log_records:
                _map_record(out, record, resource, now, session_keys)
    return out


def _map_record(out: Mapped, record, resource: dict[str, Any], now: datetime, session_keys) -> None:
    attrs = flat(record.attributes)
    name = event_name(record, attrs, resource)
    handler = HANDLERS.get(name) if name else None
    if handler is None:
        out.unmapped[f"event {name[:80]}" if name else "log record without an event name"] += 1
        return
    mapped = handler(attrs)
    if isinstance(mapped, str):
        out.unmapped[mapped] += 1
        return
    agent = agent_of(resource, attrs)
    if agent is None:
        out.refused.append(f"{name}: no agent (set helicarrier.agent.id or service.name)")
        return
    ts = ts_of(record.time_unix_nano or record.observed_time_unix_nano, now)
    if ts is None:
        out.refused.append(f"{name}: timestamp out of range")
        return
    type_, data = mapped
    event_id = f"log:{digest(agent, record.SerializeToString(deterministic=True))}"
    out.event(event_id, type_, ts, agent, first(session_keys, attrs, resource), data)
