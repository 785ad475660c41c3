"""API bearer tokens: generation, hashing, scopes.

Tokens are 256-bit random values, so a plain SHA-256 is the right hash (a slow password hash buys nothing
against a value nobody can guess, and would cost milliseconds on every ingest request). The database keeps
only the hash; lookups go by hash and the final comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SCOPES = ("ingest", "read", "control", "admin")
TOKEN_PREFIX = "hc_"


class ScopeError(ValueError):
    pass


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def display_prefix(token: str) -> str:
    """The first characters, enough for an operator to tell tokens apart in a list."""
    return token[:10]


def tokens_match(stored_hash: str, presented: str) -> bool:
    return hmac.compare_digest(stored_hash, hash_token(presented))


def parse_scopes(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    scopes = tuple(dict.fromkeys(s.strip() for s in items if s.strip()))
    if not scopes:
        raise ScopeError(f"at least one scope is needed: {', '.join(SCOPES)}")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ScopeError(f"unknown scope {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    return scopes


def has_scope(granted: tuple[str, ...] | list[str], needed: str) -> bool:
    # admin implies every other scope: an admin token can do what any token can.
    return needed in granted or "admin" in granted
