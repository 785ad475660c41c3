"""Dashboard users."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from helicarrier.auth.passwords import ROLES, hash_password, verify_password
from helicarrier.data.models import User
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
        return None if row is None else UserInfo(row.id, row.username, row.role, row.disabled)

    def count_users(self) -> int:
        with self._read() as conn:
            return conn.execute(select(func.count()).select_from(User)).scalar_one()

    def check_login(self, username: str, password: str) -> UserInfo | None:
        with self._read() as conn:
            row = conn.execute(select(User).where(User.username == username)).one_or_none()
        if row is None or row.disabled or not verify_password(row.password_hash, password):
            return None
        with self._write() as conn:
            conn.execute(update(User).where(User.id == row.id).values(last_login_at=utcnow()))
        return UserInfo(row.id, row.username, row.role, row.disabled)

    def list_users(self) -> list[UserInfo]:
        with self._read() as conn:
            rows = conn.execute(select(User).order_by(User.username)).all()
        return [UserInfo(r.id, r.username, r.role, r.disabled) for r in rows]
