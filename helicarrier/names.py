"""One display name per model and per agent, wherever the HUD shows them.

Providers answer with dated model ids (``claude-sonnet-4-5-20250929``, ``gpt-4.1-2025-04-14``) while
agents ask for the short one (``claude-sonnet-4-5``): the usage charts (grouped by what the provider
answered) and the Ledger (what the session asked for) named one model two ways. The short id is shown, the
dated id on hover. Agents are shown by name, their id on hover. Plain functions the callbacks call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# A trailing release date: -2025-04-14 (OpenAI), -20250929 (Anthropic), @20240620 (Vertex AI).
_DATED = re.compile(r"(?:-\d{4}-\d{2}-\d{2}|[-@]\d{8})$")


def short_model(model: str | None) -> str:
    """The model id without its release date; ids without one are unchanged."""
    if not model:
        return model or ""
    short = _DATED.sub("", model)
    return short or model


def model_labels(models: Iterable[str]) -> dict[str, str]:
    """Each model id -> its display name. Dated ids of one model share the short name (one model, one
    name and one colour: their figures are summed where a chart stacks them)."""
    return {m: short_model(m) for m in models}


def agent_labels(agent_ids: Iterable[str], names: Mapping[str, str]) -> dict[str, str]:
    """Each agent id -> its name; the id where it has none, or where two agents share the name (two
    agents are never summed as one)."""
    ids = list(dict.fromkeys(agent_ids))
    named = {a: (names.get(a) or "").strip() or a for a in ids}
    seen: dict[str, int] = {}
    for label in named.values():
        seen[label] = seen.get(label, 0) + 1
    return {a: label if seen[label] == 1 or label == a else f"{label} ({a})" for a, label in named.items()}


def hover_ids(labels: Mapping[str, str]) -> dict[str, str]:
    """Display name -> the ids behind it, for the hover ("" where the name is the id itself)."""
    out: dict[str, list[str]] = {}
    for raw, label in labels.items():
        out.setdefault(label, []).append(raw)
    return {label: ", ".join(sorted(r for r in raws if r != label)) for label, raws in out.items()}


def row_labels(models: Iterable[str]) -> dict[str, str]:
    """Display names for rows that stay apart (the model matrix scores each id on its own samples): the
    short id, except where two rows would share it."""
    ids = list(dict.fromkeys(models))
    shorts = [short_model(m) for m in ids]
    return {m: s if shorts.count(s) == 1 else m for m, s in zip(ids, shorts, strict=True)}
