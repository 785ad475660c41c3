"""The ingest use case, without Flask: body in, (status, JSON body) out.

parse and validate -> normalize usage -> price it -> store in one transaction -> answer. The answer is
rendered inside the transaction so that an Idempotency-Key replays exactly what was first sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from helicarrier.data.queries.ingest import IdempotencyConflict, Rejected, StoreOutcome
from helicarrier.data.repository import Repository
from helicarrier.ingest.errors import ApiError
from helicarrier.ingest.normalize import NORMALIZER_VERSION, NormalizedUsage
from helicarrier.ingest.validate import Batch, body_digest, field_errors, parse_body
from helicarrier.pricing import Cost, PriceBook
from helicarrier.pricing.registry import PriceBooks


@dataclass(frozen=True)
class Caller:
    token_id: int
    token_name: str


def usage_row(usage: NormalizedUsage, cost: Cost, raw: dict[str, Any]) -> dict[str, Any]:
    """The usage_events columns for one normalized, priced model call."""
    return {
        "provider": usage.provider,
        "model": usage.model,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "total_tokens": usage.total_tokens,
        "cost_nanos": cost.total_nanos,
        "reported_cost_nanos": cost.reported_nanos,
        "pricing_version": cost.pricing_version,
        "price_provider": cost.matched_provider,
        "price_model": cost.matched_model,
        "cost_provenance": cost.provenance,
        "cost_confidence": cost.confidence,
        "normalizer_version": NORMALIZER_VERSION,
        "warnings": list(usage.warnings) or None,
        "raw": raw,
    }


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


class IngestService:
    def __init__(self, repo: Repository, price_books: PriceBooks, *, max_batch_events: int = 5000):
        self.repo = repo
        self.price_books = price_books
        self.max_batch_events = max_batch_events

    def ingest(self, caller: Caller, body: bytes, idempotency_key: str | None, route: str) -> tuple[int, str]:
        batch = parse_body(body, default_source=caller.token_name, max_events=self.max_batch_events)
        book = self._book(batch)
        if not batch.events:
            raise ApiError(
                422,
                "all_events_rejected",
                f"none of the {batch.size} events is valid",
                sorted((r.as_result() for r in batch.rejections), key=lambda r: r["index"]),
            )
        usage_rows = {
            e.index: usage_row(e.usage, book.price(e.usage, e.ts), e.raw)
            for e in batch.events
            if e.usage is not None and not e.duplicate
        }
        idem = None
        if idempotency_key:
            if len(idempotency_key) > 255:
                raise ApiError(
                    422,
                    "invalid_idempotency_key",
                    "Idempotency-Key is longer than 255 characters",
                    {"field": "Idempotency-Key", "limit": 255},
                )
            idem = (caller.token_id, idempotency_key, route, body_digest(body))
        try:
            return self.repo.store_events(
                source=batch.source,
                events=batch.events,
                usage_rows=usage_rows,
                render=lambda outcome: render_outcome(batch, outcome),
                idempotency=idem,
                rejected=len(batch.rejections),
            )
        except IdempotencyConflict:
            raise ApiError(
                409,
                "idempotency_conflict",
                "this Idempotency-Key was used with a different request body; nothing was stored",
                {"idempotency_key": idempotency_key},
            ) from None
        except Rejected as rejected:
            return rejected.status, rejected.body

    def _book(self, batch: Batch) -> PriceBook:
        if batch.pricing_version is None:
            return self.price_books.active()
        book = self.price_books.get(batch.pricing_version)
        if book is None:
            raise ApiError(
                422,
                "unknown_pricing_version",
                f"pricingVersion: unknown price table {batch.pricing_version!r}",
                {"field": "pricingVersion", "known": self.price_books.names()},
            )
        return book

    def normalize_preview(self, data: Any, ts) -> dict[str, Any]:
        """``POST /api/v1/usage/normalize``: what a usage event would become, storing nothing."""
        from pydantic import ValidationError

        from helicarrier.ingest.normalize import UsageError
        from helicarrier.ingest.schemas import UsageData
        from helicarrier.ingest.validate import normalize_checked

        if not isinstance(data, dict):
            raise ApiError(422, "schema_violation", "the body must be a usage event's `data` object")
        try:
            UsageData.model_validate(data)
            usage = normalize_checked(data)
        except UsageError as exc:
            raise ApiError(
                422, "invalid_usage", f"{exc.field}: {exc.message}", {"field": exc.field}
            ) from None
        except ValidationError as exc:
            errors = field_errors(exc)
            first = errors[0]
            raise ApiError(422, "schema_violation", f"{first['field']}: {first['message']}", errors) from None
        cost = self.price_books.active().price(usage, ts)
        return {"usage": usage_json(usage), "cost": cost_json(cost)}


def usage_json(u: NormalizedUsage) -> dict[str, Any]:
    return {
        "provider": u.provider,
        "model": u.model,
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_read_tokens": u.cache_read_tokens,
        "cache_write_tokens": u.cache_write_tokens,
        "reasoning_tokens": u.reasoning_tokens,
        "total_tokens": u.total_tokens,
        "reported_total_tokens": u.reported_total_tokens,
        "web_search_requests": u.web_search_requests,
        "price_context": u.price_context,
        "warnings": list(u.warnings),
        "normalizer_version": NORMALIZER_VERSION,
    }


def cost_json(c: Cost) -> dict[str, Any]:
    from helicarrier.formatting import nanos_to_usd

    def usd(n: int | None) -> str | None:
        # Fixed-point, never exponent notation: 150 nano-dollars is "0.00000015", not "1.5E-7".
        return None if n is None else format(nanos_to_usd(n), "f")

    # Money as decimal strings: JSON numbers are floats to most clients.
    return {
        "total_usd": usd(c.total_nanos),
        "input_usd": usd(c.input_nanos),
        "output_usd": usd(c.output_nanos),
        "reported_usd": usd(c.reported_nanos),
        "total_nanos": c.total_nanos,
        "pricing_version": c.pricing_version,
        "matched_provider": c.matched_provider,
        "matched_model": c.matched_model,
        "price_ts": c.price_ts.isoformat(),
        "provenance": c.provenance,
        "confidence": c.confidence,
        "reason": c.reason,
    }


def render_outcome(batch: Batch, outcome: StoreOutcome) -> tuple[int, str]:
    """200 when every event was taken (stored or duplicate), 207 when some were rejected, 422 when none."""
    ids = {e.index: e.id for e in batch.events}
    results: list[dict[str, Any]] = [r.as_result() for r in batch.rejections]
    for index, (code, message, fld) in outcome.refused.items():
        if batch.version == "v1":
            # One event: its refusal is the request's error, as a v1 schema violation is.
            err = {"code": code, "message": f"{fld}: {message}", "details": {"field": fld}}
            return 422, _dumps({"error": err})
        fld = f"events[{index}].data.{fld}"
        results.append(
            _result(index, ids, "rejected", {"code": code, "message": f"{fld}: {message}", "field": fld})
        )
    rejected = len(results)
    for index in outcome.duplicates:
        results.append(_result(index, ids, "duplicate"))
    for index in outcome.stored:
        results.append(_result(index, ids, "accepted"))
    results.sort(key=lambda r: r["index"])
    counts = {"accepted": len(outcome.stored), "duplicates": len(outcome.duplicates), "rejected": rejected}
    if rejected == 0:
        return 200, _dumps(counts)
    if counts["accepted"] == 0 and counts["duplicates"] == 0:
        err = {
            "code": "all_events_rejected",
            "message": f"none of the {batch.size} events is valid",
            "details": results,
        }
        return 422, _dumps({"error": err})
    return 207, _dumps({**counts, "results": results})


def _result(index: int, ids: dict[int, str | None], status: str, error: dict | None = None) -> dict[str, Any]:
    return {"index": index, "id": ids.get(index), "status": status, "error": error}
