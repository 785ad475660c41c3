"""Who speaks for an agent, decided in one place for every path an agent's words come by (the ingest API,
command polls and answers, OTLP, hooks): the binding rule is ``helicarrier.auth.binding``; this applies it
in the caller's transaction, claims what may be claimed, audits what is refused, and re-assigns."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from helicarrier.actors import Actor
from helicarrier.auth.binding import Speaker, verdict
from helicarrier.data.queries.agents import AgentTx
from helicarrier.data.repository import Repository
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused

NOT_BOUND = "agent_not_bound"


def not_bound(speaker: Speaker, agent_id: str) -> Refused:
    return Refused(
        403,
        NOT_BOUND,
        f"token {speaker.token_name!r} does not speak for agent {agent_id!r}",
        {"agent_id": agent_id},
    )


class FleetService:
    def __init__(self, repo: Repository):
        self.repo = repo

    def speak_for(self, tx: AgentTx, speaker: Speaker, agent_ids: Iterable[str], now: datetime) -> set[str]:
        """Claim the agents the speaker may claim; return those it may not speak for (owned by another
        token, or outside its globs)."""
        if speaker.trusted:
            return set()
        ids = sorted(set(agent_ids))
        owners = tx.agent_owners(ids)
        claim = [a for a in ids if verdict(speaker, a, owners.get(a)) == "claim"]
        if claim:
            tx.claim_agents(claim, speaker.token_id, now)
            owners = tx.agent_owners(ids)  # a concurrent claim by another token may have won
        return {a for a in ids if owners.get(a) != speaker.token_id}

    def require(self, speaker: Speaker, agent_id: str, action: str, remote_addr: str | None = None) -> None:
        """The speaker must own the agent (claiming it when it may): else 403 agent_not_bound, audited."""
        with self.repo.transaction() as tx:
            refused = self.speak_for(tx, speaker, [agent_id], utcnow())
        if refused:
            self.audit_refusal(speaker, refused, action, remote_addr)
            raise not_bound(speaker, agent_id)

    def audit_refusal(
        self, speaker: Speaker, agent_ids: Iterable[str], action: str, remote_addr: str | None = None
    ) -> None:
        for agent_id in sorted(agent_ids):
            self.repo.record_audit(
                actor=f"token:{speaker.token_name}",
                actor_kind="token",
                action=action,
                outcome="refused",
                target_kind="agent",
                target_id=agent_id,
                reason=NOT_BOUND,
                remote_addr=remote_addr,
            )

    def reassign(self, actor: Actor, agent_id: str, token_name: str | None) -> str | None:
        """Give the agent to another token (None: to the next token that reports for it). Audited."""
        token = None
        if token_name is not None:
            token = self.repo.token_named(token_name)
            if token is None or token.revoked_at is not None:
                raise Refused.invalid("token", f"no live token named {token_name!r}", code="unknown_token")
        exists, before, before_name = self.repo.agent_owner(agent_id)
        if not exists:
            raise Refused(404, "unknown_agent", f"no agent {agent_id!r}")
        with self.repo.transaction() as tx:
            tx.set_agent_owner(agent_id, token and token.id, utcnow())
            tx.audit(
                actor,
                "agent.owner",
                "ok",
                target_kind="agent",
                target_id=agent_id,
                details={"from": before_name, "to": token_name},
            )
        return token_name
