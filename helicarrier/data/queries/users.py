"""Dashboard users."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from helicarrier.auth.passwords import ROLES, dummy_password_check, hash_password, verify_password
from helicarrier.data.models import LoginThrottle, User
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.types import utcnow


class UserExists(ValueError):
    pass


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    role: str
    disabled: bool
    session_generation: int = 0


def _info(row) -> UserInfo:
    return UserInfo(row.id, row.username, row.role, row.disabled, row.session_generation or 0)


class UserQueries(QueryBase):
    def create_user(self, username: str, password: str, role: str) -> UserInfo:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; known: {', '.join(ROLES)}")
        values = dict(
            username=username, password_hash=hash_password(password), role=role, created_at=utcnow()
        )
        try:
            with self._write() as conn:
                conn.execute(insert(User).values(**values))
        except IntegrityError as exc:
            raise UserExists(f"a user named {username!r} already exists") from exc
        user = self.get_user(username)
        assert user is not None
        return user

    def get_user(self, username: str) -> UserInfo | None:
        with self._read() as conn:
            row = conn.execute(select(User).where(User.username == username)).one_or_none()
        return None if row is None else _info(row)

    def count_users(self) -> int:
        with self._read() as conn:
            return conn.execute(select(func.count()).select_from(User)).scalar_one()

    def check_login(self, username: str, password: str) -> UserInfo | None:
        with self._read() as conn:
            row = conn.execute(select(User).where(User.username == username)).one_or_none()
        if row is None:
            dummy_password_check(password)  # an unknown name takes as long to refuse as a wrong password
            return None
        if row.disabled or not verify_password(row.password_hash, password):
            return None
        with self._write() as conn:
            conn.execute(update(User).where(User.id == row.id).values(last_login_at=utcnow()))
        return _info(row)

    def end_sessions(self, username: str) -> None:
        """Every session cookie of the user stops working (sign-out, password change)."""
        with self._write() as conn:
            conn.execute(
                update(User)
                .where(User.username == username)
                .values(session_generation=User.session_generation + 1)
            )

    def set_password(self, username: str, password: str) -> bool:
        """A new password; the user's sessions end. False when there is no such user."""
        digest = hash_password(password)
        with self._write() as conn:
            done = conn.execute(
                update(User)
                .where(User.username == username)
                .values(password_hash=digest, session_generation=User.session_generation + 1)
            ).rowcount
        return done == 1

    def set_user_disabled(self, username: str, disabled: bool) -> bool:
        """Deactivate (its session cookies stop working at once) or reactivate a user; False when there is
        no such user."""
        values: dict = {"disabled": disabled}
        if disabled:
            values["session_generation"] = User.session_generation + 1
        with self._write() as conn:
            done = conn.execute(update(User).where(User.username == username).values(**values)).rowcount
        return done == 1

    def list_users(self) -> list[UserInfo]:
        with self._read() as conn:
            rows = conn.execute(select(User).order_by(User.username)).all()
        return [_info(r) for r in rows]

    def claim_login_try(self, username: str, remote_addr: str, now: datetime, delay_after) -> int:
        """Count a sign-in try for (username, address) before its password is checked, atomically: returns
        0 when it may go ahead, else the seconds to wait. ``delay_after(failures)``: the policy."""
        key = {"username": username[:100], "remote_addr": (remote_addr or "?")[:64]}
        with self._write() as conn:
            ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(LoginThrottle)
            conn.execute(
                ins.values(**key, failures=0, next_allowed_at=now, updated_at=now).on_conflict_do_nothing()
            )
            lock = select(LoginThrottle).where(*(getattr(LoginThrottle, k) == v for k, v in key.items()))
            if conn.dialect.name == "postgresql":
                lock = lock.with_for_update()  # SQLite: BEGIN IMMEDIATE already serializes writers
            row = conn.execute(lock).one()
            if row.next_allowed_at > now:
                return max(1, math.ceil((row.next_allowed_at - now).total_seconds()))
            failures = row.failures + 1
            conn.execute(
                update(LoginThrottle)
                .where(*(getattr(LoginThrottle, k) == v for k, v in key.items()))
                .values(
                    failures=failures,
                    next_allowed_at=now + timedelta(seconds=delay_after(failures)),
                    updated_at=now,
                )
            )
        return 0

    def clear_login_tries(self, username: str, remote_addr: str) -> None:
        """A successful sign-in: the pair starts afresh (and old rows of anyone are forgotten)."""
        with self._write() as conn:
            conn.execute(
                delete(LoginThrottle).where(
                    LoginThrottle.username == username[:100],
                    LoginThrottle.remote_addr == (remote_addr or "?")[:64],
                )
            )
            conn.execute(delete(LoginThrottle).where(LoginThrottle.updated_at < utcnow() - timedelta(days=1)))
