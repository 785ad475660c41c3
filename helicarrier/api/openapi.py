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

from helicarrier.analytics import schemas as a
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
class Param:
    """A path or query parameter."""

    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    where: str = "query"
    required: bool = False
    repeat: bool = False  # may be given several times (an array in OpenAPI terms)

    def document(self) -> dict[str, Any]:
        schema = {"type": "array", "items": self.schema} if self.repeat else self.schema
        out: dict[str, Any] = {
            "name": self.name,
            "in": self.where,
            "required": self.required or self.where == "path",
            "description": self.description,
            "schema": schema,
        }
        if self.repeat:
            out["style"], out["explode"] = "form", True
        return out


_DATE = "A date YYYY-MM-DD (a whole local day in `tz`) or an ISO 8601 time with an offset."
_RANGE = (
    Param("from", f"Start. {_DATE} Default: 30 days before `to`."),
    Param("to", f"End. {_DATE} A date is included, a time excluded. Default: today."),
    Param(
        "tz", "IANA time zone of dates and day buckets. Default UTC.", {"type": "string", "default": "UTC"}
    ),
)


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
    params: tuple[Param, ...] = ()


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
    Operation(
        "/api/v1/sessions",
        "get",
        "Sessions (the Ledger): filtered, sorted, cursor-paginated",
        "read",
        responses={200: a.SessionsResponse},
        errors=(401, 403, 422),
        params=(
            Param("agent", "Agent id(s); repeat or comma-separate.", repeat=True),
            Param("model", "Model(s).", repeat=True),
            Param("provider", "Provider(s).", repeat=True),
            Param(
                "status",
                "Status(es).",
                {"type": "string", "enum": ["running", "succeeded", "failed", "timeout", "killed"]},
                repeat=True,
            ),
            Param("label", "`key=value`; repeat for several (same key: any of them).", repeat=True),
            Param("from", f"Sessions started at or after. {_DATE}"),
            Param("to", f"Sessions started before. {_DATE} A date is included."),
            Param("tz", "Time zone of dates in from/to. Default UTC."),
            Param("q", "Case-insensitive text in the task or the error."),
            Param(
                "sort",
                "Sort column.",
                {
                    "type": "string",
                    "enum": [
                        "started_at",
                        "cost_nanos",
                        "runtime_s",
                        "total_tokens",
                        "agent_id",
                        "model",
                        "status",
                    ],
                    "default": "started_at",
                },
            ),
            Param("order", "Sort order.", {"type": "string", "enum": ["asc", "desc"], "default": "desc"}),
            Param("cursor", "`next_cursor` of the previous page."),
            Param("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}),
        ),
    ),
    Operation(
        "/api/v1/sessions/{session_id}",
        "get",
        "One session: usage timeline, logs, commands, token and cost breakdown",
        "read",
        responses={200: a.SessionDetailResponse},
        errors=(401, 403, 404),
        params=(Param("session_id", "The session id.", where="path"),),
    ),
    Operation(
        "/api/v1/usage",
        "get",
        "Usage totals and a daily or hourly series of cost and tokens",
        "read",
        responses={200: a.UsageResponse},
        errors=(401, 403, 422),
        params=(
            *_RANGE,
            Param(
                "group_by",
                "Split the series by: nothing (day), model, provider or agent.",
                {"type": "string", "enum": ["day", "model", "provider", "agent"], "default": "day"},
            ),
            Param(
                "granularity",
                "Day buckets (local days in tz) or hour buckets (ranges up to 31 days).",
                {"type": "string", "enum": ["day", "hour"], "default": "day"},
            ),
        ),
    ),
    Operation(
        "/api/v1/models/matrix",
        "get",
        "Model x task kind success matrix with 95% intervals, ranking and ties",
        "read",
        responses={200: a.ModelMatrixResponse},
        errors=(401, 403, 422),
        params=(
            *_RANGE,
            Param(
                "min_samples",
                "Cells with fewer sessions are marked insufficient.",
                {"type": "integer", "minimum": 1, "default": 20},
            ),
        ),
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
        if op.headers or op.params:
            entry["parameters"] = [
                {"name": h, "in": "header", "required": False, "schema": {"type": "string", "maxLength": 255}}
                for h in op.headers
            ] + [p.document() for p in op.params]
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
