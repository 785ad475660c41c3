"""Managing dashboard users from the HUD (admins): create one, deactivate or reactivate one. The rules live
here, not in the page: names are plain, passwords long enough, an admin cannot lock themselves out and the
last active admin stays, and every change (and every refusal) is in the audit log."""

from __future__ import annotations

import re

from helicarrier.actors import Actor
from helicarrier.auth.passwords import ROLES, PasswordError
from helicarrier.data.queries.users import UserExists, UserInfo

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")


class UserAdminError(ValueError):
    """Why the change was refused, in one sentence for the form."""


def _audit(repo, admin: Actor, action: str, outcome: str, username: str, details: dict | None = None) -> None:
    repo.record_audit(
        actor=admin.name, actor_kind=admin.kind, role=admin.role, action=action, outcome=outcome,
        target_kind="user", target_id=username[:100], details=details,
    )  # fmt: skip


def create_user(repo, admin: Actor, username: str | None, password: str | None, role: str | None) -> UserInfo:
    username = (username or "").strip()
    try:
        if not USERNAME.fullmatch(username):
            raise UserAdminError("A user name is letters, digits and . _ @ - (at most 100), starting plain.")
        if role not in ROLES:
            raise UserAdminError(f"Pick a role: {', '.join(ROLES)}.")
        try:
            info = repo.create_user(username, password or "", role)
        except (PasswordError, UserExists) as exc:
            message = str(exc)
            raise UserAdminError(message[:1].upper() + message[1:] + ".") from None
    except UserAdminError as exc:
        _audit(repo, admin, "user.create", "refused", username, {"reason": str(exc)})
        raise
    _audit(repo, admin, "user.create", "ok", username, {"role": role})
    return info


def set_active(repo, admin: Actor, username: str, active: bool) -> None:
    action = "user.reactivate" if active else "user.deactivate"
    try:
        user = repo.get_user(username)
        if user is None:
            raise UserAdminError(f"No user named {username!r}.")
        if not active and username == admin.name:
            raise UserAdminError("You cannot deactivate yourself: ask another admin.")
        admins = [u for u in repo.list_users() if u.role == "admin" and not u.disabled]
        if not active and user.role == "admin" and len(admins) <= 1:
            raise UserAdminError("The last active admin stays: make another admin first.")
    except UserAdminError as exc:
        _audit(repo, admin, action, "refused", username, {"reason": str(exc)})
        raise
    repo.set_user_disabled(username, not active)
    _audit(repo, admin, action, "ok", username)
