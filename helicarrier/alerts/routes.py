"""Alert routes: one small handler per action, authenticated, 404/409/422, audited.

Admins (scope ``admin``)::

    GET    /api/v1/alert-rules                 the rules, and the metric catalogue
    POST   /api/v1/alert-rules                 {"name", "metric", "group_by", "comparator", "threshold", ...}
    GET    /api/v1/alert-rules/<id>
    PATCH  /api/v1/alert-rules/<id>            the fields to change (PUT: the whole rule)
    DELETE /api/v1/alert-rules/<id>
    POST   /api/v1/alert-rules/preview         a rule (not stored): "would now fire for N groups"
    GET|POST /api/v1/alert-receivers, GET|PATCH|DELETE /api/v1/alert-receivers/<id>   webhooks

Anyone with ``read``: ``GET /api/v1/alerts?state=firing,pending`` (default: open alerts and those resolved
in the last hour), ``GET /api/v1/alerts/<id>`` (with its history), ``GET /api/v1/silences?state=active``,
``GET /api/v1/silences/<id>``, ``GET /api/v1/alert-deliveries``.

Operators (scope ``control``)::

    POST   /api/v1/alerts/<id>/ack             {"note": "looking into it"}
    POST   /api/v1/silences                    {"matchers": ["agent=\\"atlas-01\\""], "duration_s": 3600,
                                                "comment": "maintenance"}  (or starts_at/ends_at)
    PATCH  /api/v1/silences/<id>               {"ends_at": ..., "comment": ..., "matchers": ...}
    DELETE /api/v1/silences/<id>               expire it now
"""

from __future__ import annotations

import orjson
from flask import Blueprint, Response, current_app, g, request

from helicarrier.alerts import engine
from helicarrier.alerts.lifecycle import STATES
from helicarrier.alerts.overlays import SilenceView
from helicarrier.alerts.rules import METRICS, RuleError, validate_rule
from helicarrier.alerts.validation import validate_receiver, validate_silence
from helicarrier.api.auth import require_scope
from helicarrier.data.queries.alerts import AlertRefused
from helicarrier.data.queries.commands import Actor
from helicarrier.data.types import utcnow
from helicarrier.ingest.errors import ApiError
from helicarrier.ingest.routes import read_json_body

bp = Blueprint("alerts", __name__, url_prefix="/api/v1")
MAX_BODY = 64 * 1024


def _repo():
    return current_app.config["HELICARRIER"].repo


def _json(obj, status: int = 200) -> Response:
    return Response(orjson.dumps(obj, default=str), status=status, mimetype="application/json")


def _actor() -> Actor:
    return Actor(f"token:{g.token.name}", "token", None, request.remote_addr)


def _body() -> dict:
    raw = read_json_body(MAX_BODY)
    try:
        doc = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"request body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ApiError(422, "schema_violation", "the body must be a JSON object")
    return doc


def _invalid(exc: RuleError) -> ApiError:
    return ApiError(422, "schema_violation", str(exc), {"field": exc.field})


def _refused(exc: AlertRefused) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, exc.details)


# -- rules -----------------------------------------------------------------------------------------


def _metric_catalogue() -> list[dict]:
    return [
        {
            "name": m.name,
            "title": m.title,
            "unit": m.unit,
            "group_by": ["label:<key>" if x == "label" else x for x in m.groups],
            "params": {
                k: {"default": p.default, "required": p.required, "help": p.help} for k, p in m.params.items()
            },
            "uses_window": m.uses_window,
            "help": m.help,
        }
        for m in METRICS.values()
    ]


@bp.get("/alert-rules")
@require_scope("admin")
def list_rules():
    return _json({"rules": _repo().list_alert_rules(), "metrics": _metric_catalogue()})


@bp.post("/alert-rules")
@require_scope("admin")
def create_rule():
    """curl -X POST $URL/api/v1/alert-rules -H "Authorization: Bearer $T" \\
         -H "Content-Type: application/json" \\
         -d '{"name": "agent offline", "metric": "agents_offline", "group_by": "agent", "threshold": "0"}'
    """
    try:
        values = validate_rule(_body())
        rule = _repo().create_alert_rule(values, _actor())
    except RuleError as exc:
        raise _invalid(exc) from None
    except AlertRefused as exc:
        raise _refused(exc) from None
    return _json({"rule": rule}, 201)


