"""Deterministic building blocks of the demo: the fleet, its models and tasks, payloads, logs, outcomes.

Everything draws from a ``random.Random`` the caller seeds, so the seeded history and the live fleet are
reproducible. Success rates differ per model and task kind on purpose: the model matrix has a story
(Sonnet codes best, the small models triage and summarize well but stumble on coding, ...).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from helicarrier.formatting import plural

TASK_KINDS = ("coding", "research", "triage", "summarize", "data-analysis")


@dataclass(frozen=True)
class ModelSpec:
    provider: str  # OpenTelemetry provider name, as agents report it
    model: str  # what the agent asks for
    wire_model: str  # what the provider answers with in its payload
    quality: float  # success rate before the task-kind adjustment
    strengths: dict[str, float] = field(default_factory=dict)
    prompt: tuple[int, int] = (1500, 6000)  # first-call prompt tokens
    output: tuple[int, int] = (150, 900)
    reasoning: tuple[int, int] | None = None  # reasoning/thinking tokens, for models that think

    def success_rate(self, kind: str) -> float:
        return min(0.98, max(0.05, self.quality + self.strengths.get(kind, 0.0)))


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        "openai", "gpt-4.1", "gpt-4.1-2025-04-14", 0.86,
        {"coding": 0.04, "triage": 0.05, "summarize": 0.06, "data-analysis": -0.03},
    ),
    ModelSpec(
        "openai", "gpt-4.1-mini", "gpt-4.1-mini-2025-04-14", 0.74,
        {"coding": -0.14, "research": -0.08, "triage": 0.12, "summarize": 0.13, "data-analysis": -0.10},
        prompt=(1000, 4000), output=(80, 500),
    ),
    ModelSpec(
        "openai", "o3", "o3-2025-04-16", 0.87,
        {"coding": 0.06, "research": 0.05, "triage": -0.05, "summarize": -0.08, "data-analysis": 0.09},
        output=(200, 1200), reasoning=(400, 6000),
    ),
    ModelSpec(
        "anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929", 0.90,
        {"coding": 0.07, "research": 0.02, "summarize": 0.03, "triage": -0.02},
        prompt=(2500, 9000), reasoning=(0, 2500),
    ),
    ModelSpec(
        "anthropic", "claude-haiku-4-5", "claude-haiku-4-5-20251001", 0.79,
        {"coding": -0.07, "research": -0.09, "triage": 0.13, "summarize": 0.10},
        prompt=(1200, 5000), output=(100, 600),
    ),
    ModelSpec(
        "gcp.gemini", "gemini-2.5-pro", "gemini-2.5-pro", 0.84,
        {"coding": -0.03, "research": 0.09, "data-analysis": 0.07, "triage": -0.04},
        prompt=(3000, 12000), reasoning=(300, 4000),
    ),
    ModelSpec(
        "gcp.gemini", "gemini-2.5-flash", "gemini-2.5-flash", 0.75,
        {"coding": -0.12, "research": -0.04, "triage": 0.08, "summarize": 0.12, "data-analysis": -0.07},
        prompt=(1500, 8000), output=(100, 700), reasoning=(0, 1500),
    ),
    ModelSpec(
        "mistral_ai", "mistral-large-latest", "mistral-large-latest", 0.72,
        {"coding": -0.10, "research": -0.06, "triage": 0.03, "summarize": 0.08},
        prompt=(1000, 5000), output=(100, 800),
    ),
)  # fmt: skip
MODELS_BY_NAME = {m.model: m for m in MODELS}


@dataclass(frozen=True)
class TaskKind:
    steps: tuple[int, int]
    titles: tuple[str, ...]
    tools: tuple[str, ...]


TASKS: dict[str, TaskKind] = {
    "coding": TaskKind(
        (4, 12),
        (
            "Fix flaky test in {repo}",
            "Implement pagination for the {repo} /orders endpoint",
            "Refactor {repo} config loading",
            "Upgrade {dep} in {repo} and fix the breakages",
            "Add retries to the {repo} webhook sender",
        ),
        ("read_file", "grep", "apply_patch", "run_tests", "git_diff"),
    ),
    "research": TaskKind(
        (3, 10),
        (
            "Compare vector databases for {repo}",
            "Summarize competitor pricing changes this quarter",
            "Find prior art on rate-limit aware schedulers",
            "Survey open issues about {dep} memory leaks",
        ),
        ("web_search", "fetch_url", "read_pdf", "note"),
    ),
    "triage": TaskKind(
        (1, 4),
        (
            "Triage support tickets #{ticket}-#{ticket_end}",
            "Label new GitHub issues in {repo}",
            "Route inbound sales emails",
        ),
        ("fetch_ticket", "classify", "assign", "reply_draft"),
    ),
    "summarize": TaskKind(
        (1, 3),
        (
            "Summarize incident INC-{ticket} for the postmortem",
            "Weekly digest of #{channel}",
            "Summarize call transcript with Acme Corp",
        ),
        ("fetch_thread", "fetch_doc", "write_summary"),
    ),
    "data-analysis": TaskKind(
        (3, 8),
        (
            "Explain the churn spike in {month} cohort",
            "Forecast GPU spend for next quarter",
            "Find anomalies in the billing ledger",
        ),
        ("sql_query", "python", "plot", "read_csv"),
    ),
}

_FILL = {
    "repo": ("billing-api", "checkout-web", "ledger-core", "search-svc", "auth-gateway", "mobile-app"),
    "dep": ("sqlalchemy", "react", "pydantic", "openssl", "grpcio"),
    "channel": ("eng-platform", "customer-escalations", "release-train"),
    "month": ("March", "April", "May", "June"),
}


@dataclass(frozen=True)
class AgentSpec:
    id: str
    name: str
    labels: dict[str, str]
    models: tuple[str, ...]
    kinds: tuple[str, ...]
    activity: float  # relative number of sessions per day


FLEET: tuple[AgentSpec, ...] = (
    AgentSpec("atlas-01", "Atlas", {"team": "platform", "env": "prod"},
              ("claude-sonnet-4-5", "gpt-4.1", "o3"), ("coding",), 1.3),
    AgentSpec("hermes-07", "Hermes", {"team": "research", "env": "prod"},
              ("gemini-2.5-pro", "o3", "claude-sonnet-4-5"), ("research", "summarize"), 1.0),
    AgentSpec("vega-03", "Vega", {"team": "support", "env": "prod"},
              ("claude-haiku-4-5", "gpt-4.1-mini", "gemini-2.5-flash"), ("triage",), 1.6),
    AgentSpec("orion-02", "Orion", {"team": "billing", "env": "prod"},
              ("o3", "gemini-2.5-pro", "gpt-4.1"), ("data-analysis", "research"), 0.9),
    AgentSpec("nova-05", "Nova", {"team": "support", "env": "prod"},
              ("gpt-4.1-mini", "mistral-large-latest", "claude-haiku-4-5"), ("triage", "summarize"), 1.4),
    AgentSpec("lyra-04", "Lyra", {"team": "platform", "env": "staging"},
              ("gpt-4.1", "claude-sonnet-4-5", "mistral-large-latest"), ("coding", "triage"), 0.8),
    AgentSpec("cygnus-09", "Cygnus", {"team": "research", "env": "staging"},
              ("gemini-2.5-flash", "gemini-2.5-pro", "mistral-large-latest"), ("summarize", "research"), 0.9),
    AgentSpec("draco-06", "Draco", {"team": "billing", "env": "prod"},
              ("gpt-4.1", "o3", "claude-haiku-4-5"), ("data-analysis", "triage"), 1.0),
    AgentSpec("phoenix-11", "Phoenix", {"team": "platform", "env": "prod"},
              ("claude-sonnet-4-5", "gemini-2.5-pro", "gpt-4.1-mini"), ("coding", "summarize"), 1.1),
    AgentSpec("titan-08", "Titan", {"team": "data", "env": "prod"},
              ("o3", "gpt-4.1", "gemini-2.5-pro"), ("data-analysis",), 0.7),
    AgentSpec("juno-10", "Juno", {"team": "support", "env": "staging"},
              ("mistral-large-latest", "gemini-2.5-flash", "claude-haiku-4-5"), ("summarize", "triage"), 1.2),
    AgentSpec("sirius-12", "Sirius", {"team": "data", "env": "staging"},
              ("claude-sonnet-4-5", "gpt-4.1-mini", "gemini-2.5-flash"), ("research", "data-analysis"), 0.8),
)  # fmt: skip


def fleet(count: int) -> list[AgentSpec]:
    """``count`` agents: the named roster first, then numbered namesakes (atlas-13, hermes-14, ...)."""
    out = []
    for i in range(count):
        base = FLEET[i % len(FLEET)]
        if i < len(FLEET):
            out.append(base)
        else:
            stem = base.id.rsplit("-", 1)[0]
            out.append(AgentSpec(f"{stem}-{i + 1:02d}", f"{base.name} {i + 1}", base.labels, base.models,
                                 base.kinds, base.activity))  # fmt: skip
    return out


def task_title(rng: random.Random, kind: str) -> str:
    ticket = rng.randint(1000, 9800)
    values = {k: rng.choice(v) for k, v in _FILL.items()}
    return rng.choice(TASKS[kind].titles).format(
        ticket=ticket, ticket_end=ticket + rng.randint(5, 40), **values
    )


# --- provider payloads, each in its own wire format ----------------------------------------------------


def _rid(rng: random.Random, n: int = 24) -> str:
    return "".join(
        rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(n)
    )


def usage_data(rng: random.Random, spec: ModelSpec, step: int, created: int, scale: float = 1.0) -> dict:
    """The ``data`` of a usage event: the provider's whole response body, as its SDK returns it.

    ``step`` grows the prompt (the conversation accumulates) and drives prompt caching; ``scale`` inflates
    prompts (a runaway agent).
    """
    prompt = int(rng.randint(*spec.prompt) * scale + step * rng.randint(400, 1800) * scale)
    output = rng.randint(*spec.output)
    thinking = rng.randint(*spec.reasoning) if spec.reasoning else 0
    build = _BUILDERS[spec.provider]
    return {"provider": spec.provider, "response": build(rng, spec, step, created, prompt, output, thinking)}


def _openai(rng, spec, step, created, prompt, output, thinking) -> dict[str, Any]:
    # Automatic prefix caching: only prompts over 1024 tokens, in 128-token increments, after the first call.
    cached = (int(prompt * rng.uniform(0.5, 0.9)) // 128) * 128 if step and prompt > 1024 else 0
    completion = output + thinking  # completion_tokens INCLUDES reasoning_tokens
    return {
        "id": f"chatcmpl-{_rid(rng)}",
        "object": "chat.completion",
        "created": created,
        "model": spec.wire_model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "..."}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": thinking,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": f"fp_{_rid(rng, 10).lower()}",
    }


def _anthropic(rng, spec, step, created, prompt, output, thinking) -> dict[str, Any]:
    # The system prompt and tools are cached: written on the first call, read on the following ones.
    system = min(prompt - 50, rng.randint(1500, 4000))
    write = system if step == 0 else rng.choice((0, 0, 0, rng.randint(200, 900)))
    read = 0 if step == 0 else int((prompt - write) * rng.uniform(0.6, 0.92))
    uncached = max(1, prompt - write - read)  # input_tokens EXCLUDES cache reads and writes
    usage: dict[str, Any] = {
        "input_tokens": uncached,
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": write, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output + thinking,  # output INCLUDES thinking
        "service_tier": "standard",
    }
    content = [{"type": "text", "text": "..."}]
    if thinking:
        content.insert(0, {"type": "thinking", "thinking": "...", "signature": _rid(rng, 16)})
    return {
        "id": f"msg_{_rid(rng)}",
        "type": "message",
        "role": "assistant",
        "model": spec.wire_model,
        "content": content,
        "stop_reason": rng.choice(("end_turn", "end_turn", "tool_use")),
        "stop_sequence": None,
        "usage": usage,
    }


def _gemini(rng, spec, step, created, prompt, output, thinking) -> dict[str, Any]:
    # Implicit caching on 2.5 models: promptTokenCount INCLUDES cachedContentTokenCount.
    cached = int(prompt * rng.uniform(0.3, 0.8)) if step and rng.random() < 0.7 else 0
    meta: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,  # EXCLUDES thoughtsTokenCount
        "totalTokenCount": prompt + output + thinking,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        "trafficType": "ON_DEMAND",
    }
    if thinking:
        meta["thoughtsTokenCount"] = thinking
    if cached:
        meta["cachedContentTokenCount"] = cached
        meta["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "..."}]}, "finishReason": "STOP", "index": 0}
        ],
        "modelVersion": spec.wire_model,
        "responseId": _rid(rng, 22),
        "usageMetadata": meta,
    }


def _mistral(rng, spec, step, created, prompt, output, thinking) -> dict[str, Any]:
    return {
        "id": _rid(rng, 32).lower(),
        "object": "chat.completion",
        "created": created,
        "model": spec.wire_model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "...", "prefix": False},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output},
    }


_BUILDERS = {"openai": _openai, "anthropic": _anthropic, "gcp.gemini": _gemini, "mistral_ai": _mistral}


# --- logs and outcomes --------------------------------------------------------------------------------

_TOOL_ARGS = ("src/orders/api.py", "'rate limiter'", "ticket 4821", "SELECT count(*) FROM invoices", "q3.csv")
_WARNINGS = (
    ("{provider} returned 429 Too Many Requests; retrying in {secs:.1f}s", {"retry": True}),
    ("context window {pct}% full; compacting history", {}),
    ("tool {tool} slow: {secs:.1f}s", {}),
    ("model output failed JSON schema validation; asking again", {}),
    ("{provider} latency high: {ms} ms to first token", {}),
)
FAILURES = (
    "ToolError: run_tests exited 1: 3 failed, 41 passed",
    "RateLimitError: 429 Too Many Requests from {provider} after 5 retries",
    "OutputValidationError: response does not match schema TriageResult (missing 'priority')",
    "ContextWindowExceeded: prompt of {tokens} tokens exceeds the model's context window",
    "APIError: 503 Service Unavailable from {provider}",
    'ToolError: sql_query failed: relation "orders_2024" does not exist',
    "PermissionError: tool fetch_url blocked by egress policy for docs.internal",
)
# Kills of ordinary sessions. The budget guard's kill is the runaway story's alone (runaway_plan): it names a
# spend only that session reaches (a $0.02 session "over $5.00" read as a lie).
KILLS = (
    "killed by operator: runaway token spend",
    "killed by operator: duplicate of another agent's task",
    "killed by operator: wrong repository",
)
BUDGET_KILL = "killed by budget guard: session spend over $5.00"
TIMEOUTS = ("step exceeded the 300 s wall-clock budget", "no progress for 15 min: watchdog timeout")


def step_logs(rng: random.Random, spec: ModelSpec, kind: str, step: int, steps: int) -> list[tuple]:
    """(level, message, attrs) lines one step writes: what it does, the tools it calls, the odd warning."""
    tool = rng.choice(TASKS[kind].tools)
    ms = rng.randint(40, 4000)
    lines: list[tuple] = [
        ("info", f"step {step + 1}/{steps}: calling {spec.model}", {"step": step + 1, "model": spec.model}),
        (
            "info",
            f"tool call {tool}({rng.choice(_TOOL_ARGS)}) -> ok in {ms} ms",
            {"tool": tool, "duration_ms": ms},
        ),
    ]
    if rng.random() < 0.25:
        lines.append(("debug", f"prompt cache hit {rng.randint(40, 95)}%", {"step": step + 1}))
    if rng.random() < 0.12:
        template, attrs = rng.choice(_WARNINGS)
        message = template.format(
            provider=spec.provider, secs=rng.uniform(0.5, 12), pct=rng.randint(70, 96), tool=tool, ms=ms * 3
        )
        lines.append(("warning", message, {**attrs, "step": step + 1} if attrs else {"step": step + 1}))
    return lines


@dataclass(frozen=True)
class Outcome:
    status: str  # succeeded, failed, killed, timeout
    error: str | None
    at_step: int  # the step the session stops after (the last step for a success)


def outcome(rng: random.Random, spec: ModelSpec, kind: str, steps: int, penalty: float = 0.0) -> Outcome:
    """How a session ends. ``penalty`` lowers the success rate (an incident)."""
    if rng.random() < spec.success_rate(kind) - penalty:
        return Outcome("succeeded", None, steps - 1)
    at = rng.randrange(steps)
    r = rng.random()
    if r < 0.08:
        return Outcome("killed", rng.choice(KILLS), at)
    if r < 0.20:
        return Outcome("timeout", rng.choice(TIMEOUTS), at)
    error = rng.choice(FAILURES).format(provider=spec.provider, tokens=f"{rng.randint(200, 1100) * 1000:,}")
    return Outcome("failed", error, at)


# --- a session's plan, shared by the seeded history and the live fleet ---------------------------------


@dataclass(frozen=True)
class SessionPlan:
    spec: ModelSpec
    kind: str
    task: str
    steps: int
    outcome: Outcome
    scale: float = 1.0  # prompt inflation: > 1 for a runaway session


def pick_model(rng: random.Random, agent: AgentSpec) -> ModelSpec:
    # Agents lean on their first model and try the others now and then.
    weights = (0.55, 0.3, 0.15)[: len(agent.models)]
    return MODELS_BY_NAME[rng.choices(agent.models, weights=weights)[0]]


def plan_session(rng: random.Random, agent: AgentSpec, *, penalty: float = 0.0) -> SessionPlan:
    spec = pick_model(rng, agent)
    kind = rng.choice(agent.kinds)
    steps = rng.randint(*TASKS[kind].steps)
    return SessionPlan(spec, kind, task_title(rng, kind), steps, outcome(rng, spec, kind, steps, penalty))


def runaway_plan(rng: random.Random, agent: AgentSpec) -> SessionPlan:
    """A session that loops, re-reading ever larger contexts, until the budget guard kills it."""
    spec = MODELS_BY_NAME[agent.models[0]]
    steps = rng.randint(25, 35)
    end = Outcome("killed", BUDGET_KILL, steps - 1)
    return SessionPlan(spec, agent.kinds[0], task_title(rng, agent.kinds[0]), steps, end, scale=6.0)


def final_log(plan: SessionPlan) -> tuple[str, str]:
    """The (level, message) a session writes as it ends."""
    o = plan.outcome
    if o.status == "succeeded":
        return "info", f"task complete after {plural(o.at_step + 1, 'step')}: {plan.task}"
    if o.status == "killed":
        return "warning", f"received kill command; stopping ({o.error})"
    if o.status == "timeout":
        return "error", f"timeout: {o.error}"
    return "error", f"session failed: {o.error}"
