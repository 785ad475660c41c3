"""The stuck-loop sentinel, without Flask or Dash: one cycle reads what the watched agents reported, runs the
detectors, records findings with their evidence, and climbs the escalation ladder (``ladder``) through the
control service, as an operator's command would go. The scheduler's leader runs ``run_cycle`` every
``HELICARRIER_SENTINEL_S``; tests call it with an explicit ``now``.

Guards, each on its own line below: a patient agent (a ``waiting`` heartbeat with an expected duration not yet
passed) is not examined; an exempted agent gets no action; after a steer or kill, the same detector takes no
action on the same agent again until the cool-down has passed; nothing climbs above the agent's policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from helicarrier.actors import SENTINEL, Actor
from helicarrier.control.service import ControlService
from helicarrier.data.repository import Repository
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused
from helicarrier.sentinel import detectors
from helicarrier.sentinel.detectors import Detection
from helicarrier.sentinel.ladder import ACTIONS, next_step
from helicarrier.sentinel.thresholds import Thresholds, for_labels

HISTORY_DAYS = 30  # the runtime p99s are taken over the sessions that ended in this many days
MAX_REASON = 2000


@dataclass
class CycleReport:
    agents: int = 0
    patient: list[str] = field(default_factory=list)
    opened: list[int] = field(default_factory=list)
    steps: list[tuple[int, str]] = field(default_factory=list)  # (finding, rung taken)
    held: list[tuple[int, str]] = field(default_factory=list)  # (finding, why no action)
    resolved: list[int] = field(default_factory=list)


def patient(agent: dict[str, Any], now: datetime) -> bool:
    """Waiting, as the agent's last heartbeat said, for a time it stated and that has not passed."""
    return (
        agent["status"] == "waiting" and agent["waiting_until"] is not None and now < agent["waiting_until"]
    )


