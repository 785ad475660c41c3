"""Budgets over HTTP (docs/api.md#budgets): CRUD and the admin's override (``admin``), their status
(``read``). ``BudgetService`` validates, decides, stores and audits."""

from __future__ import annotations

from helicarrier.api.http import app_context, json_response, read_json_object, token_actor


def _budgets():
    return app_context().budgets


def list_budgets():
    return json_response({"budgets": _budgets().list()})


def create_budget():
    return json_response({"budget": _budgets().create(token_actor(), read_json_object())}, 201)


def get_budget(budget_id: int):
    """Burn, burn rate and projected exhaustion, as of the last evaluation."""
    return json_response({"budget": _budgets().status(budget_id)})


def update_budget(budget_id: int):
    """Change the fields sent; raising the limit above the spend lifts the lock."""
    return json_response({"budget": _budgets().update(token_actor(), budget_id, read_json_object())})


def override_budget(budget_id: int):
    """Lift a lock for the rest of the period, with a reason (audited)."""
    body = read_json_object()
    return json_response({"budget": _budgets().override(token_actor(), budget_id, body.get("reason"))})


def delete_budget(budget_id: int):
    return json_response(_budgets().delete(token_actor(), budget_id))
