"""``python -m helicarrier export-csv``: a usage or sessions report over a range of days, on demand.

The same rows the scheduled job writes (day x model x agent), for local days FROM..TO, both included:

    python -m helicarrier export-csv --report usage --from 2026-11-01 --to 2026-11-30 --out nov.csv \\
        --tz Europe/Paris

``--out -`` writes to standard output. Also runnable as ``python -m helicarrier.reports.commands``.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

import click


def _fail(message: str) -> None:
    click.echo(f"helicarrier: {message}", err=True)
    raise SystemExit(1)


def _repo():
    """The command line's: a read-only command, so a missing SQLite file is refused, not created."""
    from helicarrier.cli import _repo as cli_repo

    return cli_repo()


@click.command("export-csv")
@click.option("--report", type=click.Choice(["usage", "sessions"]), required=True, help="Which report.")
@click.option("--from", "first", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day.")
@click.option("--to", "last", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (included).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, allow_dash=True), help="File, or -.")
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone of the days.")
def export_csv(report: str, first: datetime, last: datetime, out: str, tz: str) -> None:
    """Write a usage or sessions CSV report (day x model x agent) for local days FROM..TO."""
    from helicarrier.localtime import zone
    from helicarrier.reports.jobs import write_report

    try:
        z = zone(tz)
    except ValueError as exc:
        _fail(str(exc))
    if last < first:
        _fail("--to is before --from")
    start = datetime(first.year, first.month, first.day, tzinfo=z)
    nxt = last.date() + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=z)
    repo = _repo()
    try:
        if out == "-":
            write_report(repo, report, start, end, tz, sys.stdout)
            return
        n = write_report(repo, report, start, end, tz, Path(out))
    finally:
        repo.dispose()
    click.echo(f"wrote {n} rows to {out}")


if __name__ == "__main__":
    export_csv()