class SentinelService:
    def __init__(
        self,
        repo: Repository,
        control: ControlService,
        defaults: Thresholds | None = None,
        overrides=(),
        offline_after_s: int = 60,
    ):
        self.repo = repo
        self.control = control
        self.defaults = defaults or Thresholds()
        self.overrides = overrides  # HELICARRIER_SENTINEL_LABELS, parsed
        self.offline_after_s = offline_after_s

    def thresholds(self, labels: dict[str, str] | None) -> Thresholds:
        return for_labels(self.defaults, self.overrides, labels)

    # -- the cycle ---------------------------------------------------------------------------------

    def run_cycle(self, now: datetime | None = None) -> CycleReport:
        now = now or utcnow()
        report = CycleReport()
        agents = self.repo.sentinel_agents(now - timedelta(seconds=self.offline_after_s))
        report.agents = len(agents)
        seen: dict[tuple[str, str], tuple[dict, Thresholds, Detection]] = {}
        histograms: dict[str, dict[int, int]] = {}
        for agent in agents:
            if patient(agent, now):
                report.patient.append(agent["id"])
                continue
            t = self.thresholds(agent["labels"])
            for d in self._detect(agent, t, now, histograms):
                seen[(agent["id"], d.detector)] = (agent, t, d)
        with self.repo.transaction() as tx:
            open_ = {(f.agent_id, f.detector): f for f in tx.open_findings()}
            report.resolved = [f.id for key, f in open_.items() if key not in seen]
            tx.resolve_findings(report.resolved, now)
        for key, (agent, t, d) in seen.items():
            finding = self._record(open_.get(key), agent, t, d, now, report)
            if finding is not None:
                self._escalate(finding, agent, t, d, now, report)
        return report

    def _detect(self, agent, t: Thresholds, now: datetime, histograms) -> list[Detection]:
        running_since = agent["session_started_at"]
        reach = max(t.repeat_window_s, t.no_output_s)
        since = min(now - timedelta(seconds=reach), running_since or now)
        lines = self.repo.log_lines(agent["id"], since, now)
        usage = self.repo.usage_between(agent["id"], now - timedelta(seconds=t.no_output_s), now)
        kind = agent["task_kind"]
        if kind and running_since and kind not in histograms:
            histograms[kind] = self.repo.runtime_histogram(kind, now - timedelta(days=HISTORY_DAYS))
        found = (
            detectors.repeat(lines, t, now),
            detectors.no_output(
                [r for r in lines if running_since and r["ts"] >= running_since], usage, running_since, t, now
            ),
            detectors.long_run(running_since, kind, histograms.get(kind or "", {}), t, now),
            detectors.silent(
                agent["status"], running_since, self.repo.last_usage_at(agent["id"], now), t, now
            ),
        )
        return [d for d in found if d is not None]

    def _record(self, finding, agent, t: Thresholds, d: Detection, now: datetime, report: CycleReport):
        """The finding for this detection: a new one (audited), or the open one with the latest evidence."""
        evidence = {**d.evidence, "thresholds": t.as_dict()}
        session_id = agent["current_session_id"] if agent["session_started_at"] else None
        with self.repo.transaction() as tx:
            if finding is None:
                row = tx.insert_finding(
                    dict(
                        agent_id=agent["id"],
                        session_id=session_id,
                        detector=d.detector,
                        state="open",
                        step="observe",
                        policy=t.policy,
                        summary=d.summary,
                        evidence=evidence,
                        actions=[],
                        first_seen_at=now,
                        last_seen_at=now,
                        stepped_at=now,
                    )
                )
                report.opened.append(row.id)
                tx.audit(
                    SENTINEL,
                    "sentinel.finding",
                    "ok",
                    target_kind="agent",
                    target_id=agent["id"],
                    reason=d.summary[:MAX_REASON],
                    details={"finding_id": row.id, "detector": d.detector, "evidence": evidence},
                )
                return row
            values = dict(summary=d.summary, evidence=evidence, policy=t.policy, last_seen_at=now)
            if not tx.update_finding(finding.id, finding.step, **values):
                return None  # another cycle moved it on meanwhile: it decides
            return tx.finding(finding.id)

    def _escalate(self, finding, agent, t: Thresholds, d: Detection, now: datetime, report: CycleReport):
        step = next_step(finding.step, t.policy, finding.stepped_at, now, t.grace_s)
        if step is None:
            return
        command_id = None
        if step in ACTIONS:
            why_not = self._held(finding, agent, t, now)
            if why_not:
                report.held.append((finding.id, why_not))
                return
            try:
                command_id = self._act(step, finding, agent, d)
            except Refused as refused:  # audited by the control service; the next cycle tries again
                # Paused already (by an operator or a budget lock): the rung is where the agent is; go on.
                if not (step == "pause" and refused.code == "already_paused"):
                    report.held.append((finding.id, refused.code))
                    return
        action = {"step": step, "at": now.isoformat(), "command_id": command_id}
        values: dict[str, Any] = dict(step=step, stepped_at=now, actions=[*(finding.actions or []), action])
        if command_id is not None:
            values["acted_at"] = now
        with self.repo.transaction() as tx:
            if not tx.update_finding(finding.id, finding.step, **values):
                return
            tx.audit(
                SENTINEL,
                f"sentinel.{step}",
                "ok",
                target_kind="agent",
                target_id=agent["id"],
                reason=d.summary[:MAX_REASON],
                details={
                    "finding_id": finding.id,
                    "detector": d.detector,
                    "command_id": command_id,
                    "evidence": finding.evidence,
                },
            )
        report.steps.append((finding.id, step))

    def _held(self, finding, agent, t: Thresholds, now: datetime) -> str | None:
        """Why no action may be taken on this agent now, or None."""
        if agent["exempt"]:
            return "exempt"
        with self.repo.transaction() as tx:
            last = tx.last_acted(finding.agent_id, finding.detector, finding.id)
        if last is not None and now - last < timedelta(seconds=t.cooldown_s):
            return "cooldown"
        return None

    def _act(self, step: str, finding, agent, d: Detection) -> str:
        """The step's command, issued as an operator's would be (one per finding and step: the idempotency
        key makes a repeated cycle find the first). Returns the command's id; raises Refused."""
        reason = f"sentinel ({d.detector}, finding {finding.id}): {d.summary}"[:MAX_REASON]
        body: dict[str, Any] = {"kind": ACTIONS[step], "reason": reason}
        if step == "steer":
            body.update(task=d.advice, mode="steer")
        command, _created = self.control.issue(SENTINEL, agent["id"], body, f"sentinel:{finding.id}:{step}")
        return command["id"]

    # -- operators ---------------------------------------------------------------------------------

    def findings(self, **filters: Any) -> list[dict[str, Any]]:
        return self.repo.list_findings(**filters)

    def exempt(self, actor: Actor, agent_id: str, reason: Any) -> tuple[dict[str, Any], bool]:
        """Exempt an agent from the sentinel's actions (its findings are still recorded); (exemption,
        created). Exempting an exempt agent changes nothing."""
        if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
            raise Refused.invalid("reason", f"text of at most {MAX_REASON} characters")
        now = utcnow()
        with self.repo.transaction() as tx:
            if tx.agent(agent_id) is None:
                raise Refused(404, "unknown_agent", f"no agent {agent_id!r}")
            created = tx.put_exemption(agent_id, reason, actor.name, now)
            if created:
                tx.audit(
                    actor, "sentinel.exempt", "ok", target_kind="agent", target_id=agent_id, reason=reason
                )
        return self.repo.exemption(agent_id), created  # type: ignore[return-value]

    def unexempt(self, actor: Actor, agent_id: str) -> None:
        with self.repo.transaction() as tx:
            if not tx.drop_exemption(agent_id):
                raise Refused(404, "not_exempt", f"agent {agent_id!r} is not exempt")
            tx.audit(actor, "sentinel.unexempt", "ok", target_kind="agent", target_id=agent_id)