@bp.get("/alert-rules/<int:rule_id>")
@require_scope("admin")
def get_rule(rule_id: int):
    rule = _repo().get_alert_rule(rule_id)
    if rule is None:
        raise ApiError(404, "unknown_rule", f"no alert rule {rule_id}")
    return _json({"rule": rule})


@bp.route("/alert-rules/<int:rule_id>", methods=["PATCH", "PUT"])
@require_scope("admin")
def update_rule(rule_id: int):
    repo = _repo()
    existing = repo.get_alert_rule(rule_id)
    if existing is None:
        raise ApiError(404, "unknown_rule", f"no alert rule {rule_id}")
    body = _body()
    try:
        values = validate_rule(body, existing if request.method == "PATCH" else None)
        rule = repo.update_alert_rule(rule_id, values, _actor())
    except RuleError as exc:
        raise _invalid(exc) from None
    except AlertRefused as exc:
        raise _refused(exc) from None
    return _json({"rule": rule})


@bp.delete("/alert-rules/<int:rule_id>")
@require_scope("admin")
def delete_rule(rule_id: int):
    try:
        _repo().delete_alert_rule(rule_id, _actor())
    except AlertRefused as exc:
        raise _refused(exc) from None
    return _json({"deleted": rule_id})


@bp.post("/alert-rules/preview")
@require_scope("admin")
def preview_rule():
    """Evaluate a rule that is not stored against the data of this moment: how many groups would fire."""
    try:
        result = engine.preview(_repo(), _body())
    except RuleError as exc:
        raise _invalid(exc) from None
    return _json({"preview": result})


# -- alerts ----------------------------------------------------------------------------------------


@bp.get("/alerts")
@require_scope("read")
def list_alerts():
    """``?state=firing`` (several: ``firing,pending``); by default open alerts and those resolved in the
    last hour. Each alert says what silences (``silenced_by``) or inhibits (``inhibited_by``) it."""
    raw = request.args.get("state")
    now = utcnow()
    if not raw:
        return _json({"alerts": engine.feed(_repo(), now)})
    states = [s.strip() for s in raw.split(",") if s.strip()]
    bad = [s for s in states if s not in STATES]
    if bad:
        raise ApiError(
            422, "schema_violation", f"state: unknown {', '.join(bad)} (one of {', '.join(STATES)})",
            {"field": "state"},
        )  # fmt: skip
    repo = _repo()
    return _json({"alerts": engine.with_overlays(repo, repo.list_alerts(states=states), now)})


@bp.get("/alerts/<int:alert_id>")
@require_scope("read")
def get_alert(alert_id: int):
    repo = _repo()
    alert = repo.get_alert(alert_id)
    if alert is None:
        raise ApiError(404, "unknown_alert", f"no alert {alert_id}")
    (alert,) = engine.with_overlays(repo, [alert], utcnow())
    return _json({"alert": alert, "history": repo.alert_history(alert_id)})


@bp.post("/alerts/<int:alert_id>/ack")
@require_scope("control")
def ack_alert(alert_id: int):
    """Acknowledge a firing alert with a note: it keeps firing; its notifications pause until it resolves
    or the receiver's repeat interval passes."""
    note = _body().get("note")
    if not isinstance(note, str) or not note.strip() or len(note) > 2000:
        raise ApiError(422, "schema_violation", "note: say what is being done (1 to 2000 characters)",
                       {"field": "note"})  # fmt: skip
    try:
        alert = _repo().ack_alert(alert_id, _actor(), note.strip())
    except AlertRefused as exc:
        raise _refused(exc) from None
    return _json({"alert": alert})


# -- silences --------------------------------------------------------------------------------------


def _silence_out(s: dict, now) -> dict:
    view = SilenceView(s["id"], (), s["starts_at"], s["ends_at"])
    return {**s, "status": view.status(now)}


@bp.get("/silences")
@require_scope("read")
def list_silences():
    """``?state=active|pending|expired``; all, newest first, by default."""
    state = request.args.get("state")
    if state and state not in ("active", "pending", "expired"):
        raise ApiError(422, "schema_violation", "state: one of active, pending, expired", {"field": "state"})
    now = utcnow()
    out = [_silence_out(s, now) for s in _repo().list_silences()]
    return _json({"silences": [s for s in out if not state or s["status"] == state]})


