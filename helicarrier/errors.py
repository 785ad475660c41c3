"""The one refusal type. It sits at the bottom of the import graph: the data layer, the services, the HTTP API
and the pages all raise or catch it, and it imports nothing of Helicarrier's.

A ``Refused`` means the request changed nothing (at most it left an audit entry). It carries what the HTTP
API answers: a status, a machine-readable code, a message that names the field at fault first, and details.
"""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        # Sent with the answer: Allow on a 405, Retry-After on a 429 or 503.
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    @classmethod
    def invalid(cls, field: str, message: str, code: str = "schema_violation", **details: Any) -> Refused:
        """A 422 naming its field: ``field: message`` and ``details.field``."""
        return cls(422, code, f"{field}: {message}", {"field": field, **details})
