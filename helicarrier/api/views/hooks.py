"""Claude Code's http hooks (docs/connectors.md#claude-code-hooks). The route fails open: whatever goes
wrong inside Helicarrier, Claude Code hears "allow" in time."""

from __future__ import annotations

from flask import g, request

from helicarrier.api.failopen import abandoned
from helicarrier.api.http import app_context, json_response, read_json_body

MAX_HOOK_BYTES = 1024 * 1024  # a PostToolUse input carries the tool's output


def claude_code():
    """A hook input in, a decision out.

    curl -X POST "$URL/api/v1/hooks/claude-code?agent=dev-laptop" -H "Authorization: Bearer $T" \\
         -H "Content-Type: application/json" -d '{"hook_event_name": "Stop", "session_id": "s1"}'
    """
    body = read_json_body(MAX_HOOK_BYTES)
    agent = request.args.get("agent") or request.headers.get("X-Helicarrier-Agent")
    hooks = app_context().claude_code_hooks
    decision = hooks.handle(g.token.speaker, agent, body, request.remote_addr, abandoned)
    return json_response(decision)
