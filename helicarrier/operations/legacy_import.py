"""``import-json``: a legacy JSON store imported in stages (docs/import.md).

1. stage: read each file, turn its records into v2 events (``helicarrier.ingest.legacy``), check them with
   the ingest's validation and look up which are already stored. Nothing is written; a file that cannot be
   read stops everything here.
2. report: per file the records to import, already present and invalid (file, record, reason).
3. commit (unless a dry run): every staged event through ``IngestService.store_staged``, in one transaction:
   priced, deduplicated and rolled up as live ingest does, and on any failure nothing is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helicarrier.auth.binding import Speaker
from helicarrier.data.repository import Repository
from helicarrier.ingest import legacy
from helicarrier.ingest.service import IngestService
from helicarrier.ingest.validate import Batch, parse_v2

# Records checked (and later stored) together: one parse_v2 call and one progress step each.
CHUNK_RECORDS = 2000
# Stored after everything else, so that an imported session ends with its usage already counted (its
# rollup contribution is then written once).
_LAST = "session.end"

Advance = Callable[[int], None]
Progress = Callable[[str, int], Advance]  # (description, total) -> advance(n)


@dataclass(slots=True)
class Invalid:
    file: str
    where: str  # "record 3", "line 7"
    record_id: str | None
    reason: str

    def text(self) -> str:
        named = f" (id {self.record_id})" if self.record_id is not None else ""
        return f"{self.file} {self.where}{named}: {self.reason}"


@dataclass
class FileStage:
    name: str
    present: bool = False
    records: int = 0
    new: int = 0  # valid, not stored yet: what the commit imports
    already: int = 0  # every event of the record stored by an earlier import
    invalid: list[Invalid] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)


@dataclass
class Stage:
    root: Path
    files: list[FileStage]

    @property
    def new(self) -> int:
        return sum(f.new for f in self.files)

    @property
    def events(self) -> int:
        return sum(len(b.events) for f in self.files for b in f.batches)

    def report_lines(self) -> list[str]:
        lines = [
            f"legacy store {self.root}",
            f"{'file':16} {'records':>8} {'to import':>10} {'already present':>16} {'invalid':>8}",
        ]
        for f in self.files:
            if not f.present:
                lines.append(f"{f.name:16} {'absent':>8}")
                continue
            lines.append(f"{f.name:16} {f.records:>8} {f.new:>10} {f.already:>16} {len(f.invalid):>8}")
        totals = (sum(f.records for f in self.files), self.new, sum(f.already for f in self.files))
        invalid = [i for f in self.files for i in f.invalid]
        lines.append(f"{'total':16} {totals[0]:>8} {totals[1]:>10} {totals[2]:>16} {len(invalid):>8}")
        if invalid:
            lines.append("invalid records (not imported):")
            lines += [f"  {i.text()}" for i in invalid]
        return lines


@dataclass(frozen=True, slots=True)
class Committed:
    events: int  # stored now
    duplicates: int  # found stored at commit time (another import ran between stage and commit)
    refused: int  # refused by what the database knows (none for a trusted import; counted to be honest)


def _no_progress(_description: str, _total: int) -> Advance:
    return lambda _n: None


def stage(repo: Repository, root: Path, progress: Progress = _no_progress) -> Stage:
    """Read and check every file of the store at ``root``; raises ``legacy.LegacyFileError`` for a file
    that cannot be read (nothing is written either way)."""
    files = []
    for name, kind in legacy.FILES:
        fs = FileStage(name)
        path = root / name
        if path.is_file():
            fs.present = True
            _stage_file(repo, fs, kind, _records(path, name, progress), progress)
        files.append(fs)
    if not any(f.present for f in files):
        names = ", ".join(name for name, _kind in legacy.FILES)
        raise legacy.LegacyFileError(str(root), 1, 1, f"no legacy store here: none of {names}")
    return Stage(root, files)


def _records(path: Path, name: str, progress: Progress) -> legacy.LegacyFile:
    if name.endswith(".jsonl"):
        return legacy.load_jsonl_records(path, name, progress(f"reading {name}", path.stat().st_size))
    return legacy.load_json_records(path, name)


def _stage_file(
    repo: Repository, fs: FileStage, kind: str, file: legacy.LegacyFile, progress: Progress
) -> None:
    records = file.records
    fs.records = len(records)
    advance = progress(f"checking {fs.name}", len(records))
    seen: dict[str, str] = {}  # record id -> where it first is
    for start in range(0, len(records), CHUNK_RECORDS):
        chunk = records[start : start + CHUNK_RECORDS]
        _stage_chunk(repo, fs, kind, chunk, seen, file.nul_escape)
        advance(len(chunk))
    fs.invalid.sort(key=lambda i: int(i.where.rsplit(" ", 1)[1]))  # in file order


def _stage_chunk(
    repo: Repository,
    fs: FileStage,
    kind: str,
    chunk: list[legacy.Located],
    seen: dict[str, str],
    scan_nul: bool,
) -> None:
    events: list[dict[str, Any]] = []
    owned: list[tuple[legacy.Located, str, range]] = []  # record, its id, its events' indexes
    for located in chunk:
        try:
            rid, record_events = legacy.record_events(kind, located.record, fs.name)
        except legacy.RecordError as exc:
            fs.invalid.append(Invalid(fs.name, located.where, _raw_id(located.record), exc.reason))
            continue
        if rid in seen:
            fs.invalid.append(Invalid(fs.name, located.where, _raw_id(located.record), _repeat(rid, seen)))
            continue
        seen[rid] = located.where
        owned.append((located, rid, range(len(events), len(events) + len(record_events))))
        events.extend(record_events)
    if not events:
        return
    doc = {
        "version": "v2",
        "source": {"name": legacy.SOURCE, "provenance": legacy.PROVENANCE},
        "events": events,
    }
    checked = parse_v2(doc, max_events=len(events), scan_nul=scan_nul)
    rejected = {r.index: r for r in checked.rejections}
    valid = {e.index: e for e in checked.events}
    known = repo.known_event_ids(legacy.SOURCE, [e["id"] for e in events])
    keep = []
    for located, rid, indexes in owned:
        bad = next((rejected[i] for i in indexes if i in rejected), None)
        if bad is not None:
            reason = legacy.rejection_reason(kind, events[bad.index]["type"], bad.field, bad.message)
            fs.invalid.append(Invalid(fs.name, located.where, rid, reason))
        elif all(events[i]["id"] in known for i in indexes):
            fs.already += 1
        else:
            fs.new += 1
            keep.extend(valid[i] for i in indexes)
    if keep:
        fs.batches.append(Batch("v2", legacy.SOURCE, legacy.PROVENANCE, None, keep, []))


def _repeat(rid: str, seen: dict[str, str]) -> str:
    if rid.startswith(legacy.CONTENT_ID):
        return f"the same line as {seen[rid]} (a line without an id is known by its content)"
    return f"id: the same as {seen[rid]}'s"


def _raw_id(record: Any) -> str | None:
    value = record.get("id") if isinstance(record, dict) else None
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def _commit_order(staged: Stage) -> list[Batch]:
    """Every staged batch, sessions' ends split off and stored last."""
    first, last = [], []
    for f in staged.files:
        for b in f.batches:
            early = [e for e in b.events if e.type != _LAST]
            late = [e for e in b.events if e.type == _LAST]
            first += [Batch(b.version, b.source, b.provenance, None, early, [])] if early else []
            last += [Batch(b.version, b.source, b.provenance, None, late, [])] if late else []
    return first + last


def commit(ingest: IngestService, staged: Stage, progress: Progress = _no_progress) -> Committed:
    """Store what the stage found new, in one transaction (all or nothing)."""
    batches = _commit_order(staged)
    if not batches:
        return Committed(0, 0, 0)
    advance = progress("importing", staged.events)
    outcomes = ingest.store_staged(Speaker.internal("import"), batches, advance)
    return Committed(
        sum(len(o.stored) for o in outcomes),
        sum(len(o.duplicates) for o in outcomes),
        sum(len(o.refused) for o in outcomes),
    )
