"""``python -m helicarrier seed-demo`` and ``demo-agents``: click commands the CLI registers."""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
import urllib.error
import urllib.request

import click

from helicarrier.config import env

TOKEN_ENV = "HELICARRIER_DEMO_TOKEN"


def _fail(message: str) -> None:
    click.echo(f"helicarrier: {message}", err=True)
    raise SystemExit(1)


def _context():
    from helicarrier.context import build_context
    from helicarrier.data.schema import SchemaError

    try:
        return build_context()
    except SchemaError as exc:
        _fail(f"refusing to start: {exc}")


@click.command("seed-demo")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 365), help="Days of history.")
@click.option("--seed", default=7, show_default=True, type=int, help="Same seed, same demo.")
@click.option("--force", is_flag=True, help="Seed even when the database already holds agents.")
def seed_demo(days: int, seed: int, force: bool) -> None:
    """Fill the database with a month of demo history, sent through the ingest path agents use."""
    from helicarrier.demo.seed import seed_demo as build_history

    ctx = _context()
    try:
        existing = ctx.repo.count_agents()
        if existing and not force:
            click.echo(f"The database already holds {existing} agents; not seeding (--force seeds anyway).")
            return
        click.echo(f"Seeding {days} days of demo history (seed {seed})...")
        counts = build_history(ctx.ingest, days=days, seed=seed)
    finally:
        ctx.repo.dispose()
    click.echo(
        f"Seeded {counts['agents']} agents, {counts['sessions']} sessions, {counts['usage']} usage events "
        f"and {counts['logs']} log lines in {counts['batches']} batches ({counts['seconds']} s); "
        f"{counts['duplicates']} events were already there."
    )


@click.command("demo-agents")
@click.option("--count", default=8, show_default=True, type=click.IntRange(1, 1000), help="Simulated agents.")
@click.option("--url", default="http://127.0.0.1:8050", show_default=True, help="The Helicarrier server.")
@click.option(
    "--token",
    default=None,
    help=f"An ingest token (default: ${TOKEN_ENV}; else one is created in the configured database).",
)
@click.option("--seed", default=None, type=int, help="Make the fleet's choices reproducible.")
@click.option("--duration", default=None, type=float, help="Stop after this many seconds (default: Ctrl-C).")
@click.option(
    "--pace",
    type=click.Choice(["steady", "quick"]),
    default="steady",
    show_default=True,
    help="steady: spends at a rate like the seeded history's; quick: back-to-back short sessions.",
)
@click.option(
    "--autoscale",
    is_flag=True,
    help="Start and retire agents to the count GET /api/v1/fleet/scale asks for (from --count).",
)
def demo_agents(
    count: int,
    url: str,
    token: str | None,
    seed: int | None,
    duration: float | None,
    pace: str,
    autoscale: bool,
) -> None:
    """Run simulated agents against a running server, through the agent client."""
    from helicarrier.demo.fleet import QUICK, STEADY, run_demo_fleet

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = token or env(TOKEN_ENV) or _create_token()
    if not _wait_until_up(url, timeout=30):
        click.echo(f"{url} does not answer yet; the agents will keep retrying in the background.", err=True)
    click.echo(f"{count} demo agents reporting to {url}; Ctrl-C stops them.")
    scale_token = _create_token("read", "demo_scale_token") if autoscale else None
    stats = run_demo_fleet(
        url,
        token,
        count,
        seed=seed,
        duration=duration,
        pace=STEADY if pace == "steady" else QUICK,
        scale_token=scale_token,
    )
    click.echo(f"Stopped: {json.dumps(stats)}")


def _create_token(scopes: str = "ingest", file: str = "demo_token") -> str:
    """A demo token (the fleet's ingest token; with --autoscale, also a read token for the supervisor),
    kept in the data dir (mode 0600) so that restarts reuse one token instead of piling up new ones; only
    the hash is in the database, as for every token."""
    ctx = _context()
    path = ctx.settings.data_dir / file
    try:
        if path.exists():
            value = path.read_text().strip()
            if ctx.repo.authenticate_token(value) is not None:
                return value
        name = f"demo-fleet-{scopes}-{secrets.token_hex(3)}"
        value, _ = ctx.repo.create_token(name, scopes)
    except Exception as exc:  # noqa: BLE001 - any database failure: say how to pass a token instead
        _fail(f"cannot create a demo token ({str(exc).splitlines()[0]}); pass --token or set ${TOKEN_ENV}")
    finally:
        ctx.repo.dispose()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    click.echo(f"Created {scopes} token {name!r} for the demo fleet.")
    return value


def _wait_until_up(url: str, timeout: float) -> bool:
    """Poll /healthz, so a fleet started beside the server does not begin with a round of retries."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
