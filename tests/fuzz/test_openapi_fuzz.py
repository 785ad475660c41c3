"""Schemathesis against the real app's generated OpenAPI document (``GET /api/v1/openapi.json``, served by
the WSGI app itself): every operation, with a token of every scope and with each narrower one, positive and
negative examples. No answer may be a 5xx, and every answer must have a documented status, content type,
headers and body.

A short run is part of ``make test``: SQLite only (the HTTP layer under test is the same on both backends),
a few examples per operation, derandomized so that it is the same run every time. ``make fuzz`` runs
``HELICARRIER_FUZZ_EXAMPLES`` examples per operation, mode and scope, randomized, on both backends.
docs/reliability.md ("Fuzzing") has the figures and what the runs found.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import BACKENDS

EXAMPLES = int(os.environ.get("HELICARRIER_FUZZ_EXAMPLES", "0"))
LONG_RUN = EXAMPLES > 0
SCOPES = {
    "all": "ingest,read,control,admin",
    "ingest": "ingest",
    "read": "read",
    "control": "control",
    "admin": "admin",
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def examples_for(scope: str) -> int:
    """The short run gives the all-scopes token most examples: narrower tokens mostly meet a 403."""
    return EXAMPLES or (6 if scope == "all" else 2)


def hold_briefly(case) -> None:
    """A valid ``wait`` holds the poll up to 30 s: keep it to a blink, so that examples test answers, not
    patience (invalid ones: text, NaN, negative, are sent as generated)."""
    wait = (case.query or {}).get("wait")
    if isinstance(wait, int | float) and not isinstance(wait, bool) and wait > 0.05:
        case.query["wait"] = 0.05


def describe(exc: BaseException) -> str:
    """The failed checks and the request that made them (schemathesis raises a group of them)."""
    parts = [str(exc).strip()[:1500]]
    parts += [f"- {type(sub).__name__}: {str(sub).strip()[:800]}" for sub in getattr(exc, "exceptions", ())]
    return "\n".join(parts)


def fuzz_operation(op, mode: GenerationMode, headers: dict[str, str], examples: int, statuses: Counter):
    """Hypothesis over one operation's generated cases; raises what the checks found."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not LONG_RUN,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case):
        hold_briefly(case)
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


# The short run (in `make test`) is SQLite only; `make fuzz` runs both backends.
@pytest.mark.parametrize("backend", BACKENDS if LONG_RUN else ["sqlite"], indirect=True)
@pytest.mark.parametrize("scope", list(SCOPES))
def test_every_operation_answers_as_documented(app, make_token, backend, scope):
    headers = {"Authorization": f"Bearer {make_token(f'fuzz-{scope}', SCOPES[scope])}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app.server)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    started, statuses, failures = time.monotonic(), Counter(), []
    for op in operations:
        for mode in MODES:
            try:
                fuzz_operation(op, mode, headers, examples_for(scope), statuses)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - all operations run, then report
                failures.append(f"{op.label} ({mode.value}, scope {scope}): {describe(exc)}")
    seconds = time.monotonic() - started
    print(
        f"\nfuzz[{backend}, {scope}]: {len(operations)} operations, {sum(statuses.values())} requests "
        f"in {seconds:.1f} s; statuses {dict(sorted(statuses.items()))}; {len(failures)} failing"
    )
    assert not failures, "\n\n".join(failures)
