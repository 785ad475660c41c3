"""docs/api.md cannot drift: every curl example in it is posted to the real app (both backends) and must
succeed; a response shown right after an example must be the response the server gives; every event type has
an example and every error code the code can send is documented."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
from sqlalchemy import insert

from helicarrier.alerts import engine
from helicarrier.api.routes import ROUTES
from helicarrier.config import Settings
from helicarrier.data.models import Agent, Command, LogEvent, Session, UsageEvent
from helicarrier.ingest.schemas import EVENT_TYPES
from helicarrier.ingest.validate import MAX_TOKEN_COUNT
from helicarrier.reports.jobs import write_scheduled_reports

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "api.md"
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)
# The command the command.ack examples answer, and the agent it was sent to.
DOC_COMMAND = ("3f6c1a2e-8d4b-4e1f-9a7c-5b2d0e6f1a38", "builder-7")


TOKENS = {  # the variables the examples read, and the scopes of their tokens
    "$HELICARRIER_TOKEN": "ingest",
    "$HELICARRIER_CONTROL_TOKEN": "control",
    "$HELICARRIER_READ_TOKEN": "read",
    "$HELICARRIER_ADMIN_TOKEN": "admin",
}


@dataclass
class Example:
    line: int
    method: str
    path: str
    headers: dict[str, str]
    body: str | None
    shown_response: Any  # the ```json block right after the example, if any


def _curl(block: str, line: int) -> tuple[str, str, dict[str, str], str | None]:
    args = shlex.split(block.replace("\\\n", " "))
    assert args[0] == "curl", f"docs/api.md:{line}: a bash block with curl must start with it"
    url = next(a for a in args if a.startswith("$HELICARRIER_URL/"))
    headers: dict[str, str] = {}
    body = None
    method = None
    for flag, value in zip(args, args[1:], strict=False):
        if flag == "-H":
            name, _, val = value.partition(":")
            headers[name.strip()] = val.strip()
        elif flag in ("-d", "--data", "--data-raw"):
            body = value
        elif flag == "-X":
            method = value
    method = method or ("POST" if body is not None else "GET")
    return method, url.removeprefix("$HELICARRIER_URL"), headers, body


def examples() -> list[Example]:
    text = DOC.read_text()
    fences = list(FENCE.finditer(text))
    out = []
    for i, m in enumerate(fences):
        lang, block = m.group(1), m.group(2)
        if lang != "bash" or not block.lstrip().startswith("curl"):
            continue
        line = text.count("\n", 0, m.start()) + 1
        method, path, headers, body = _curl(block, line)
        shown = None
        nxt = fences[i + 1] if i + 1 < len(fences) else None
        if nxt is not None and nxt.group(1) == "json" and not text[m.end() : nxt.start()].strip():
            shown = json.loads(nxt.group(2))
        out.append(Example(line, method, path, headers, body, shown))
    return out


def _without(obj: Any, keys: set[str]) -> Any:
    if isinstance(obj, dict):
        return {k: _without(v, keys) for k, v in obj.items() if k not in keys}
    if isinstance(obj, list):
        return [_without(v, keys) for v in obj]
    return obj


def _types(body: dict[str, Any]) -> set[str]:
    if body.get("version") == "v2":
        return {e["type"] for e in body["events"]}
    return {body["type"]} if "type" in body else set()


class Runner:
    """Runs the examples in order as a shell would: the tokens and ``$COMMAND_ID``/``$ALERT_ID`` (the id in
    the answer before) filled in; each 2xx JSON answer checked against its route's documented schema."""

    def __init__(self, api, tokens: dict[str, str], schemas: dict[str, Any]):
        self.api, self.tokens, self.doc = api, tokens, schemas
        self.vars: dict[str, str] = {}

    def fill(self, text: str) -> str:
        for name, value in {**self.tokens, **self.vars}.items():
            text = text.replace(name, value)
        return text

    def run(self, ex: Example):
        headers = {k: self.fill(v) for k, v in ex.headers.items()}
        body = None if ex.body is None else self.fill(ex.body).encode()
        resp = self.api.client.open(self.fill(ex.path), method=ex.method, data=body, headers=headers)
        if resp.mimetype == "application/json" and resp.status_code < 300:
            answer = resp.get_json()
            self.check_schema(ex, resp.status_code, answer)
            command = answer.get("command") or (answer.get("commands") or [None])[0]
            if command:
                self.vars["$COMMAND_ID"] = command["id"]
            if answer.get("alerts"):
                self.vars["$ALERT_ID"] = str(answer["alerts"][0]["id"])
        return resp

    def check_schema(self, ex: Example, status: int, answer: Any) -> None:
        path = self.fill(ex.path).split("?")[0]
        for route_path, ops in self.doc["paths"].items():
            pattern = "^" + re.sub(r"\{\w+\}", "[^/]+", route_path) + "$"
            op = ops.get(ex.method.lower())
            if (
                op is None
                or not re.match(pattern, path)
                or (route_path.endswith("}") and "{" not in route_path)
            ):
                continue
            schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
            jsonschema.validate(answer, {**schema, "components": self.doc["components"]})
            return
        raise AssertionError(f"docs/api.md:{ex.line}: no documented operation for {ex.method} {path}")


