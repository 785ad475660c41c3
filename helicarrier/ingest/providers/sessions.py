"""Agent session logs (JSONL, one dict per line): Claude Code and Codex CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import anthropic
from ._base import Counts, NormalizedUsage, build, count, opt_count, parse_cost, sub


@dataclass(frozen=True, slots=True)
class SessionEntry:
    """One billed model call recovered from a session log."""

    key: str  # Claude Code: message.id; Codex: "turn-<n>"
    request_id: str | None
    timestamp: str | None
    usage: NormalizedUsage
    raw: dict[str, Any] | None = None  # the provider usage object it was read from (Claude Code)


def claude_code(lines: list[Any]) -> list[SessionEntry]:
    """One entry per (message.id, requestId), keeping the line with the largest token total.

    Claude Code writes every streamed content block as its own line with a repeated (partial) usage;
    sidechain lines that replay a main-chain message.id are dropped; ``<synthetic>`` placeholders skipped.
    """
    main_ids = {
        line["message"].get("id")
        for line in lines
        if type(line) is dict and not line.get("isSidechain") and type(line.get("message")) is dict
    }
    best: dict[tuple[Any, ...], SessionEntry] = {}
    for i, line in enumerate(lines):
        if type(line) is not dict or line.get("type") != "assistant":
            continue
        msg = line.get("message")
        if type(msg) is not dict or type(msg.get("usage")) is not dict:
            continue
        model = msg.get("model")
        if model == "<synthetic>":
            continue
        mid = msg.get("id")
        if line.get("isSidechain") and mid in main_ids:
            continue
        rid = line.get("requestId")
        usage = build(
            "anthropic",
            model if type(model) is str else None,
            anthropic.messages_usage(msg["usage"], f"lines[{i}].message.usage"),
            parse_cost(line.get("costUSD")),
        )
        key: tuple[Any, ...] = (mid, rid) if mid else ("line", i)
        prev = best.get(key)
        if prev is None or usage.total_tokens > prev.usage.total_tokens:
            # dict keeps first-insertion order, so replacing keeps the message's original position
            entry_key = str(mid) if mid else f"line-{i}"
            best[key] = SessionEntry(entry_key, rid, line.get("timestamp"), usage, msg["usage"])
    return list(best.values())


def _codex_counts(u: dict[str, Any], path: str) -> Counts:
    # OpenAI semantics: input includes cached_input_tokens, output includes reasoning_output_tokens.
    return Counts(
        count(u, "input_tokens", path),
        count(u, "output_tokens", path),
        count(u, "cached_input_tokens", path),
        0,
        None,
        None,
        opt_count(u, "reasoning_output_tokens", path),
        opt_count(u, "total_tokens", path),
    )


def _delta(now: Counts, before: Counts | None) -> Counts:
    if before is None or now.input_tokens < before.input_tokens or now.output_tokens < before.output_tokens:
        return now  # first snapshot, or the counter was reset
    r_now, r_before = now.reasoning_tokens, before.reasoning_tokens
    t_now, t_before = now.reported_total_tokens, before.reported_total_tokens
    return Counts(
        now.input_tokens - before.input_tokens,
        now.output_tokens - before.output_tokens,
        now.cache_read_tokens - before.cache_read_tokens,
        0,
        None,
        None,
        r_now - (r_before or 0) if r_now is not None else None,
        t_now - t_before if t_now is not None and t_before is not None else None,
    )


def codex(lines: list[Any], model: str | None = None) -> list[SessionEntry]:
    """One entry per token_count event. ``total_token_usage`` is CUMULATIVE: use ``last_token_usage``
    (the per-turn delta), or the difference of consecutive totals when it is missing."""
    entries: list[SessionEntry] = []
    prev_total: dict[str, Any] | None = None
    prev_counts: Counts | None = None
    for i, line in enumerate(lines):
        if type(line) is not dict:
            continue
        payload = line.get("payload")
        if type(payload) is not dict:
            continue
        kind = line.get("type")
        if kind in ("turn_context", "session_meta"):
            m = payload.get("model")
            if type(m) is str and m:
                model = m
            continue
        if kind != "event_msg" or payload.get("type") != "token_count":
            continue
        info = payload.get("info")
        if type(info) is not dict:
            continue
        path = f"lines[{i}].payload.info"
        total_u = sub(info, "total_token_usage", path)
        last_u = sub(info, "last_token_usage", path)
        if total_u is not None and total_u == prev_total:
            continue  # the same snapshot emitted again
        total_counts = _codex_counts(total_u, path + ".total_token_usage") if total_u is not None else None
        if last_u is not None:
            counts = _codex_counts(last_u, path + ".last_token_usage")
        elif total_counts is not None:
            counts = _delta(total_counts, prev_counts)
        else:
            continue
        if total_u is not None:
            prev_total, prev_counts = total_u, total_counts
        usage = build("openai", model, counts, None)
        entries.append(SessionEntry(f"turn-{len(entries) + 1}", None, line.get("timestamp"), usage))
    return entries


def totals(entries: list[SessionEntry]) -> dict[str, int | None]:
    """Session sums; reasoning stays None when no entry reported it."""
    inp = out = cr = cw = 0
    reasoning: int | None = None
    for e in entries:
        u = e.usage
        inp += u.input_tokens
        out += u.output_tokens
        cr += u.cache_read_tokens
        cw += u.cache_write_tokens
        if u.reasoning_tokens is not None:
            reasoning = (reasoning or 0) + u.reasoning_tokens
    return {
        "input_tokens": inp,
        "output_tokens": out,
        "cache_read_tokens": cr,
        "cache_write_tokens": cw,
        "reasoning_tokens": reasoning,
        "total_tokens": inp + out,
    }