@bp.get("/silences/<int:silence_id>")
@require_scope("read")
def get_silence(silence_id: int):
    s = _repo().get_silence(silence_id)
    if s is None:
        raise ApiError(404, "unknown_silence", f"no silence {silence_id}")
    return _json({"silence": _silence_out(s, utcnow())})


@bp.post("/silences")
@require_scope("control")
def create_silence():
    now = utcnow()
    try:
        v = validate_silence(_body(), now)
    except RuleError as exc:
        raise _invalid(exc) from None
    s = _repo().create_silence(v["matchers"], v["starts_at"], v["ends_at"], v["comment"], _actor())
    return _json({"silence": _silence_out(s, now)}, 201)


@bp.patch("/silences/<int:silence_id>")
@require_scope("control")
def update_silence(silence_id: int):
    repo = _repo()
    now = utcnow()
    existing = repo.get_silence(silence_id)
    if existing is None:
        raise ApiError(404, "unknown_silence", f"no silence {silence_id}")
    if existing["ends_at"] <= now:
        raise ApiError(409, "silence_expired", f"silence {silence_id} has expired; create a new one")
    body = _body()
    try:
        v = validate_silence(
            body, now, {k: existing[k] for k in ("matchers", "starts_at", "ends_at", "comment")}
        )
    except RuleError as exc:
        raise _invalid(exc) from None
    try:
        s = repo.update_silence(silence_id, v, _actor())
    except AlertRefused as exc:
        raise _refused(exc) from None
    return _json({"silence": _silence_out(s, now)})


@bp.delete("/silences/<int:silence_id>")
@require_scope("control")
def expire_silence(silence_id: int):
    now = utcnow()
    try:
        s = _repo().expire_silence(silence_id, _actor(), now)
    except AlertRefused as exc:
        raise _refused(exc) from None
    return _json({"silence": _silence_out(s, now)})


# -- receivers and deliveries ----------------------------------------------------------------------


@bp.get("/alert-receivers")
@require_scope("admin")
def list_receivers():
    return _json({"receivers": _repo().list_receivers()})


@bp.post("/alert-receivers")
@require_scope("admin")
def create_receiver():
    try:
        receiver = _repo().create_receiver(validate_receiver(_body()), _actor())
    except RuleError as exc:
        raise _invalid(exc) from None
    except AlertRefused as exc:
        raise _refused(exc) from None
    return _json({"receiver": receiver}, 201)


@bp.get("/alert-receivers/<int:receiver_id>")
@require_scope("admin")
def get_receiver(receiver_id: int):
    receiver = _repo().get_receiver(receiver_id)
    if receiver is None:
        raise ApiError(404, "unknown_receiver", f"no receiver {receiver_id}")
    return _json({"receiver": receiver})


@bp.patch("/alert-receivers/<int:receiver_id>")
@require_scope("admin")
def update_receiver(receiver_id: int):
    repo = _repo()
    existing = repo.get_receiver(receiver_id)
    if existing is None:
        raise ApiError(404, "unknown_receiver", f"no receiver {receiver_id}")
    body = _body()
    try:
        values = validate_receiver(body, existing)
        if "enabled" not in body:
            values.pop("enabled")  # leave a receiver disabled by failures as it is
        receiver = repo.update_receiver(receiver_id, values, _actor())
    except RuleError as exc:
        raise _invalid(exc) from None
    except AlertRefused as exc:
        raise _refused(exc) from None
    return _json({"receiver": receiver})


@bp.delete("/alert-receivers/<int:receiver_id>")
@require_scope("admin")
def delete_receiver(receiver_id: int):
    try:
        _repo().delete_receiver(receiver_id, _actor())
    except AlertRefused as exc:
        raise _refused(exc) from None
    return _json({"deleted": receiver_id})


@bp.get("/alert-deliveries")
@require_scope("read")
def list_deliveries():
    """The deliveries log, newest first (``?receiver_id=``, ``?limit=`` up to 500); payloads left out."""
    try:
        receiver_id = int(request.args["receiver_id"]) if request.args.get("receiver_id") else None
        limit = min(max(int(request.args.get("limit", 100)), 1), 500)
    except ValueError:
        raise ApiError(422, "schema_violation", "receiver_id and limit are whole numbers") from None
    return _json({"deliveries": _repo().list_deliveries(receiver_id=receiver_id, limit=limit)})