def _seed_before(ex: Example, api, done: set[str]) -> None:
    """What the docs assume has happened by then: a day's reports written, an alert evaluation run."""
    if ex.path.startswith("/api/v1/reports") and "reports" not in done:
        write_scheduled_reports(api.repo, api.ctx.settings.data_dir, datetime(2026, 3, 3, 0, 15, tzinfo=UTC))
        done.add("reports")
    if ex.path.startswith("/api/v1/alerts?") and "alerts" not in done:
        engine.run_cycle(api.repo)
        done.add("alerts")


def test_every_curl_example_succeeds_and_shows_the_real_response(make_api, make_token):
    # The examples' events are from March 2026: for the kill example, builder-7 must still count as online.
    api = make_api(offline_after_s=10**9)
    command_id, agent = DOC_COMMAND
    now = datetime.now(UTC)
    with api.repo.engine.begin() as conn:
        conn.execute(insert(Agent).values(id=agent, name=agent, status="idle", updated_at=now))
        conn.execute(
            insert(Command).values(
                id=command_id,
                agent_id=agent,
                kind="inject",
                state="delivered",
                issued_by="operator",
                created_at=now,
                expires_at=now + timedelta(minutes=5),
                updated_at=now,
            )
        )
    tokens = {
        var: api.token if scope == "ingest" else make_token(f"docs-{scope}", scope)
        for var, scope in TOKENS.items()
    }
    runner = Runner(api, tokens, api.client.get("/api/v1/openapi.json").get_json())
    found = examples()
    assert len(found) >= 25
    assert sum(ex.shown_response is not None for ex in found) >= 4
    seeded: set[str] = set()
    for ex in found:
        _seed_before(ex, api, seeded)
        resp = runner.run(ex)
        where = f"docs/api.md:{ex.line}"
        assert 200 <= resp.status_code < 300, f"{where}: {resp.status_code} {resp.get_data(as_text=True)}"
        if ex.shown_response is not None:
            # The preview is priced "now"; everything else must be exactly what the doc shows.
            assert _without(resp.get_json(), {"price_ts"}) == _without(ex.shown_response, {"price_ts"}), where
    # They really were stored, as the examples promise.
    assert api.count(UsageEvent) == 2
    assert api.count(LogEvent) == 3
    sessions = {s.id: s.status for s in api.rows(Session)}
    assert sessions == {"sess-001": "failed", "sess-002": "succeeded", "sess-003": "killed"}
    assert seeded == {"reports", "alerts"}


def test_the_route_table_in_the_doc_lists_every_api_route():
    doc = DOC.read_text()
    listed = set(re.findall(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/api/v1/[^`]*)` \|", doc, re.M))
    routes = {(r.method, r.openapi_path) for r in ROUTES if r.is_api}
    assert listed == routes


def test_every_event_type_has_a_curl_example():
    shown: set[str] = set()
    for ex in examples():
        if ex.path == "/api/v1/ingest":
            shown |= _types(json.loads(ex.body))
    assert shown >= set(EVENT_TYPES), set(EVENT_TYPES) - shown


def _codes_in_source() -> set[str]:
    """Every error code the API can answer: the refusals raised anywhere but the HUD's pages and sign-in."""
    hud = {"layouts", "callbacks", "web.py"}
    codes: set[str] = set()
    for path in (ROOT / "helicarrier").rglob("*.py"):
        if hud & set(path.parts):
            continue
        text = path.read_text()
        codes |= set(re.findall(r'Refused\(\s*\d{3},\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'refused\[[^\]]+\] = \(\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'"code": "([a-z_]+)"', text))
        codes |= set(re.findall(r'code="([a-z_]+)"', text))
    return codes


def test_every_error_code_is_documented():
    codes = _codes_in_source()
    assert {"malformed_json", "invalid_token", "idempotency_conflict", "unknown_command"} <= codes
    doc = DOC.read_text()
    missing = sorted(c for c in codes if f"`{c}`" not in doc)
    assert not missing, f"error codes missing from docs/api.md: {missing}"


def test_documented_limits_are_the_defaults():
    doc = DOC.read_text()
    defaults = Settings(data_dir=ROOT, database_url="sqlite://")
    assert defaults.max_body_bytes == 5 * 1024 * 1024 and "5 MiB (5,242,880 bytes)" in doc
    assert defaults.max_batch_events == 5000 and "| 5,000 |" in doc
    assert MAX_TOKEN_COUNT == 10**12 and "10^12" in doc
