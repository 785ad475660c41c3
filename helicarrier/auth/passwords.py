"""User passwords and roles."""

from __future__ import annotations

import secrets
from functools import lru_cache

from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("viewer", "operator", "admin")
_RANK = {role: i for i, role in enumerate(ROLES)}
MIN_PASSWORD_LENGTH = 8


class PasswordError(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    # scrypt: werkzeug's default slow hash; memory-hard, no extra dependency.
    return generate_password_hash(password, method="scrypt")


def verify_password(stored_hash: str, password: str) -> bool:
    return check_password_hash(stored_hash, password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method="scrypt")


def dummy_password_check(password: str) -> None:
    """The work of checking a password, for a user that does not exist: refusing an unknown name must take
    as long as refusing a wrong password, or the timing tells which names exist."""
    check_password_hash(_dummy_hash(), password)


def role_allows(role: str | None, needed: str) -> bool:
    """Roles are ordered: viewer < operator < admin; each can do what the ones below it can."""
    if role not in _RANK:
        return False
    return _RANK[role] >= _RANK[needed]
