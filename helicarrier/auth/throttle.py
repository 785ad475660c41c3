"""How long a failed sign-in makes the next one wait, per username and client address: a few quick tries,
then doubling waits up to a cap. Keyed on both, so nobody can lock a user out from another address, and an
address cannot try many users at speed either (each pair waits on its own; see docs/security.md)."""

from __future__ import annotations

FREE_TRIES = 3
MAX_DELAY_S = 900


def delay_after(failures: int) -> int:
    """Seconds before the next try is allowed, after ``failures`` counted tries: 0, 0, 1, 2, 4 ... 900 —
    three quick tries, then each one doubles the wait."""
    if failures < FREE_TRIES:
        return 0
    return min(2 ** (failures - FREE_TRIES), MAX_DELAY_S)
