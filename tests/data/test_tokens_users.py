"""API tokens and users in the repository, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from helicarrier.auth.tokens import ScopeError, hash_token
from helicarrier.data.models import ApiToken, User
from helicarrier.data.queries.tokens import TokenExists
from helicarrier.data.queries.users import UserExists


def test_token_is_stored_only_as_hash(repo):
    token, info = repo.create_token("agent-host-1", "ingest,read")
    assert info.scopes == ("ingest", "read")
    with repo.engine.connect() as conn:
        rows = conn.execute(select(ApiToken)).all()
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0]._mapping.values())
    assert token not in stored
    assert rows[0].token_hash == hash_token(token)


def test_authenticate_and_revoke(repo):
    token, _ = repo.create_token("t", ["ingest"])
    found = repo.authenticate_token(token)
    assert found is not None and found.name == "t"
    assert repo.authenticate_token(token + "x") is None
    assert repo.authenticate_token("") is None
    assert repo.list_tokens()[0].last_used_at is not None
    assert repo.revoke_token("t") is True
    assert repo.authenticate_token(token) is None
    assert repo.revoke_token("t") is False


def test_bad_scopes_and_duplicate_names_are_refused(repo):
    with pytest.raises(ScopeError, match="unknown scope superuser"):
        repo.create_token("x", "ingest,superuser")
    with pytest.raises(ScopeError):
        repo.create_token("x", "")
    repo.create_token("x", "read")
    with pytest.raises(TokenExists):
        repo.create_token("x", "read")
    assert [t.name for t in repo.list_tokens()] == ["x"]


def test_users_passwords_are_slow_hashed(repo):
    repo.create_user("ana", "correct horse", "viewer")
    with repo.engine.connect() as conn:
        stored = conn.execute(select(User.password_hash)).scalar_one()
    assert stored.startswith("scrypt:") and "correct horse" not in stored
    assert repo.check_login("ana", "correct horse").role == "viewer"
    assert repo.check_login("ana", "wrong password") is None
    assert repo.check_login("nobody", "correct horse") is None
    with pytest.raises(UserExists):
        repo.create_user("ana", "another password", "admin")
    with pytest.raises(ValueError, match="unknown role"):
        repo.create_user("bo", "password123", "god")
