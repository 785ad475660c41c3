"""Which token owns which agent: the questions and writes of binding (the rule: ``auth.binding``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from helicarrier.data.bulk import rows_for_keys
from helicarrier.data.models import Agent, ApiToken
from helicarrier.data.queries.base import QueryBase
from helicarrier.data.unit import TxBase


class AgentTx(TxBase):
    def agent_owners(self, agent_ids: Iterable[str]) -> dict[str, int | None]:
        """The owner token of each agent that exists (unknown agents are left out)."""
        rows = rows_for_keys(
            self.conn, "SELECT id, owner_token_id FROM agents WHERE id IN ({keys})", sorted(set(agent_ids))
        )
        return dict(rows)

    def claim_agents(self, agent_ids: list[str], token_id: int, now: datetime) -> None:
        """Make ``token_id`` the owner of these agents where nobody owns them; agents not seen before are
        created owned. Guarded, so a concurrent claim by another token wins or loses as a whole row."""
        ids = sorted(set(agent_ids))
        ins = (postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert)(Agent)
        self.conn.execute(
            ins.on_conflict_do_nothing(index_elements=["id"]),
            [
                {
                    "id": a,
                    "name": a,
                    "status": "idle",
                    "first_seen_at": now,
                    "updated_at": now,
                    "owner_token_id": token_id,
                    "owner_since": now,
                }
                for a in ids
            ],
        )
        self.conn.execute(
            update(Agent)
            .where(Agent.id.in_(ids), Agent.owner_token_id.is_(None))
            .values(owner_token_id=token_id, owner_since=now)
        )

    def set_agent_owner(self, agent_id: str, token_id: int | None, now: datetime) -> bool:
        stmt = update(Agent).where(Agent.id == agent_id)
        return self.conn.execute(stmt.values(owner_token_id=token_id, owner_since=now)).rowcount == 1


class AgentQueries(QueryBase):
    def agent_owner(self, agent_id: str) -> tuple[bool, int | None, str | None]:
        """(the agent exists, its owner token's id, that token's name)."""
        stmt = (
            select(Agent.owner_token_id, ApiToken.name)
            .outerjoin(ApiToken, ApiToken.id == Agent.owner_token_id)
            .where(Agent.id == agent_id)
        )
        with self._read() as conn:
            row = conn.execute(stmt).one_or_none()
        return (False, None, None) if row is None else (True, row[0], row[1])
