"""The route table is the one source of the Flask rules and of the OpenAPI document: every /api/ rule has
an operation and every operation a rule, with the same methods, scopes and error statuses."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from helicarrier.api.routes import ROUTES
from helicarrier.api.spec import TOKEN_SCOPES

_FLASK_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


# Documented outside /api/: the Prometheus scrape, at the path every scraper expects.
_DOCUMENTED_ELSEWHERE = {"/metrics"}


def _rules(app) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every /api/ rule Flask serves (and /metrics), but the JSON 404/405
    fallback."""
    out = set()
    for rule in app.server.url_map.iter_rules():
        documented = rule.rule.startswith("/api/") or rule.rule in _DOCUMENTED_ELSEWHERE
        if not documented or rule.endpoint == "api_not_found":
            continue
        path = _FLASK_PARAM.sub(r"{\1}", rule.rule)
        out |= {(m.lower(), path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return out


def test_every_api_rule_has_an_operation_and_every_operation_a_rule(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    validate(doc)
    operations = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert operations == _rules(app)
    assert len(operations) >= 39  # all of them: ingest, control, analytics, reports, alerts


def test_every_token_route_is_documented_with_its_scope_and_refuses_without_a_token(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for route in ROUTES:
        if not route.documented:
            continue
        op = doc["paths"][route.openapi_path][route.method.lower()]
        path = re.sub(r"<int:\w+>", "1", route.path)
        path = _FLASK_PARAM.sub("x", path)
        resp = client.open(path, method=route.method)
        if route.scope in TOKEN_SCOPES:
            assert op["security"] == [{"bearer": []}] and f"`{route.scope}`" in op["description"]
            assert {"401", "403"} <= set(op["responses"]), route.path
            assert resp.status_code == 401, (route.method, route.path, resp.status_code)
            assert resp.get_json()["error"]["code"] == "unauthenticated"
        else:
            assert op["security"] == []


def test_operations_document_their_bodies_parameters_and_errors(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if "{" in path:
                assert "404" in op["responses"], (method, path)
                names = {p["name"] for p in op["parameters"] if p["in"] == "path"}
                assert names == set(re.findall(r"{(\w+)}", path))
            if method in ("post", "put", "patch") and "requestBody" in op:
                assert {"400", "413", "415", "422"} <= set(op["responses"]), (method, path)
            assert any(s.startswith("2") for s in op["responses"]), (method, path)
            assert op["operationId"] and op["summary"]


@pytest.mark.parametrize(
    "method,path,allowed",
    [("get", "/api/v1/ingest", "POST"), ("delete", "/api/v1/agents/atlas-01/kill", "POST"),
     ("put", "/api/v1/silences/3", "DELETE, GET, PATCH")],
)  # fmt: skip
def test_a_known_path_with_the_wrong_method_is_a_405_with_allow(client, method, path, allowed):
    resp = getattr(client, method)(path)
    assert resp.status_code == 405 and resp.headers["Allow"] == allowed
    assert resp.get_json()["error"]["details"]["allowed"] == allowed.split(", ")


def test_an_unknown_api_path_is_a_json_404(client):
    resp = client.get("/api/v1/no-such-thing")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
