"""The alert engine: the evaluation cycle, the feed with its overlays, the rule preview, and notifying.

Plain functions of the repository and the time; the scheduler runs ``run_cycle`` (every minimum rule
interval, evaluating the rules due) and ``dispatch`` (every 5 s) on the elected leader only
(helicarrier.scheduler). Both are idempotent anyway: alert writes are guarded on the state they were
computed from and new alerts are inserted on their unique fingerprint, so a rare double run creates
nothing twice.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import orjson

from helicarrier.alerts import backtest, grouping, ratecap
from helicarrier.alerts.lifecycle import NOTIFYING_STATES, OPEN_STATES, EvalFailure, evaluate
from helicarrier.alerts.matchers import matches_all, parse_matchers
from helicarrier.alerts.mutes import muted
from helicarrier.alerts.overlays import AlertView, InhibitRule, Overlay, SilenceView, compute
from helicarrier.alerts.receivers import DeliveryError, SmtpSettings, deliver
from helicarrier.alerts.rules import DEFAULT_INTERVAL_S, METRICS, alert_labels, spec, validate_rule
from helicarrier.alerts.validation import local_address
from helicarrier.data.queries.alert_metrics import MetricCache
from helicarrier.data.queries.alerts import CycleResult, RuleRun
from helicarrier.data.types import utcnow
from helicarrier.observability import metrics
from helicarrier.observability.tracing import set_attributes, span

log = logging.getLogger("helicarrier.alerts")

FEED_RESOLVED_S = 3600  # resolved alerts stay in the feed this long
NOTIFY_RESOLVED_S = 86400  # a resolution is announced if it happened within this long
MAX_ALERTS_PER_NOTIFICATION = 1000
DELIVERY_TIMEOUT_S = 5.0
BACKOFF_S = 10.0
MAX_ATTEMPTS = 5
DISABLE_AFTER = 5
DISPATCH_ROUNDS = 10
ERROR_STREAK = 3  # consecutive failed evaluations that make a rule's health ``error`` (issue 15)
DUE_SLACK_S = 1.0  # a tick a little early still evaluates a rule: else a 15 s rule waits for the next tick

RECEIVER_RULE = {
    "name": "Notification receiver disabled",
    "description": "A webhook receiver was disabled after repeated delivery failures (built in).",
    "metric": "receiver_disabled",
    "group_by": "receiver",
    "comparator": ">",
    "threshold": "0",
    "window_s": 300,
    "severity": "critical",
    "nodata_state": "ok",
}


# -- evaluation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CycleReport:
    rules: int
    failed: int
    changed: int
    queries: int
    duration_ms: int


def run_cycle(
    repo,
    now: datetime | None = None,
    holder: str | None = None,
    slo_targets: Mapping[str, int] | None = None,
    *,
    due_only: bool = False,
) -> CycleReport:
    """Evaluate every enabled rule once (``due_only``: those whose interval has passed since their last
    evaluation, as the scheduler does) and record the cycle. A rule that fails ERROR_STREAK times in a row
    is marked ``error`` (and its alerts go to its error setting); the others still run.
    ``slo_targets``: {SLO name: target ppm}, for ``slo_burn`` rules."""
    t0 = time.perf_counter()
    try:
        with span("alerts.cycle", root=True):  # a trace of its own, every cycle
            report = _run_cycle(repo, now, holder, t0, slo_targets or {}, due_only)
            set_attributes(
                alerts__rules=report.rules, alerts__failed=report.failed, alerts__changed=report.changed
            )
    except Exception:
        metrics.ALERT_ERRORS.labels("cycle").inc()
        raise
    finally:
        metrics.ALERT_EVALUATION.observe(time.perf_counter() - t0)
    if report.failed:
        metrics.ALERT_ERRORS.labels("rule").inc(report.failed)
    return report


def _metric_params(metric: str, params: Mapping[str, Any] | None, slo_targets: Mapping[str, int]) -> dict:
    """The rule's params, and for ``slo_burn`` its SLO's target from the settings (not stored in the rule:
    changing the SLO changes what every rule on it judges)."""
    out = dict(params or {})
    if metric == "slo_burn" and out.get("slo") in slo_targets:
        out["target_ppm"] = slo_targets[out["slo"]]
    return out


def is_due(rule: Mapping[str, Any], now: datetime) -> bool:
    """Whether the rule's interval has passed since its last evaluation (never evaluated: due)."""
    last = rule.get("last_eval_at")
    interval = rule.get("interval_s") or DEFAULT_INTERVAL_S
    return last is None or (now - last).total_seconds() >= interval - DUE_SLACK_S


