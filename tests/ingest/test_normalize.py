"""Usage normalizer: every provider fixture, plus the pitfalls from the provider-usage notes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helicarrier.ingest.normalize import (
    NO_USAGE_WARNING,
    NORMALIZER_VERSION,
    NormalizedUsage,
    SessionEntry,
    UsageError,
    normalize_otlp,
    normalize_session_log,
    normalize_usage,
    session_totals,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "providers"
SESSION_KINDS = {"claude_code": "claude_code", "codex_cli": "codex"}
# What a provider fixture's ``expected`` lists, null where the provider does not report it.
EVERY_FIELD = (
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "total_tokens",
    "reported_total_tokens",
    "web_search_requests",
)


def _load(path: Path) -> dict[str, Any]:
    """A fixture; a .jsonl session log borrows meta/expected from its sibling .json."""
    if path.suffix == ".jsonl":
        doc = json.loads(path.with_suffix(".json").read_text())
        doc["payload"] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return doc
    return json.loads(path.read_text())


def _fixture_files() -> list[Path]:
    files = sorted(FIXTURES.glob("*.json")) + sorted(FIXTURES.glob("*.jsonl"))
    return [
        f
        for f in files
        if f.suffix == ".jsonl" or "expected" in json.loads(f.read_text())  # VERSIONS.json has none
    ]


def _event(name: str, payload: Any, expected: dict[str, Any]) -> dict[str, Any]:
    """The ingest event an agent would send for this fixture."""
    if "attributes" in payload:  # OTel GenAI span attributes alone: provider and model come from them
        return {"attributes": payload["attributes"]}
    if "modelId" in payload:  # no model in the response (Bedrock, Cohere, Gemini Live): the agent sends it
        return {
            "provider": expected["provider"],
            "model": payload["modelId"],
            "response": payload["response"],
        }
    if name.startswith("otel_"):  # provider and model come from the span attributes
        return {"response": payload}
    return {"provider": expected["provider"], "response": payload}


def _check(usage: NormalizedUsage, expected: dict[str, Any], where: str) -> None:
    for key, want in expected.items():
        if key == "speed":
            got: Any = usage.price_context.get("speed")
        elif key == "warnings":  # a fixture whose payload deserves one says which
            got = list(usage.warnings)
        else:
            got = getattr(usage, key)
        assert got == want, f"{where}: {key} = {got!r}, expected {want!r}"
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    if "warnings" not in expected:
        assert usage.warnings == (), f"{where}: unexpected warnings {usage.warnings}"


@pytest.mark.parametrize("path", _fixture_files(), ids=lambda p: p.name)
def test_fixture(path: Path) -> None:
    doc = _load(path)
    name, payload, expected = path.stem, doc["payload"], doc["expected"]
    kind = next((k for prefix, k in SESSION_KINDS.items() if name.startswith(prefix)), None)
    if kind is None:
        missing = set(EVERY_FIELD) - set(expected)
        assert not missing, f"{name}: expected lacks {missing} (null if not reported)"
        _check(normalize_usage(_event(name, payload, expected)), expected, name)
        return
    entries = normalize_session_log(kind, payload)
    rows = expected.get("per_message") or expected.get("per_turn")
    assert len(entries) == len(rows)
    for i, (entry, want) in enumerate(zip(entries, rows, strict=True)):
        want = dict(want)
        if "message_id" in want:
            assert entry.key == want.pop("message_id")
        _check(entry.usage, want, f"{name}[{i}]")
    totals = session_totals(entries)
    for key, want in expected["session_totals"].items():
        assert totals[key] == want, f"session_totals.{key}"


def test_fixture_matrix_is_not_empty() -> None:
    assert len(_fixture_files()) >= 41  # a lost fixture is a lost contract
    assert NORMALIZER_VERSION >= 1


# -- null / zero / coercion ------------------------------------------------------------------------


def _chat(usage: dict[str, Any], provider: str = "openai") -> NormalizedUsage:
    return normalize_usage({"provider": provider, "response": {"model": "gpt-4o", "usage": usage}})


def test_reasoning_null_vs_zero() -> None:
    absent = _chat({"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8})
    null = _chat({"prompt_tokens": 5, "completion_tokens": 3, "completion_tokens_details": None})
    null_inner = _chat(
        {"prompt_tokens": 5, "completion_tokens": 3, "completion_tokens_details": {"reasoning_tokens": None}}
    )
    zero = _chat(
        {"prompt_tokens": 5, "completion_tokens": 3, "completion_tokens_details": {"reasoning_tokens": 0}}
    )
    assert absent.reasoning_tokens is None
    assert null.reasoning_tokens is None
    assert null_inner.reasoning_tokens is None
    assert zero.reasoning_tokens == 0
    assert absent.cache_read_tokens == 0 and absent.cache_write_tokens == 0


def test_sdk_model_dump_nulls_are_absent() -> None:
    u = normalize_usage(
        {
            "provider": "anthropic",
            "response": {
                "model": "claude-haiku-4-5",
                "usage": {
                    "input_tokens": 10,
                    "output_tokens": 2,
                    "cache_creation_input_tokens": None,
                    "cache_read_input_tokens": None,
                    "cache_creation": None,
                    "server_tool_use": None,
                    "service_tier": None,
                },
            },
        }
    )
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == (10, 2, 0, 0)
    assert u.cache_write_5m_tokens is None and u.reasoning_tokens is None


@pytest.mark.parametrize(
    ("usage", "field"),
    [
        ({"prompt_tokens": -1, "completion_tokens": 3}, "response.usage.prompt_tokens"),
        ({"prompt_tokens": 5, "completion_tokens": "-3"}, "response.usage.completion_tokens"),
        (
            {"prompt_tokens": 5, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": -2}},
            "response.usage.prompt_tokens_details.cached_tokens",
        ),
    ],
)
def test_negative_count_names_the_field(usage: dict[str, Any], field: str) -> None:
    with pytest.raises(UsageError) as info:
        _chat(usage)
    assert info.value.field == field
    assert "negative" in info.value.message


@pytest.mark.parametrize(
    ("value", "word"), [(2.5, "non-integer"), ("12a", "non-numeric"), (True, "boolean"), ([1], "list")]
)
def test_bad_count_types_rejected(value: Any, word: str) -> None:
    with pytest.raises(UsageError) as info:
        _chat({"prompt_tokens": value, "completion_tokens": 1})
    assert info.value.field == "response.usage.prompt_tokens"
    assert word in info.value.message


def test_int64_strings_and_integral_floats_accepted() -> None:
    u = _chat({"prompt_tokens": "123", "completion_tokens": 7.0, "total_tokens": " 130 "})
    assert (u.input_tokens, u.output_tokens, u.reported_total_tokens) == (123, 7, 130)
    assert type(u.input_tokens) is int and type(u.output_tokens) is int
    cohere = normalize_usage(
        {
            "provider": "cohere",
            "model": "command-a-03-2025",
            "response": {
                "id": "x",
                "usage": {
                    "billed_units": {"input_tokens": 8.0, "output_tokens": 20.0},
                    "tokens": {"input_tokens": 71.0, "output_tokens": 20.0},
                },
            },
        }
    )
    assert (cohere.input_tokens, cohere.output_tokens, cohere.model) == (8, 20, "command-a-03-2025")


def test_unknown_extra_fields_are_ignored() -> None:
    u = _chat(
        {
            "prompt_tokens": 10,
            "completion_tokens": 4,
            "total_tokens": 14,
            "future_field": {"nested": [1, 2]},
            "prompt_tokens_details": {"cached_tokens": 2, "shiny_new_tokens": 999},
        }
    )
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.total_tokens) == (10, 4, 2, 14)
    assert u.warnings == ()


def test_cost_is_decimal_from_str() -> None:
    u = normalize_usage(
        {"provider": "openai", "cost": 0.1, "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    )
    assert u.reported_cost_usd == Decimal("0.1")
    assert normalize_usage(
        {"provider": "openai", "cost": "0.0123", "usage": {"prompt_tokens": 1}}
    ).reported_cost_usd == (Decimal("0.0123"))
    with pytest.raises(UsageError) as info:
        normalize_usage({"provider": "openai", "cost": "cheap", "usage": {"prompt_tokens": 1}})
    assert info.value.field == "cost"


def test_missing_provider_and_payload() -> None:
    with pytest.raises(UsageError) as info:
        normalize_usage({"usage": {"prompt_tokens": 1}})
    assert info.value.field == "provider"
    with pytest.raises(UsageError) as info:
        normalize_usage({"provider": "openai"})
    assert info.value.field == "usage"
    with pytest.raises(UsageError) as info:
        normalize_usage({"provider": "openai", "usage": {"weird": 1}})
    assert info.value.field == "usage"


# -- streams ---------------------------------------------------------------------------------------


def test_anthropic_stream_not_double_counted() -> None:
    events = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "model": "claude-sonnet-4-6",
                "usage": {
                    "input_tokens": 12,
                    "cache_creation_input_tokens": 2089,
                    "cache_read_input_tokens": 16399,
                    "output_tokens": 1,
                },
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "message_delta", "delta": {"stop_reason": None}, "usage": {"output_tokens": 200}},
        # cumulative: the final delta repeats input/cache counts and carries the full output
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {
                "input_tokens": 12,
                "cache_creation_input_tokens": 2089,
                "cache_read_input_tokens": 16399,
                "output_tokens": 445,
                "server_tool_use": {"web_search_requests": 1},
            },
        },
        {"type": "message_stop"},
    ]
    u = normalize_usage({"provider": "anthropic", "response": events})
    assert (u.input_tokens, u.output_tokens, u.total_tokens) == (18500, 445, 18945)
    assert (u.cache_read_tokens, u.cache_write_tokens, u.web_search_requests) == (16399, 2089, 1)
    assert u.model == "claude-sonnet-4-6"


def test_openai_stream_usage_in_last_chunk() -> None:
    chunk = {"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini", "usage": None}
    final = {
        **chunk,
        "choices": [],
        "usage": {"prompt_tokens": 57, "completion_tokens": 12, "total_tokens": 69},
    }
    u = normalize_usage({"provider": "openai", "response": [chunk, chunk, final]})
    assert (u.input_tokens, u.output_tokens, u.total_tokens, u.model) == (57, 12, 69, "gpt-4o-mini")


def test_openai_stream_without_usage_returns_zeros_with_warning() -> None:
    chunk = {"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": []}
    u = normalize_usage({"provider": "openai", "response": [chunk, chunk]})
    assert (u.input_tokens, u.output_tokens, u.total_tokens) == (0, 0, 0)
    assert u.warnings == (NO_USAGE_WARNING,)
    assert u.model == "gpt-4o-mini"


def test_responses_stream_and_bedrock_stream() -> None:
    resp = {"model": "gpt-5.2", "usage": {"input_tokens": 100, "output_tokens": 10, "total_tokens": 110}}
    events = [
        {"type": "response.created", "response": {**resp, "usage": None}},
        {"type": "response.completed", "response": resp},
    ]
    assert normalize_usage({"provider": "openai", "response": events}).total_tokens == 110
    bedrock = [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"text": "ok"}}},
        {
            "metadata": {
                "usage": {
                    "inputTokens": 5,
                    "outputTokens": 7,
                    "totalTokens": 10012,
                    "cacheReadInputTokens": 10000,
                }
            }
        },
    ]
    u = normalize_usage({"provider": "bedrock", "model": "amazon.nova-pro-v1:0", "response": bedrock})
    assert (u.provider, u.input_tokens, u.output_tokens, u.cache_read_tokens) == (
        "aws.bedrock",
        10005,
        7,
        10000,
    )


# -- provider specifics ----------------------------------------------------------------------------

GEMINI_CAMEL = {
    "promptTokenCount": 55021,
    "cachedContentTokenCount": 32768,
    "candidatesTokenCount": 923,
    "thoughtsTokenCount": 785,
    "toolUsePromptTokenCount": 120,
    "totalTokenCount": 56849,
    "trafficType": "ON_DEMAND_FLEX",
}
GEMINI_SNAKE = {
    "prompt_token_count": 55021,
    "cached_content_token_count": 32768,
    "candidates_token_count": 923,
    "thoughts_token_count": 785,
    "tool_use_prompt_token_count": 120,
    "total_token_count": 56849,
    "traffic_type": "ON_DEMAND_FLEX",
}


def test_gemini_camel_and_snake_identical() -> None:
    camel = normalize_usage(
        {
            "provider": "gcp.gemini",
            "response": {"modelVersion": "gemini-2.5-pro", "usageMetadata": GEMINI_CAMEL},
        }
    )
    snake = normalize_usage(
        {
            "provider": "gcp.gemini",
            "response": {"model_version": "gemini-2.5-pro", "usage_metadata": GEMINI_SNAKE},
        }
    )
    bare = normalize_usage({"provider": "gemini", "model": "gemini-2.5-pro", "usage": GEMINI_SNAKE})
    assert camel == snake == bare
    assert (camel.input_tokens, camel.output_tokens, camel.reasoning_tokens) == (55141, 1708, 785)
    assert camel.price_context == {"service_tier": "flex"}


def test_gemini_candidates_absent_still_bills_thoughts() -> None:
    u = normalize_usage(
        {
            "provider": "gcp.vertex_ai",
            "response": {
                "modelVersion": "gemini-2.5-flash",
                "usageMetadata": {
                    "promptTokenCount": 100,
                    "thoughtsTokenCount": 1024,
                    "totalTokenCount": 1124,
                },
            },
        }
    )
    assert (u.input_tokens, u.output_tokens, u.reasoning_tokens, u.total_tokens) == (100, 1024, 1024, 1124)
    assert u.provider == "gcp.vertex_ai" and u.warnings == ()


def test_openai_compatible_top_level_reasoning_fixed_with_warning() -> None:
    # Vertex OpenAI-compat (openai/openai-python#2544): completion EXCLUDES reasoning
    u = normalize_usage(
        {
            "provider": "gcp.vertex_ai",
            "response": {
                "model": "google/gemini-2.5-pro",
                "usage": {
                    "prompt_tokens": 2181,
                    "completion_tokens": 57,
                    "reasoning_tokens": 280,
                    "total_tokens": 2518,
                },
            },
        }
    )
    assert (u.input_tokens, u.output_tokens, u.reasoning_tokens, u.total_tokens) == (2181, 337, 280, 2518)
    assert len(u.warnings) == 1 and "reasoning" in u.warnings[0]
    # OpenAI proper: completion already includes reasoning, nothing added
    ok = _chat(
        {
            "prompt_tokens": 2006,
            "completion_tokens": 300,
            "total_tokens": 2306,
            "completion_tokens_details": {"reasoning_tokens": 128},
        }
    )
    assert ok.output_tokens == 300 and ok.warnings == ()


def test_total_mismatch_is_warned_not_trusted() -> None:
    u = _chat({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 99})
    assert u.total_tokens == 15 and u.reported_total_tokens == 99
    assert any("total mismatch" in w for w in u.warnings)


def test_deepseek_flat_cache_fields() -> None:
    u = normalize_usage(
        {
            "provider": "deepseek",
            "response": {
                "model": "deepseek-chat",
                "usage": {
                    "prompt_tokens": 1000,
                    "completion_tokens": 50,
                    "total_tokens": 1050,
                    "prompt_cache_hit_tokens": 800,
                    "prompt_cache_miss_tokens": 200,
                },
            },
        }
    )
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens) == (1000, 800, 50)


def test_bedrock_stream_folded_cache_write_detected() -> None:
    u = normalize_usage(
        {
            "provider": "aws.bedrock",
            "model": "openai.gpt-oss-120b-1:0",
            "usage": {
                "inputTokens": 4995,
                "cacheWriteInputTokens": 4993,
                "outputTokens": 10,
                "totalTokens": 5005,
            },
        }
    )
    assert u.input_tokens == 4995 and u.cache_write_tokens == 4993
    assert any("cacheWriteInputTokens" in w for w in u.warnings)


def test_otel_legacy_system_adds_cache_back() -> None:
    attrs = {
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-6",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 445,
        "gen_ai.usage.cache_read_input_tokens": 16399,
        "gen_ai.usage.cache_creation_input_tokens": 2089,
    }
    u = normalize_usage({"attributes": attrs})
    assert (u.provider, u.input_tokens, u.cache_read_tokens) == ("anthropic", 18500, 16399)
    assert len(u.warnings) == 1


def test_normalize_otlp_returns_every_usage_span() -> None:
    doc = _load(FIXTURES / "otel_genai__current_semconv.json")
    spans = normalize_otlp(doc["payload"])
    assert len(spans) == 1 and spans[0].input_tokens == 18500


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("xai", "x_ai"),
        ("x_ai", "x_ai"),
        ("vertex_ai", "gcp.vertex_ai"),
        ("gemini", "gcp.gemini"),
        ("google", "gcp.gemini"),
        ("bedrock", "aws.bedrock"),
        ("mistral", "mistral_ai"),
        ("az.ai.openai", "azure.ai.openai"),
        ("OpenAI", "openai"),
        ("some-new-provider", "some-new-provider"),
    ],
)
def test_legacy_provider_aliases(alias: str, canonical: str) -> None:
    assert _chat({"prompt_tokens": 1, "completion_tokens": 1}, provider=alias).provider == canonical


def test_claude_code_dedupe_keeps_largest_and_drops_sidechain_replay() -> None:
    doc = _load(FIXTURES / "claude_code__session.json")
    entries = normalize_session_log("claude-code", doc["payload"])
    assert [e.key for e in entries] == ["msg_01A", "msg_01B"]
    assert all(isinstance(e, SessionEntry) for e in entries)
    assert entries[0].usage.output_tokens == 412  # the last (largest) of the repeated lines
    assert entries[0].request_id == "req_011A"


def test_codex_without_last_token_usage_uses_cumulative_difference() -> None:
    lines = [
        {"type": "turn_context", "payload": {"model": "gpt-5.2-codex"}},
        {
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {
                    "total_token_usage": {"input_tokens": 100, "output_tokens": 10, "total_tokens": 110}
                },
            },
        },
        {
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {
                    "total_token_usage": {"input_tokens": 100, "output_tokens": 10, "total_tokens": 110}
                },
            },
        },
        {
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {
                    "total_token_usage": {"input_tokens": 250, "output_tokens": 30, "total_tokens": 280}
                },
            },
        },
    ]
    entries = normalize_session_log("codex", lines)
    assert [(e.usage.input_tokens, e.usage.output_tokens) for e in entries] == [(100, 10), (150, 20)]
    assert session_totals(entries)["total_tokens"] == 280


@given(
    prompt=st.integers(0, 10**9),
    cached=st.integers(0, 10**9),
    completion=st.integers(0, 10**9),
    reasoning=st.none() | st.integers(0, 10**9),
)
def test_openai_chat_invariants(prompt: int, cached: int, completion: int, reasoning: int | None) -> None:
    usage: dict[str, Any] = {
        "prompt_tokens": str(prompt),
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    if reasoning is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    u = _chat(usage)
    assert (u.input_tokens, u.output_tokens, u.reasoning_tokens) == (prompt, completion, reasoning)
    assert u.total_tokens == prompt + completion
    assert ("cache read+write tokens exceed input tokens" in u.warnings) == (cached > prompt)
