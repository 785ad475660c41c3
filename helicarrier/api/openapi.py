"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 document, generated from the route table and the pydantic
models of each route's request and answers, so it cannot drift from what the server serves."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from helicarrier.api.spec import TOKEN_SCOPES, Route
from helicarrier.ingest.schemas import ErrorResponse

_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    207: "Partial success: see each item's status",
    400: "The body is not valid JSON",
    401: "No token, or an unknown or revoked one",
    403: "Not allowed to this token or user",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflicts with the current state",
    413: "Too large",
    415: "Not JSON",
    422: "A field or parameter is invalid (named in the error)",
    503: "Unavailable for now: retry after Retry-After",
}


def _models(routes: tuple[Route, ...]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = [ErrorResponse]
    for route in routes:
        found.extend(route.request_models())
        found.extend(m for m in route.responses.values() if m is not None)
    return list(dict.fromkeys(found))


def _operation(route: Route, ref: dict[type[BaseModel], dict]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.endpoint.replace(".", "_"),
        "summary": route.summary,
        "tags": [route.view.__module__.rsplit(".", 1)[-1]],
        "security": [{"bearer": []}] if route.scope in TOKEN_SCOPES else [],
        "responses": {},
    }
    if route.scope in TOKEN_SCOPES:
        op["description"] = f"Needs a token with the `{route.scope}` scope."
        if route.open_setting:
            op["description"] += f" None when `HELICARRIER_{route.open_setting.upper()}=1`."
    params = route.path_params() + [p.document() for p in route.params]
    if params:
        op["parameters"] = params
    models = route.request_models()
    if models:
        schema = ref[models[0]] if len(models) == 1 else {"oneOf": [ref[m] for m in models]}
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    for status, model in route.responses.items():
        answer: dict[str, Any] = {"description": _DESCRIPTIONS.get(status, "OK")}
        if model is not None:
            answer["content"] = {route.media_type: {"schema": ref[model]}}
        elif route.media_type != "application/json":
            answer["content"] = {route.media_type: {"schema": {"type": "string"}}}
        op["responses"][str(status)] = answer
    for status in route.error_statuses():
        op["responses"][str(status)] = {
            "description": _DESCRIPTIONS.get(status, "Error"),
            "content": {"application/json": {"schema": ref[ErrorResponse]}},
        }
    return op


@cache
def openapi_document() -> dict[str, Any]:
    from helicarrier.api.routes import ROUTES

    routes = tuple(r for r in ROUTES if r.documented)
    models = _models(routes)
    keys, defs = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    ref = {m: keys[(m, "validation")] for m in models}
    paths: dict[str, Any] = {}
    for route in routes:
        paths.setdefault(route.openapi_path, {})[route.method.lower()] = _operation(route, ref)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Helicarrier API",
            "version": "1",
            "description": "A method a path does not list answers `405 method_not_allowed` with the "
            "`Allow` header naming those it does (components.responses.MethodNotAllowed).",
        },
        "paths": paths,
        "components": {
            "responses": {
                "MethodNotAllowed": {
                    "description": _DESCRIPTIONS[405],
                    "headers": {
                        "Allow": {
                            "description": "The methods the path answers, e.g. `GET, POST`.",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^[A-Z]+(, [A-Z]+)*$"},
                        }
                    },
                    "content": {"application/json": {"schema": ref[ErrorResponse]}},
                }
            },
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
