"""The stuck-loop sentinel over HTTP: its findings (``read``), and exempting an agent from its actions
(``control``). ``SentinelService`` validates, decides and audits, as for the HUD's control."""

from __future__ import annotations

from helicarrier.api import params
from helicarrier.api.http import app_context, json_response, read_json_object, token_actor
from helicarrier.sentinel.detectors import DETECTORS

FINDING_STATES = ("open", "resolved")


def list_findings():
    """curl "$URL/api/v1/sentinel/findings?agent=atlas-01&state=open" -H "Authorization: Bearer $T" """
    state = params.text("state")
    detector = params.text("detector")
    if state is not None:
        params.choice("state", FINDING_STATES, state)
    if detector is not None:
        params.choice("detector", DETECTORS, detector)
    found = app_context().sentinel.findings(
        agent_id=params.text("agent"),
        session_id=params.text("session"),
        detector=detector,
        state=state,
        limit=params.integer("limit", 100, 1, 1000),
    )
    return json_response({"findings": found})


def list_exemptions():
    return json_response({"exemptions": app_context().repo.list_exemptions()})


def exempt(agent_id: str):
    """The sentinel records this agent's findings but takes no action on it (no steer, no kill)."""
    body = read_json_object()
    exemption, created = app_context().sentinel.exempt(token_actor(), agent_id, body.get("reason"))
    return json_response({"exemption": exemption, "created": created}, 201 if created else 200)


def unexempt(agent_id: str):
    app_context().sentinel.unexempt(token_actor(), agent_id)
    return json_response({"agent_id": agent_id, "exempt": False})
