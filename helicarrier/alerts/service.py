"""The alert workflows, without Flask or Dash: rules, acknowledgements, silences and receivers. The alerts
API and the Alerts page both call this, so validation, decisions and the audit trail are the same wherever
a change comes from. Refusals are ``Refused`` naming the field."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from helicarrier.actors import Actor
from helicarrier.alerts import engine
from helicarrier.alerts.lifecycle import can_ack, close_all
from helicarrier.alerts.overlays import SilenceView
from helicarrier.alerts.receivers import SmtpSettings, test_payload
from helicarrier.alerts.rules import METRICS, MIN_INTERVAL_S, RuleError, spec, validate_rule
from helicarrier.alerts.validation import validate_receiver, validate_silence
from helicarrier.data.repository import Repository
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused

T = TypeVar("T")
MAX_NOTE = 2000


def checked(validate: Callable[..., T], *args: Any) -> T:
    """A validator's result; its RuleError as a 422 naming the field."""
    try:
        return validate(*args)
    except RuleError as exc:
        raise Refused(422, "schema_violation", str(exc), {"field": exc.field}) from None


def _found(value: T | None, code: str, what: str) -> T:
    if value is None:
        raise Refused(404, code, f"no {what}")
    return value


def _identity_changed(old: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Another metric or grouping: the old groups mean nothing now."""
    return any(k in values and values[k] != old[k] for k in ("metric", "group_by"))


def silence_status(silence: dict[str, Any], now: datetime) -> dict[str, Any]:
    view = SilenceView(silence["id"], (), silence["starts_at"], silence["ends_at"])
    return {**silence, "status": view.status(now)}


class AlertService:
    def __init__(
        self,
        repo: Repository,
        *,
        allow_local_webhooks: bool = False,
        slo_targets: Mapping[str, int] | None = None,
        smtp: SmtpSettings | None = None,
        base_url: str = "",
        min_interval_s: int = MIN_INTERVAL_S,
    ):
        self.repo = repo
        self.min_interval_s = min_interval_s  # HELICARRIER_ALERT_MIN_INTERVAL_S: 422 for a faster rule
        self.allow_local = allow_local_webhooks
        self.smtp = smtp or SmtpSettings()
        self.base_url = base_url
        self.slo_targets = dict(slo_targets or {})  # {SLO name: target ppm}, for slo_burn previews

    # -- rules -------------------------------------------------------------------------------------

    def list_rules(self) -> list[dict[str, Any]]:
        return self.repo.list_alert_rules()

    @staticmethod
    def metric_catalogue() -> list[dict[str, Any]]:
        return [
            {
                "name": m.name,
                "title": m.title,
                "unit": m.unit,
                "group_by": ["label:<key>" if x == "label" else x for x in m.groups],
                "params": {
                    k: {"default": p.default, "required": p.required, "help": p.help}
                    for k, p in m.params.items()
                },
                "uses_window": m.uses_window,
                "help": m.help,
            }
            for m in METRICS.values()
        ]

    def get_rule(self, rule_id: int) -> dict[str, Any]:
        return _found(self.repo.get_alert_rule(rule_id), "unknown_rule", f"alert rule {rule_id}")

    def create_rule(self, body: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
        self.repo.write_gate()
        return self.repo.create_alert_rule(checked(validate_rule, body, None, self.min_interval_s), actor)

    def update_rule(
        self, rule_id: int, body: Mapping[str, Any], actor: Actor, *, partial: bool = True, now=None
    ) -> dict[str, Any]:
        """Change a rule (``partial``: the fields sent; else the whole rule). Disabling it, or making it
        watch another metric or grouping, clears its open alerts: their groups mean nothing now."""
        now = now or utcnow()
        with self.repo.transaction() as tx:
            old = _found(tx.alert_rule(rule_id), "unknown_rule", f"alert rule {rule_id}")
            values = checked(validate_rule, body, old if partial else None, self.min_interval_s)
            tx.update_alert_rule(rule_id, values, now)
            why = None
            if old["enabled"] and values.get("enabled") is False:
                why = "rule disabled"
            elif _identity_changed(old, values):
                why = "rule changed"
            if why:
                for outcome in close_all(spec(old), tx.open_alerts(rule_id), now):
                    tx.write_alert_change(rule_id, outcome, now, actor.name, {"reason": why})
            tx.audit(
                actor,
                "alert_rule.update",
                "ok",
                target_kind="alert_rule",
                target_id=str(rule_id),
                details={"name": values.get("name", old["name"])},
            )
        return self.get_rule(rule_id)

    def delete_rule(self, rule_id: int, actor: Actor) -> None:
        self.repo.write_gate()
        self.repo.delete_alert_rule(rule_id, actor)

    def preview(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return checked(engine.preview, self.repo, body, None, self.slo_targets)

    # -- alerts ------------------------------------------------------------------------------------

    def alerts(self, states=None) -> list[dict[str, Any]]:
        """The feed (open alerts and those resolved in the last hour), or the alerts in ``states``; each
        with what silences or inhibits it."""
        now = utcnow()
        if not states:
            return engine.feed(self.repo, now)
        return engine.with_overlays(self.repo, self.repo.list_alerts(states=states), now)

    def alert(self, alert_id: int) -> dict[str, Any]:
        alert = _found(self.repo.get_alert(alert_id), "unknown_alert", f"alert {alert_id}")
        (alert,) = engine.with_overlays(self.repo, [alert], utcnow())
        return alert

    def alert_with_history(self, alert_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return self.alert(alert_id), self.repo.alert_history(alert_id)

    def ack(self, alert_id: int, actor: Actor, note: Any, now: datetime | None = None) -> dict[str, Any]:
        """Acknowledge a notifying alert with a note: it keeps its state; its notifications pause until it
        resolves or the receiver's repeat interval passes."""
        if not isinstance(note, str) or not note.strip() or len(note) > MAX_NOTE:
            raise Refused.invalid("note", f"say what is being done (1 to {MAX_NOTE} characters)")
        now = now or utcnow()
        with self.repo.transaction() as tx:
            row = _found(tx.alert(alert_id), "unknown_alert", f"alert {alert_id}")
            if not can_ack(row.state) or not tx.ack_alert(row, actor.name, note.strip(), now):
                raise Refused(
                    409,
                    "not_firing",
                    f"alert {alert_id} is {row.state}: only a firing alert can be acknowledged",
                    {"state": row.state},
                )
            tx.audit(
                actor,
                "alert.ack",
                "ok",
                target_kind="alert",
                target_id=str(alert_id),
                reason=note.strip(),
                details={"fingerprint": row.fingerprint},
            )
        return self.alert(alert_id)

    # -- silences ----------------------------------------------------------------------------------

    def silences(self, state: str | None = None) -> list[dict[str, Any]]:
        """All silences, newest first, with their status; or those in ``state`` (active, pending, expired)."""
        now = utcnow()
        out = [silence_status(s, now) for s in self.repo.list_silences()]
        return [s for s in out if not state or s["status"] == state]

    def get_silence(self, silence_id: int) -> dict[str, Any]:
        found = _found(self.repo.get_silence(silence_id), "unknown_silence", f"silence {silence_id}")
        return silence_status(found, utcnow())

    def create_silence(self, body: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
        self.repo.write_gate()
        now = utcnow()
        v = checked(validate_silence, body, now)
        s = self.repo.create_silence(v["matchers"], v["starts_at"], v["ends_at"], v["comment"], actor)
        return silence_status(s, now)

    def update_silence(self, silence_id: int, body: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
        self.repo.write_gate()
        now = utcnow()
        existing = _found(self.repo.get_silence(silence_id), "unknown_silence", f"silence {silence_id}")
        if existing["ends_at"] <= now:
            raise Refused(409, "silence_expired", f"silence {silence_id} has expired; create a new one")
        current = {k: existing[k] for k in ("matchers", "starts_at", "ends_at", "comment")}
        values = checked(validate_silence, body, now, current)
        return silence_status(self.repo.update_silence(silence_id, values, actor), now)

    def expire_silence(self, silence_id: int, actor: Actor) -> dict[str, Any]:
        self.repo.write_gate()
        now = utcnow()
        return silence_status(self.repo.expire_silence(silence_id, actor, now), now)

    # -- receivers and deliveries ------------------------------------------------------------------

    def list_receivers(self) -> list[dict[str, Any]]:
        return self.repo.list_receivers()

    def get_receiver(self, receiver_id: int) -> dict[str, Any]:
        return _found(self.repo.get_receiver(receiver_id), "unknown_receiver", f"receiver {receiver_id}")

    def create_receiver(self, body: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
        self.repo.write_gate()
        values = checked(lambda b: validate_receiver(b, allow_local=self.allow_local), body)
        return self.repo.create_receiver(values, actor)

    def update_receiver(self, receiver_id: int, body: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
        self.repo.write_gate()
        existing = self.get_receiver(receiver_id)
        values = checked(lambda b: validate_receiver(b, existing, allow_local=self.allow_local), body)
        if "enabled" not in body:
            values.pop("enabled")  # leave a receiver disabled by failures as it is
        return self.repo.update_receiver(receiver_id, values, actor)

    def delete_receiver(self, receiver_id: int, actor: Actor) -> None:
        self.repo.write_gate()
        self.repo.delete_receiver(receiver_id, actor)

    def test_receiver(self, receiver_id: int, actor: Actor) -> dict[str, Any]:
        """Send one test notification to the receiver now, enabled or not (an admin checks a fixed
        receiver before enabling it again); {"ok", "error"}, and an audit entry either way. The deliveries
        log and the failure count are left alone: a test is no notification."""
        self.repo.write_gate()
        rcv = self.get_receiver(receiver_id)
        payload = test_payload(rcv["name"], self.base_url, utcnow())
        try:
            engine.send_one(rcv["kind"], rcv["url"], payload, smtp=self.smtp, allow_local=self.allow_local)
            error = None
        except Exception as exc:  # noqa: BLE001 - whatever failed is what the admin needs to read
            error = (str(exc) or type(exc).__name__)[:2000]
        self.repo.record_audit(
            actor=actor.name,
            actor_kind=actor.kind,
            role=actor.role,
            remote_addr=actor.remote_addr,
            action="alert_receiver.test",
            outcome="ok" if error is None else "error",
            target_kind="alert_receiver",
            target_id=str(receiver_id),
            reason=error,
        )
        return {"receiver_id": receiver_id, "ok": error is None, "error": error}

    def deliveries(self, receiver_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return self.repo.list_deliveries(receiver_id=receiver_id, limit=limit)
