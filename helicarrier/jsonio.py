"""Reading JSON a client sent: one parser for every body (orjson: parsing is the largest single cost of
ingest), and one refusal for what is not JSON."""

from __future__ import annotations

from typing import Any

import orjson

from helicarrier.errors import Refused


def parse_json(body: bytes | str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refused(400, "malformed_json", f"request body is not valid JSON: {exc}") from None
