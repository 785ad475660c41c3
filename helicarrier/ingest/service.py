"""The ingest use case, without Flask: body in, (status, JSON body) out.

parse and validate -> normalize usage -> price it -> store in one transaction -> answer. The answer is
rendered inside the transaction so that an Idempotency-Key replays exactly what was first sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from helicarrier.auth.binding import Speaker
from helicarrier.control.service import ControlService
from helicarrier.control.validation import AckAnswer
from helicarrier.data.queries.ingest import IdempotencyConflict
from helicarrier.data.repository import Repository, Tx
from helicarrier.data.types import utcnow
from helicarrier.errors import Refused
from helicarrier.fleet.service import NOT_BOUND, FleetService
from helicarrier.ingest.fold import fold_agents, started_agents
from helicarrier.ingest.normalize import NORMALIZER_VERSION, NormalizedUsage
from helicarrier.ingest.validate import (
    Batch,
    EventRejected,
    body_digest,
    field_errors,
    parse_body,
    parse_v2,
)
from helicarrier.money import usd_text
from helicarrier.observability import metrics
from helicarrier.observability.tracing import set_attributes, span
from helicarrier.pricing import Cost, PriceBook
from helicarrier.pricing.registry import PriceBooks
from helicarrier.usage_fields import TOKEN_FIELDS


def usage_row(usage: NormalizedUsage, cost: Cost, raw: dict[str, Any]) -> dict[str, Any]:
    """The usage_events columns for one normalized, priced model call."""
    return {
        "provider": usage.provider,
        "model": usage.model,
        **{f: getattr(usage, f) for f in TOKEN_FIELDS},
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


SOURCE_NOTE_EVERY_S = 60
log = logging.getLogger("helicarrier.ingest")


@dataclass(slots=True)
class StoreOutcome:
    """What happened to each event that passed validation: stored, a duplicate of one already stored, or
    refused by what the database knows (an answer to an unknown command)."""

    stored: list[int] = field(default_factory=list)  # event indexes
    duplicates: list[int] = field(default_factory=list)
    # index -> (code, message, field of the event's data at fault)
    refused: dict[int, tuple[str, str, str]] = field(default_factory=dict)


class Rejected(Exception):
    """The rendered answer is an error: roll back, store nothing (not even the Idempotency-Key)."""

    def __init__(self, status: int, body: str):
        super().__init__(status)
        self.status = status
        self.body = body


class IngestService:
    def __init__(
        self,
        repo: Repository,
        price_books: PriceBooks,
        control: ControlService,
        fleet: FleetService,
        *,
        max_batch_events: int = 5000,
    ):
        self.repo = repo
        self.price_books = price_books
        self.control = control
        self.fleet = fleet
        self.max_batch_events = max_batch_events
        self._sources_noted: dict[tuple, float] = {}

    def ingest(
        self,
        speaker: Speaker,
        body: bytes,
        idempotency_key: str | None,
        route: str,
        remote_addr: str | None = None,
    ) -> tuple[int, str]:
        """parse and validate -> normalize -> price -> store in one transaction -> (status, JSON body).
        Events for agents the speaker's token does not speak for are refused one by one (audited)."""
        try:
            batch = parse_body(body, default_source=speaker.token_name, max_events=self.max_batch_events)
        except EventRejected as rejected:
            metrics.count_events([(rejected.event_type, "rejected", rejected.code)])
            raise
        # The key is at most 255 characters: checked by the HTTP layer.
        keyed = idempotency_key and speaker.token_id is not None
        idem = (speaker.token_id, idempotency_key, route, body_digest(body)) if keyed else None
        return self._ingest_batch(speaker, batch, idem, remote_addr)

    def ingest_document(self, speaker: Speaker, doc: dict[str, Any], remote_addr: str | None = None):
        """A v2 batch another receiver built (OTLP): validated, normalized, priced, bound and stored exactly
        as a posted one, without a round trip through JSON. -> (status, JSON body) as ``ingest``."""
        batch = parse_v2(doc, max_events=self.max_batch_events)
        return self._ingest_batch(speaker, batch, None, remote_addr)

    def _ingest_batch(self, speaker: Speaker, batch: Batch, idem, remote_addr: str | None) -> tuple[int, str]:
        book = self._book(batch)
        if not batch.events:
            metrics.count_events(_rejections(batch))
            raise Refused(
                422,
                "all_events_rejected",
                f"none of the {batch.size} events is valid",
                sorted((r.as_result() for r in batch.rejections), key=lambda r: r["index"]),
            )
        with span("ingest.price", pricing__version=book.version):
            usage_rows = _priced_usage_rows(batch, book)
        unbound: set[str] = set()
        drift: list[tuple[str, str, str]] = []
        outcomes: list[StoreOutcome] = []  # the last attempt's (none when a key's answer was replayed)
        try:
            with span("ingest.store", ingest__events=len(batch.events)):
                answer = self.repo.run_transaction(
                    lambda tx: self._store(tx, speaker, batch, usage_rows, idem, unbound, drift, outcomes)
                )
        except IdempotencyConflict:
            raise Refused(
                409,
                "idempotency_conflict",
                "this Idempotency-Key was used with a different request body; nothing was stored",
                {"idempotency_key": idem[1] if idem else None},
            ) from None
        except Rejected as rejected:
            metrics.count_events(_event_outcomes(batch, outcomes[-1]))
            return rejected.status, rejected.body
        finally:
            # After the transaction, and whatever became of it: a refused attempt is worth knowing about.
            self.fleet.audit_refusal(speaker, unbound, "ingest", remote_addr)
        if outcomes:
            metrics.count_events(_event_outcomes(batch, outcomes[-1]))
        self._note_source(batch, speaker)
        self._note_drift(drift)
        return answer

    def _note_drift(self, drift: list[tuple[str, str, str]]) -> None:
        """Unknown usage fields of the calls just stored, counted after the fact: the events are stored
        whatever becomes of this."""
        if not drift:
            return
        try:
            self.repo.note_usage_drift(drift, utcnow())
        except Exception:  # noqa: BLE001 - a count must never fail a request whose events are stored
            log.exception("could not count unknown usage fields")

    def _store(
        self,
        tx: Tx,
        speaker: Speaker,
        batch: Batch,
        usage_rows,
        idem,
        unbound: set,
        drift: list,
        outcomes: list,
    ) -> tuple[int, str]:
        received = utcnow()
        if idem is not None:
            token_id, key, route, digest = idem
            replay = tx.claim_idempotency_key(token_id, key, route, digest, received)
            if replay is not None:
                return replay.status_code, replay.response
        unbound.clear()  # a retried transaction decides again
        drift.clear()
        outcome = self._store_events(tx, speaker, batch, usage_rows, unbound, drift, received)
        outcomes.append(outcome)
        set_attributes(
            ingest__stored=len(outcome.stored),
            ingest__duplicates=len(outcome.duplicates),
            ingest__refused=len(outcome.refused),
        )
        status, body = render_outcome(batch, outcome)
        if status >= 400:
            raise Rejected(status, body)
        # Counted for the ingest rejection-rate alert, in the same transaction as the events.
        refused = len(outcome.refused) + len(batch.rejections)
        tx.record_ingest_stats(len(outcome.stored), len(outcome.duplicates), refused, received)
        if idem is not None:
            tx.save_receipt(idem[0], idem[1], status, body)
        return status, body

    def _store_events(
        self,
        tx: Tx,
        speaker: Speaker,
        batch: Batch,
        usage_rows,
        unbound: set,
        drift: list,
        received,
        *,
        history: bool = False,
    ) -> StoreOutcome:
        """Bind, deduplicate, answer commands, store and roll up one checked batch's events in ``tx``.
        Adds the agents the speaker may not speak for to ``unbound`` and the unknown usage fields of the
        stored calls to ``drift``. ``history``: the events are a record of the past (an import), so a
        session start in them does not restart a killed agent."""
        outcome = StoreOutcome()
        unbound |= self.fleet.speak_for(tx, speaker, {e.agent_id for e in batch.events}, received)
        live = self._refuse_unbound(batch.events, unbound, speaker, outcome)
        live = self._refuse_unknown_commands(tx, live, outcome)
        live = self._drop_duplicates(tx, batch.source, live, outcome, received)
        live = self._apply_acks(tx, batch.source, live, outcome, received)
        if live:
            late_starts = tx.ended_session_ids(e.session_id for e in live if e.type == "session.start")
            agents, ended = fold_agents(live, late_starts, received)
            tx.store_batch(batch.source, live, agents, ended, usage_rows, received)
            if not history:
                self.control.restart_agents(tx, started_agents(live, late_starts), received)
            usage = [(e.agent_id, e.session_id, e.ts) for e in live if e.type == "usage"]
            self.control.flag_ineffective_kills(tx, usage, received)
        outcome.stored = [e.index for e in live]
        drift.extend(seen for e in live if e.type == "usage" for seen in e.drift)
        return outcome

    def store_staged(
        self, speaker: Speaker, batches: Sequence[Batch], advance: Callable[[int], None] | None = None
    ) -> list[StoreOutcome]:
        """Checked batches (a staged import, ``helicarrier.operations.legacy_import``) stored in ONE
        transaction: all of them, or on any failure none. Each is priced with the active table, bound,
        deduplicated by (source, event id) and rolled up exactly as a posted batch; their rejections are
        the caller's to report and are not counted here. They are history: a session start in them does
        not restart a killed agent. ``advance(n)`` follows the progress (n events)."""
        book = self.price_books.active()
        priced = [_priced_usage_rows(b, book) for b in batches]
        unbound: set[str] = set()
        drift: list[tuple[str, str, str]] = []

        def store_all(tx: Tx) -> list[StoreOutcome]:
            received = utcnow()
            unbound.clear()  # a retried transaction decides again
            drift.clear()
            outcomes = []
            for batch, usage_rows in zip(batches, priced, strict=True):
                outcome = self._store_events(
                    tx, speaker, batch, usage_rows, unbound, drift, received, history=True
                )
                tx.record_ingest_stats(
                    len(outcome.stored), len(outcome.duplicates), len(outcome.refused), received
                )
                outcomes.append(outcome)
                if advance is not None:
                    advance(len(batch.events))
            return outcomes

        try:
            outcomes = self.repo.run_transaction(store_all)
        finally:
            self.fleet.audit_refusal(speaker, unbound, "import", None)
        for batch in {(b.source, b.provenance): b for b in batches}.values():
            self._note_source(batch, speaker)
        self._note_drift(drift)
        return outcomes

    def _note_source(self, batch: Batch, speaker: Speaker) -> None:
        """Remember which client reports as this source (at most once a minute per source and process, in
        a transaction of its own: a row every request of a fleet would update is a lock they would queue
        on)."""
        key = (batch.source, batch.provenance, speaker.token_name)
        now = time.monotonic()
        if self._sources_noted.get(key, -SOURCE_NOTE_EVERY_S) > now - SOURCE_NOTE_EVERY_S:
            return
        if len(self._sources_noted) > 10_000:  # names are the clients' to choose: keep the memory bounded
            self._sources_noted.clear()
        self._sources_noted[key] = now
        try:
            self.repo.note_source(batch.source, batch.provenance, speaker.token_name)
        except Exception:  # noqa: BLE001 - as for drift: the events are stored whatever becomes of this
            log.exception("could not note the source %r", batch.source)

    @staticmethod
    def _refuse_unbound(events: list, unbound: set[str], speaker: Speaker, outcome: StoreOutcome) -> list:
        """Events for agents another token speaks for are refused one by one; the rest go on."""
        if not unbound:
            return list(events)
        live = []
        for e in events:
            if e.agent_id in unbound:
                message = f"token {speaker.token_name!r} does not speak for agent {e.agent_id!r}"
                outcome.refused[e.index] = (NOT_BOUND, message, "^agent_id")
            else:
                live.append(e)
        return live

    def _refuse_unknown_commands(self, tx: Tx, events: list, outcome: StoreOutcome) -> list:
        """Answers to commands that do not exist, or were sent to another agent, are refused per event."""
        acks = [e for e in events if e.type == "command.ack" and not e.duplicate]
        if not acks:
            return list(events)
        owners = tx.command_owners(e.data.command_id for e in acks)
        live = []
        for e in events:
            if e.type == "command.ack" and not e.duplicate:
                owner = owners.get(e.data.command_id)
                if owner is None:
                    outcome.refused[e.index] = (
                        "unknown_command",
                        f"no command {e.data.command_id}",
                        "command_id",
                    )
                    continue
                if owner != e.agent_id:
                    message = f"command {e.data.command_id} is not for {e.agent_id}"
                    outcome.refused[e.index] = ("wrong_agent", message, "command_id")
                    continue
            live.append(e)
        return live

    @staticmethod
    def _drop_duplicates(tx: Tx, source: str, events: list, outcome: StoreOutcome, now) -> list:
        claimed = [e.id for e in events if e.id is not None and not e.duplicate]
        new_ids = tx.claim_event_ids(source, claimed, now)
        live = []
        for e in events:
            if e.duplicate or (e.id is not None and e.id not in new_ids):
                outcome.duplicates.append(e.index)
            else:
                live.append(e)
        return live

    def _apply_acks(self, tx: Tx, source: str, events: list, outcome: StoreOutcome, now) -> list:
        """Move each answered command through its lifecycle; an illegal answer is refused per event."""
        live = []
        for e in events:
            if e.type != "command.ack":
                live.append(e)
                continue
            answer = AckAnswer(e.data.state, e.data.message, e.session_id)
            try:
                self.control.apply_ack(tx, e.data.command_id, e.agent_id, answer, now)
            except Refused as refused:
                outcome.refused[e.index] = _event_refusal(refused, "command_id")
                if e.id is not None:  # not stored, so a corrected resend is not taken for a duplicate
                    tx.forget_event_id(source, e.id)
                continue
            live.append(e)
        return live

    def _book(self, batch: Batch) -> PriceBook:
        if batch.pricing_version is None:
            return self.price_books.active()
        book = self.price_books.get(batch.pricing_version)
        if book is None:
            raise Refused(
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
            raise Refused(422, "schema_violation", "the body must be a usage event's `data` object")
        try:
            UsageData.model_validate(data)
            usage = normalize_checked(data)
        except UsageError as exc:
            raise Refused(422, "invalid_usage", f"{exc.field}: {exc.message}", {"field": exc.field}) from None
        except ValidationError as exc:
            errors = field_errors(exc)
            first = errors[0]
            raise Refused(422, "schema_violation", f"{first['field']}: {first['message']}", errors) from None
        cost = self.price_books.active().price(usage, ts)
        return {"usage": usage_json(usage), "cost": cost_json(cost)}


def _rejections(batch: Batch):
    return ((r.type, "rejected", r.code) for r in batch.rejections)


def _event_outcomes(batch: Batch, outcome: StoreOutcome):
    """(type, outcome, reason) of each event of ``batch``, for helicarrier_ingest_events_total."""
    types = {e.index: e.type for e in batch.events}
    yield from _rejections(batch)
    for index, (code, _message, _field) in outcome.refused.items():
        yield types[index], "rejected", code
    for index in outcome.duplicates:
        yield types[index], "duplicate", ""
    for index in outcome.stored:
        yield types[index], "accepted", ""


def _priced_usage_rows(batch: Batch, book: PriceBook) -> dict[int, dict[str, Any]]:
    """Each usage event's priced row, by event index (a repeat within the batch is stored once)."""
    return {
        e.index: usage_row(e.usage, book.price(e.usage, e.ts), e.raw)
        for e in batch.events
        if e.usage is not None and not e.duplicate
    }


def usage_json(u: NormalizedUsage) -> dict[str, Any]:
    return {
        "provider": u.provider,
        "model": u.model,
        **{f: getattr(u, f) for f in TOKEN_FIELDS},
        "total_tokens": u.total_tokens,
        "reported_total_tokens": u.reported_total_tokens,
        "web_search_requests": u.web_search_requests,
        "price_context": u.price_context,
        "warnings": list(u.warnings),
        "normalizer_version": NORMALIZER_VERSION,
    }


def cost_json(c: Cost) -> dict[str, Any]:
    usd = usd_text  # fixed point, never exponent notation: 150 nano-dollars is "0.00000015", not "1.5E-7"

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


_HEADER_FIELDS = frozenset({"agent_id", "session_id", "id", "ts", "type"})


def _event_refusal(refused: Refused, default_field: str) -> tuple[str, str, str]:
    """A refusal as one event's result: (code, message without its field, the field; ^ for the header)."""
    details = refused.details if isinstance(refused.details, dict) else {}
    field = details.get("field") or default_field
    message = refused.message.removeprefix(f"{field}: ")
    return refused.code, message, f"^{field}" if field in _HEADER_FIELDS else field


def render_outcome(batch: Batch, outcome: StoreOutcome) -> tuple[int, str]:
    """200 when every event was taken (stored or duplicate), 207 when some were rejected, 422 when none."""
    if not batch.rejections and not outcome.refused:
        # The common answer lists no events: their results are built only when some were rejected.
        return 200, _dumps(
            {"accepted": len(outcome.stored), "duplicates": len(outcome.duplicates), "rejected": 0}
        )
    ids = {e.index: e.id for e in batch.events}
    results: list[dict[str, Any]] = [r.as_result() for r in batch.rejections]
    for index, (code, message, fld) in outcome.refused.items():
        header = fld.startswith("^")  # a field of the event's header, not of its data
        fld = fld.lstrip("^")
        if batch.version == "v1":
            # One event: its refusal is the request's error, as a v1 schema violation is.
            err = {"code": code, "message": f"{fld}: {message}", "details": {"field": fld}}
            return (403 if code == NOT_BOUND else 422), _dumps({"error": err})
        fld = f"events[{index}].{fld}" if header else f"events[{index}].data.{fld}"
        results.append(
            _result(index, ids, "rejected", {"code": code, "message": f"{fld}: {message}", "field": fld})
        )
    rejected = len(results)
    counts = {"accepted": len(outcome.stored), "duplicates": len(outcome.duplicates), "rejected": rejected}
    for index in outcome.duplicates:
        results.append(_result(index, ids, "duplicate"))
    for index in outcome.stored:
        results.append(_result(index, ids, "accepted"))
    results.sort(key=lambda r: r["index"])
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