def _error_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]


def _run_cycle(
    repo,
    now: datetime | None,
    holder: str | None,
    t0: float,
    slo_targets: Mapping[str, int],
    due_only: bool,
) -> CycleReport:
    now = now or utcnow()
    rules = repo.list_alert_rules(enabled_only=True)
    if due_only:
        rules = [r for r in rules if is_due(r, now)]
    states = repo.alert_states_for_eval(now, max((r["reopen_s"] or 0 for r in rules), default=0))
    cache = MetricCache()
    agents: dict[str, dict[str, str]] | None = None
    runs: list[RuleRun] = []
    for rule in rules:
        with span("alerts.rule", alert__rule__id=rule["id"], alert__metric=rule["metric"]):
            run, agents = _run_rule(repo, rule, now, states, cache, agents, slo_targets)
            set_attributes(alert__health=run.health, alert__groups=len(run.outcomes))
        runs.append(run)
    cycle = CycleResult(now, int((time.perf_counter() - t0) * 1000), holder, cache.queries, runs)
    changed = repo.record_alert_cycle(cycle, now)
    return CycleReport(
        len(runs),
        sum(1 for r in runs if r.error),
        changed,
        cache.queries,
        int((time.perf_counter() - t0) * 1000),
    )


def _run_rule(
    repo, rule, now: datetime, states, cache: MetricCache, agents, slo_targets: Mapping[str, int]
) -> tuple[RuleRun, Any]:
    """One rule evaluated: its run, and the agents' context (looked up once a cycle, when first needed).
    A failure short of ERROR_STREAK in a row is a blip: the rule's alerts and health stay as they were."""
    r0 = time.perf_counter()
    rs = spec(rule)
    error, streak = None, 0
    try:
        params = _metric_params(rule["metric"], rule["params"], slo_targets)
        result = repo.alert_metric(rule["metric"], rule["group_by"], rule["window_s"], params, now, cache)
        health = "ok" if result or rs.empty_is_ok else "nodata"
    except Exception as exc:  # noqa: BLE001 - one rule's failure must not stop the others
        log.exception("alert rule %s (%s) failed", rule["id"], rule["name"])
        error, streak = _error_text(exc), (rule.get("error_streak") or 0) + 1
        if streak < ERROR_STREAK:
            # A blip (a lock timeout, a restart): its alerts and health stay; the message is kept.
            ms = int((time.perf_counter() - r0) * 1000)
            return RuleRun(rule["id"], [], rule.get("health"), ms, error, streak), agents
        result = EvalFailure(error)
        health = "error"
    outcomes = evaluate(rs, result, now, states.get(rule["id"], {}))
    if rule["group_by"] == "agent" and outcomes:
        # Per-agent alerts carry the agent's provider and model, for inhibition and silences.
        if agents is None:
            agents = repo.alert_agent_context()
            cache.queries += 1
        outcomes = [
            replace(o, context=agents.get(o.labels.get("agent"), {})) if o.labels.get("agent") else o
            for o in outcomes
        ]
    ms = int((time.perf_counter() - r0) * 1000)
    return RuleRun(rule["id"], outcomes, health, ms, error, streak), agents


