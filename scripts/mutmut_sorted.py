"""`mutmut` (3.8.1) with the fork server running each mutant's tests fastest first.

Usage: the same arguments as `mutmut`, e.g. `python scripts/mutmut_sorted.py run --max-children 2 NAME...`.

mutmut's default fork runner sorts a mutant's tests by their recorded call time before running them;
its fork server (`process_isolation = "forkserver"` in pyproject.toml, which this project needs: see
docs/reliability.md) sends them in the order of a Python set, different in every run. A mutant that a
unit test kills in milliseconds then often runs the ingest API tests and the import's subprocess first:
on 2026-12-05 the price book's killed mutants took about 2 minutes each under load, and a few seconds
with this sort. The verdicts do not depend on the order; only the time does.
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from typing import Any

from mutmut.__main__ import cli
from mutmut.state import state
from mutmut.workers import isolation

_PATCHED_FOR = "3.8.1"
if version("mutmut") != _PATCHED_FOR:
    sys.exit(f"scripts/mutmut_sorted.py patches mutmut {_PATCHED_FOR}'s internals; found {version('mutmut')}")

_submit = isolation.ForkServerRunner.submit


def _submit_fastest_first(
    self: Any, mutant_name: str, tests: list[str], cpu_time_limit: int, estimated_time: float
) -> None:
    durations = state().duration_by_test
    ordered = sorted(tests, key=lambda test: (durations.get(test, 0.0), test))
    _submit(self, mutant_name, ordered, cpu_time_limit, estimated_time)


isolation.ForkServerRunner.submit = _submit_fastest_first  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.argv[0] = "mutmut"
    cli()
