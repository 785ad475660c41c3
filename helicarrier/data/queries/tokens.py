"""API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from helicarrier.auth.binding import Speaker, parse_agent_patterns
from helicarrier.auth.tokens import display_prefix, generate_token, hash_token, parse_scopes, tokens_match
from helicarrier.data.models import ApiToken
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.types import utcnow

# Touch last_used_at at most this often, so that a busy ingest token does not turn every request into an
# extra UPDATE.
_LAST_USED_RESOLUTION = timedelta(seconds=60)


class TokenExists(ValueError):
    pass


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    agents: tuple[str, ...] | None = None  # the agents it may claim (globs); None: any unowned agent

    @property
    def speaker(self) -> Speaker:
        return Speaker(self.id, self.name, self.agents)


def _info(row) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes.split(",")),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        agents=parse_agent_patterns(row.agents),
    )


class TokenQueries(QueryBase):
    def create_token(
        self, name: str, scopes: str | list[str] | tuple[str, ...], agents: str | None = None
    ) -> tuple[str, TokenInfo]:
        """Create a token and return (the token itself, its info). The token is not stored anywhere.
        ``agents``: the globs of the agents it may claim (comma-separated); None: any unowned agent."""
        scope_list = parse_scopes(scopes)
        patterns = parse_agent_patterns(agents)
        token = generate_token()
        values = dict(
            name=name,
            prefix=display_prefix(token),
            token_hash=hash_token(token),
            scopes=",".join(scope_list),
            agents=",".join(patterns) if patterns else None,
            created_at=utcnow(),
        )
        try:
            with self._write() as conn:
                conn.execute(insert(ApiToken).values(**values))
                row = conn.execute(select(ApiToken).where(ApiToken.name == name)).one()
        except IntegrityError as exc:
            raise TokenExists(f"a token named {name!r} already exists") from exc
        return token, _info(row)

    def token_named(self, name: str) -> TokenInfo | None:
        with self._read() as conn:
            row = conn.execute(select(ApiToken).where(ApiToken.name == name)).one_or_none()
        return None if row is None else _info(row)

    def list_tokens(self) -> list[TokenInfo]:
        with self._read() as conn:
            return [_info(r) for r in conn.execute(select(ApiToken).order_by(ApiToken.id))]

    def revoke_token(self, name: str) -> bool:
        with self._write() as conn:
            result = conn.execute(
                update(ApiToken)
                .where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            return result.rowcount == 1

    def authenticate_token(self, token: str) -> TokenInfo | None:
        """The live token matching ``token``, or None (unknown or revoked)."""
        digest = hash_token(token)
        with self._read() as conn:
            row = conn.execute(select(ApiToken).where(ApiToken.token_hash == digest)).one_or_none()
        if row is None or row.revoked_at is not None or not tokens_match(row.token_hash, token):
            return None
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at > _LAST_USED_RESOLUTION:
            with self._write() as conn:
                conn.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        return _info(row)