def preview(
    repo, body: Mapping[str, Any], now: datetime | None = None, slo_targets: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """ "This rule would now fire for N groups": the rule editor's preview, by the same evaluator, against
    the data of this moment and with no history (``for`` aside: it only delays firing); and ``history``:
    how often it would have fired over the last 7 days (helicarrier.alerts.backtest). Raises RuleError."""
    now = now or utcnow()
    values = validate_rule({k: v for k, v in body.items() if k != "id"})
    rule = {**values, "id": int(body.get("id") or 0)}
    rs = replace(spec(rule), for_s=0)
    try:
        params = _metric_params(values["metric"], values["params"], slo_targets or {})
        samples = repo.alert_metric(values["metric"], values["group_by"], values["window_s"], params, now)
    except Exception as exc:  # noqa: BLE001 - shown in the editor
        return {"groups": 0, "firing": 0, "no_data": False, "error": str(exc).splitlines()[0], "alerts": []}
    outcomes = evaluate(rs, samples, now, {})
    firing = [o for o in outcomes if o.after in NOTIFYING_STATES]
    unit = METRICS[values["metric"]].unit
    try:
        history = backtest.backtest(rs, backtest.samples_from(repo, values, params), now).as_dict()
    except Exception as exc:  # noqa: BLE001 - shown in the editor; the preview of now still stands
        history = {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    return {
        "history": history,
        "groups": len(samples),
        "firing": len(firing),
        "no_data": not samples and not rs.empty_is_ok,
        "nodata_outcome": next((o.after for o in outcomes if o.event == "nodata"), None),
        "for_s": values["for_s"],
        "unit": unit,
        "error": None,
        "alerts": [
            {"labels": dict(o.labels), "state": o.after, "value": None if o.value is None else str(o.value)}
            for o in sorted(firing, key=lambda o: o.value if o.value is not None else 0, reverse=True)[:50]
        ],
    }


# -- the feed: alerts with what mutes them -----------------------------------------------------------


def full_labels(alert: Mapping[str, Any]) -> dict[str, str]:
    rule = {
        "id": alert["rule_id"],
        "name": alert["rule_name"],
        "severity": alert["severity"],
        "labels": alert.get("rule_labels"),
    }
    return alert_labels(rule, alert.get("labels") or {}, alert.get("context"))


def silence_views(silences: Iterable[Mapping[str, Any]]) -> list[SilenceView]:
    out = []
    for s in silences:
        try:
            matchers = tuple(parse_matchers(s["matchers"]))
        except ValueError:
            continue  # an unreadable stored silence mutes nothing
        out.append(
            SilenceView(s["id"], matchers, s["starts_at"], s["ends_at"], s["created_by"], s["comment"])
        )
    return out


def _inhibit_rules(rules: Iterable[Mapping[str, Any]]) -> list[InhibitRule]:
    out = []
    for r in rules:
        try:
            ir = InhibitRule.from_setting(r["id"], r["name"], r.get("inhibits"))
        except ValueError:
            continue
        if ir is not None:
            out.append(ir)
    return out


def with_overlays(repo, alerts: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Each alert with ``all_labels``, ``silenced_by`` (silence ids), ``inhibited_by`` (rule names) and
    ``acked``. Inhibition looks at every firing alert, not only those given."""
    silences = silence_views(repo.list_silences(active_at=now))
    inhibitors = _inhibit_rules(repo.list_alert_rules(enabled_only=True))
    views = [AlertView(a["fingerprint"], a["rule_id"], a["state"], full_labels(a)) for a in alerts]
    if inhibitors:
        known = {a["fingerprint"] for a in alerts}
        sources = {ir.rule_id for ir in inhibitors}
        for a in repo.list_alerts(states=("firing",)):
            if a["rule_id"] in sources and a["fingerprint"] not in known:
                views.append(AlertView(a["fingerprint"], a["rule_id"], a["state"], full_labels(a)))
    overlays = compute(views, silences, inhibitors, now)
    out = []
    for a, view in zip(alerts, views, strict=False):
        ov = overlays.get(a["fingerprint"], Overlay())
        out.append(
            {
                **a,
                "all_labels": dict(view.labels),
                "silenced_by": list(ov.silenced_by),
                "inhibited_by": list(ov.inhibiting_rules),
                "acked": a["acked_at"] is not None and a["state"] in NOTIFYING_STATES,
            }
        )
    return out


def feed(repo, now: datetime | None = None, *, states: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The Alerts page's feed: open alerts and those resolved in the last hour, with their overlays."""
    now = now or utcnow()
    wanted = set(states or (*OPEN_STATES, "resolved"))
    alerts = repo.list_alerts(
        states=tuple(OPEN_STATES), resolved_since=now - timedelta(seconds=FEED_RESOLVED_S)
    )
    return [a for a in with_overlays(repo, alerts, now) if a["state"] in wanted]


# -- notifying ---------------------------------------------------------------------------------------


def post_json(url: str, payload: Mapping[str, Any], timeout: float = DELIVERY_TIMEOUT_S) -> None:
    """POST the payload as JSON; anything but a 2xx answer raises DeliveryError."""
    req = urllib.request.Request(
        url,
        data=orjson.dumps(payload),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "Helicarrier-Alerts/1"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - admins configure URLs
            if not 200 <= resp.status < 300:
                raise DeliveryError(f"HTTP {resp.status}")
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from None


def send_one(
    kind: str,
    url: str,
    payload: Mapping[str, Any],
    *,
    post: Callable[[str, Mapping[str, Any]], None] = post_json,
    smtp: SmtpSettings,
    allow_local: bool = False,
) -> None:
    """One notification to one receiver; raises DeliveryError."""
    if kind != "email":
        # Checked again at delivery: a name can come to resolve to this machine after it was saved.
        # (E-mail goes to the operator's SMTP server, not to an address an admin typed.)
        local = None if allow_local else local_address(url)
        if local:
            raise DeliveryError(f"refused: the receiver's address is loopback or link-local ({local})")
    deliver(kind, url, payload, post=post, smtp=smtp)


@dataclass(frozen=True)
class DispatchReport:
    notifications: int  # planned this round
    attempts: int
    sent: int
    failed: int
    disabled: list[str]


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat()


def _payload_alert(a: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    return {
        "id": a["id"],
        "fingerprint": a["fingerprint"],
        "dedup_key": a["fingerprint"],
        "rule": a["rule_name"],
        "rule_id": a["rule_id"],
        "state": a["state"],
        "status": "resolved" if a["state"] == "resolved" else "firing",
        "severity": a["severity"],
        "labels": a["all_labels"],
        "value": a["value"],
        "peak": a["peak"],
        "starts_at": _iso(a["active_since"]),
        "fired_at": _iso(a["fired_at"]),
        "ends_at": _iso(a["resolved_at"]),
        "message": a.get("message"),
        "url": f"{base_url}/alerts?alert={a['id']}",
    }


def _notify_alert(a: Mapping[str, Any]) -> grouping.NotifyAlert:
    return grouping.NotifyAlert(
        a["fingerprint"], a["state"], a["all_labels"], a["fired_at"], a["resolved_at"]
    )


def plan_notifications(repo, now: datetime, base_url: str = "") -> list[dict[str, Any]]:
    """The deliveries due now for every enabled receiver (grouped; pending, silenced, inhibited and
    acknowledged alerts left out), as rows for the deliveries log."""
    receivers = repo.list_receivers(enabled_only=True)
    if not receivers:
        return []
    alerts = repo.list_alerts(
        states=tuple(NOTIFYING_STATES),
        resolved_since=now - timedelta(seconds=NOTIFY_RESOLVED_S),
        limit=100_000,
    )
    alerts = [a for a in with_overlays(repo, alerts, now) if not a["silenced_by"] and not a["inhibited_by"]]
    by_fp = {a["fingerprint"]: a for a in alerts}
    rows = []
    for rcv in receivers:
        if muted(rcv["mute_windows"], now):
            continue  # in a mute window: what falls due is planned when it ends
        try:
            route = parse_matchers(rcv["matchers"])
        except ValueError:
            continue
        timing = grouping.Timing(rcv["group_wait_s"], rcv["group_interval_s"], rcv["repeat_interval_s"])
        ack_window = timedelta(seconds=rcv["repeat_interval_s"])
        firing, resolved = [], []
        for a in alerts:
            if not matches_all(route, a["all_labels"]):
                continue
            if a["state"] == "resolved":
                resolved.append(_notify_alert(a))
            elif not (a["acked_at"] is not None and now < a["acked_at"] + ack_window):
                firing.append(_notify_alert(a))
        group_by = rcv["group_by"] or list(grouping.DEFAULT_GROUP_BY)
        last = repo.last_sends(rcv["id"])
        due = grouping.plan(rcv["id"], group_by, timing, firing, resolved, last, now)
        capped = _capped(repo, rcv, due, last, now)
        rows += [_notification_row(rcv, n, by_fp, base_url, now) for n in capped.send]
        if capped.summarize:
            rows.append(_summary_row(rcv, capped.suppressed, base_url, now))
    return rows


def _capped(repo, rcv: Mapping[str, Any], due, last, now: datetime) -> ratecap.Capped:
    cap = rcv["max_per_hour"]
    sent = repo.count_deliveries_since(rcv["id"], now - ratecap.HOUR) if cap and due else 0
    return ratecap.apply(due, cap, sent, last.get(ratecap.SUMMARY_KEY), rcv["group_interval_s"], now)


def _notification_row(rcv, n: grouping.Notification, by_fp, base_url: str, now: datetime) -> dict:
    listed = n.alerts[:MAX_ALERTS_PER_NOTIFICATION]
    payload = {
        "version": "1",
        "receiver": rcv["name"],
        "status": n.status,
        "reason": n.reason,
        "group_key": n.group_key,
        "group_labels": n.group_labels,
        "url": f"{base_url}/alerts",
        "firing": sum(1 for a in n.alerts if a.state != "resolved"),
        "resolved": sum(1 for a in n.alerts if a.state == "resolved"),
        "truncated": len(n.alerts) - len(listed),
        "alerts": [_payload_alert(by_fp[a.fingerprint], base_url) for a in listed],
    }
    return {
        "receiver_id": rcv["id"],
        "group_key": n.group_key,
        "group_labels": n.group_labels,
        "reason": n.reason,
        "alerts": sorted([fp, st] for fp, st in n.content()),
        "payload": payload,
        "created_at": now,
    }


def _summary_row(rcv, suppressed: list[grouping.Notification], base_url: str, now: datetime) -> dict:
    """The one message a storm past the rate cap becomes. It announces no alert (``alerts`` []), so the
    suppressed groups stay due and go out as themselves when the hour has room."""
    counts = ratecap.summary_counts(suppressed)
    payload = {
        "version": "1",
        "receiver": rcv["name"],
        "status": "firing" if counts["firing"] else "resolved",
        "reason": ratecap.SUMMARY_REASON,
        "group_key": ratecap.SUMMARY_KEY,
        "group_labels": {},
        "url": f"{base_url}/alerts",
        "firing": counts["firing"],
        "resolved": counts["resolved"],
        "truncated": 0,
        "rate_capped": {"groups": counts["groups"], "alerts": counts["alerts"]},
        "message": ratecap.summary_text(suppressed),
        "alerts": [],
    }
    return {
        "receiver_id": rcv["id"],
        "group_key": ratecap.SUMMARY_KEY,
        "group_labels": {},
        "reason": ratecap.SUMMARY_REASON,
        "alerts": [],
        "payload": payload,
        "created_at": now,
    }


def dispatch(
    repo,
    now: datetime | None = None,
    *,
    base_url: str = "",
    send: Callable[[str, Mapping[str, Any]], None] = post_json,
    backoff_s: float = BACKOFF_S,
    max_attempts: int = MAX_ATTEMPTS,
    disable_after: int = DISABLE_AFTER,
    allow_local: bool = False,
    smtp: SmtpSettings | None = None,
) -> DispatchReport:
    """Plan the notifications due now, then attempt every delivery that is due (new ones, and retries
    whose backoff has passed: ``backoff_s`` x 2^(attempt-1)). A receiver is disabled after
    ``disable_after`` consecutive failures, and the built-in rule "Notification receiver disabled" makes
    an alert of it on the next evaluation. ``send`` posts JSON (webhook and Slack receivers); e-mail goes
    through ``smtp``."""
    now = now or utcnow()
    smtp = smtp or SmtpSettings()
    rows = plan_notifications(repo, now, base_url)
    if rows:
        repo.add_deliveries(rows)
    attempts = sent = failed = 0
    disabled: list[str] = []
    # A muted receiver's retries wait too; ``stopped`` also gathers receivers disabled in this call.
    stopped = {r["id"] for r in repo.list_receivers(enabled_only=True) if muted(r["mute_windows"], now)}
    for _round in range(DISPATCH_ROUNDS):  # a backlog drains in rounds; each delivery is tried once a call
        due = [d for d in repo.due_deliveries(now) if d["receiver_id"] not in stopped]
        if not due:
            break
        for d in due:
            if d["receiver_id"] in stopped:
                continue
            attempts += 1
            try:
                send_one(d["kind"], d["url"], d["payload"], post=send, smtp=smtp, allow_local=allow_local)
                ok, error = True, None
            except Exception as exc:  # noqa: BLE001 - any failure is a failed attempt, logged with its reason
                ok, error = False, str(exc) or type(exc).__name__
            tries = d["attempts"] + 1
            next_at = None
            if not ok and tries < max_attempts:
                next_at = now + timedelta(seconds=backoff_s * 2 ** (tries - 1))
            metrics.WEBHOOK_DELIVERIES.labels("sent" if ok else "failed").inc()
            if ok:
                sent += 1
            else:
                failed += 1
                log.warning(
                    "alert delivery %s to %s failed (attempt %s): %s",
                    d["id"],
                    d["receiver_name"],
                    tries,
                    error,
                )
            if repo.record_delivery_attempt(
                d["id"],
                d["receiver_id"],
                ok=ok,
                error=error,
                now=now,
                next_attempt_at=next_at,
                disable_after=disable_after,
            ):
                disabled.append(d["receiver_name"])
                stopped.add(d["receiver_id"])
                log.error(
                    "alert receiver %s disabled after %s consecutive failures",
                    d["receiver_name"],
                    disable_after,
                )
                repo.ensure_alert_rule(validate_rule(RECEIVER_RULE))
    return DispatchReport(len(rows), attempts, sent, failed, disabled)
