"""What a route declares: its method and path, its view, who may call it, and what it takes and answers. The
route table (``helicarrier.api.routes``) is a list of these; the Flask rules and the OpenAPI document are
both generated from it, so they cannot drift."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

# Who may call a route: a token scope, a signed-in user of the HUD, or anyone.
TOKEN_SCOPES = ("ingest", "read", "control", "admin")
USER = "user"
PUBLIC = None

_PATH_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_CONVERTER_SCHEMAS = {
    None: {"type": "string", "minLength": 1, "maxLength": 128},
    "int": {"type": "integer", "minimum": 0},
}
# The largest id each numeric path parameter's column holds (alerts are BIGINT, the others INTEGER): a
# larger number names nothing (404) rather than overflow the driver (a 500).
# Agent, session and command ids are at most 128 characters (the ingest contract; VARCHAR(128) columns): a
# longer one in a path names nothing, and the poll would otherwise try to claim it (a 500 on PostgreSQL).
MAX_TEXT_ID = 128
ID_MAXIMA = {
    "alert_id": 2**63 - 1,
    "rule_id": 2**31 - 1,
    "silence_id": 2**31 - 1,
    "receiver_id": 2**31 - 1,
    "budget_id": 2**31 - 1,
}
# Descriptions of the path parameters every resource uses.
PATH_PARAMS = {
    "agent_id": "The agent's id.",
    "command_id": "The command's id.",
    "session_id": "The session's id.",
    "rule_id": "The alert rule's id.",
    "budget_id": "The budget's id.",
    "alert_id": "The alert's id.",
    "silence_id": "The silence's id.",
    "receiver_id": "The receiver's id.",
    "name": "The report's file name.",
}


def _path_schema(converter: str | None, name: str) -> dict[str, Any]:
    schema = dict(_CONVERTER_SCHEMAS[converter or None])
    if converter == "int":
        schema["maximum"] = ID_MAXIMA.get(name, 2**63 - 1)  # BIGINT unless the column is narrower
    return schema


@dataclass(frozen=True)
class Param:
    """A query parameter (or a header)."""

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
            "required": self.required,
            "description": self.description,
            "schema": schema,
        }
        if self.repeat:
            out["style"], out["explode"] = "form", True
        return out


Models = type[BaseModel] | tuple[type[BaseModel], ...] | None


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # a Flask rule: /api/v1/agents/<agent_id>/kill, /api/v1/alert-rules/<int:rule_id>
    view: Callable[..., Any]
    summary: str
    scope: str | None = PUBLIC  # a token scope, USER, or PUBLIC
    request: Models = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=lambda: {200: None})
    errors: tuple[int, ...] = ()  # beyond those every route of its kind can answer (see ``error_statuses``)
    params: tuple[Param, ...] = ()
    media_type: str = "application/json"  # of the 2xx answers
    # Answer 200 and an empty JSON object when the server fails or is slow (a hook must never block its
    # caller): see ``helicarrier.api.failopen``. Refusals of the request itself (4xx) are still answered.
    fail_open: bool = False
    # 503 `maintenance` while maintenance is on, before anything (even a token's last use) is written: a
    # cutover copies the database meanwhile, and a write after its table was copied would be lost. None:
    # every API route that is not a GET (what agents report, what operators change); a GET that writes
    # (the command poll marks commands delivered) says True, a POST that only answers (a preview) False.
    paused_in_maintenance: bool | None = None
    # A boolean setting (a Settings field) that, when on, lets anyone call the route without a token.
    open_setting: str | None = None
    # In the OpenAPI document: every /api/ route, and a route outside it that says so (``/metrics``).
    in_openapi: bool | None = None

    @property
    def documented(self) -> bool:
        return self.is_api if self.in_openapi is None else self.in_openapi

    @property
    def paused(self) -> bool:
        if self.paused_in_maintenance is None:
            return self.is_api and self.method != "GET"
        return self.paused_in_maintenance

    @property
    def endpoint(self) -> str:
        """Unique per route: a view may serve the API and the HUD (a report's download)."""
        where = "" if self.is_api else "web."
        return f"{where}{self.view.__module__.rsplit('.', 1)[-1]}.{self.view.__name__}"

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def openapi_path(self) -> str:
        return _PATH_PARAM.sub(lambda m: "{" + m.group(2) + "}", self.path)

    def path_params(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": PATH_PARAMS.get(name, name),
                "schema": _path_schema(converter, name),
            }
            for converter, name in _PATH_PARAM.findall(self.path)
        ]

    def request_models(self) -> tuple[type[BaseModel], ...]:
        if self.request is None:
            return ()
        return self.request if isinstance(self.request, tuple) else (self.request,)

    def error_statuses(self) -> tuple[int, ...]:
        """Every error this route can answer: its own, and those of its kind (a token route: 401 and 403;
        a path parameter: 404; a JSON body: 400, 413, 415 and 422; query parameters: 422)."""
        found = set(self.errors)
        if self.scope in TOKEN_SCOPES:
            found |= {401, 403}
        if _PATH_PARAM.search(self.path):
            found.add(404)
        if self.request is not None:
            found |= {400, 413, 415, 422}
        if self.params:
            found.add(422)
        if self.paused:
            found.add(503)
        return tuple(sorted(found))
