"""The OpenAPI 3.1 document, generated from the pydantic models that validate the requests.

Routes declare their operation here (path, method, models); the schemas themselves come from pydantic, so
the document cannot drift from what the server accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from helicarrier.ingest import schemas as s


# Named like the models they document: the component names are the class names ("V2Envelope", "V2Event").
class V2Event(s.V2Event):
    """One event of a v2 batch; ``data`` follows the model of its ``type``."""

    data: (
        s.HeartbeatData | s.SessionStartData | s.SessionEndData | s.UsageData | s.LogData | s.CommandAckData
    ) = Field(description="agent.heartbeat: HeartbeatData, session.start: SessionStartData, ... by `type`.")


class V2Envelope(s.V2Envelope):
    model_config = ConfigDict(title="V2Envelope", populate_by_name=True, extra="forbid")

    events: list[V2Event] = Field(min_length=1)


class NormalizeResponse(BaseModel):
    usage: dict[str, Any]
    cost: dict[str, Any]


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    summary: str
    scope: str | None
    request: type[BaseModel] | tuple[type[BaseModel], ...] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    headers: tuple[str, ...] = ()
    errors: tuple[int, ...] = (400, 401, 403, 413, 415, 422)


OPERATIONS: list[Operation] = [
    Operation(
        "/api/v1/ingest",
        "post",
        "Report events: one v1 event or a v2 batch",
        "ingest",
        (s.V1Envelope, V2Envelope),
        {200: s.IngestResponse, 207: s.IngestResponse},
        headers=("Idempotency-Key",),
        errors=(400, 401, 403, 409, 413, 415, 422),
    ),
    Operation(
        "/api/v1/usage/normalize",
        "post",
        "Normalize and price one usage event's data, storing nothing",
        "ingest",
        s.UsageData,
        {200: NormalizeResponse},
    ),
]


@cache
def openapi_document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [s.ErrorResponse]
    for op in OPERATIONS:
        reqs = op.request if isinstance(op.request, tuple) else (op.request,) if op.request else ()
        models.extend(reqs)
        models.extend(m for m in op.responses.values() if m is not None)
    unique = list(dict.fromkeys(models))
    keys, defs = models_json_schema(
        [(m, "validation") for m in unique], ref_template="#/components/schemas/{model}"
    )
    schemas = defs.get("$defs", {})
    ref = {m: keys[(m, "validation")] for m in unique}
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        reqs = op.request if isinstance(op.request, tuple) else (op.request,) if op.request else ()
        entry: dict[str, Any] = {
            "summary": op.summary,
            "security": [{"bearer": []}] if op.scope else [],
            "responses": {},
        }
        if op.scope:
            entry["description"] = f"Needs a token with the `{op.scope}` scope."
        if reqs:
            schema = ref[reqs[0]] if len(reqs) == 1 else {"oneOf": [ref[m] for m in reqs]}
            entry["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
        if op.headers:
            entry["parameters"] = [
                {"name": h, "in": "header", "required": False, "schema": {"type": "string", "maxLength": 255}}
                for h in op.headers
            ]
        for status, model in op.responses.items():
            resp: dict[str, Any] = {"description": "OK" if status == 200 else "Partial success"}
            if model is not None:
                resp["content"] = {"application/json": {"schema": ref[model]}}
            entry["responses"][str(status)] = resp
        for status in op.errors:
            entry["responses"][str(status)] = {
                "description": "Error",
                "content": {"application/json": {"schema": ref[s.ErrorResponse]}},
            }
        paths.setdefault(op.path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "Helicarrier API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
