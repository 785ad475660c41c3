"""``python -m helicarrier``: serve, migrate, tokens, users, demo data."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from helicarrier.config import ConfigError, Settings, load_settings, settings_table
from helicarrier.data.engine import DatabaseBusy, DatabaseURLError, database_url, make_engine
from helicarrier.data.repository import Repository
from helicarrier.data.schema import SchemaError, current_revision, downgrade, ensure_schema, head_revision
from helicarrier.demo import commands as demo_commands
from helicarrier.operations.databases import OperationRefused, first_line, missing_sqlite_file, shown
from helicarrier.reports import commands as report_commands


def _fail(message: str) -> None:
    click.echo(f"helicarrier: {message}", err=True)
    raise SystemExit(1)


def _engine(settings: Settings, *, creates: bool = False) -> Engine:
    """The database's engine. Opening a SQLite path that does not exist creates the file (and its folder):
    only the commands that start a new install may (``creates``: ``init``, ``migrate upgrade``; ``serve``
    too, through the app); any other would go on with the empty database a mistyped path made."""
    parsed = database_url(settings.database_url)  # no database URL: one line from main()
    path = None if creates else missing_sqlite_file(parsed)
    if path is not None:
        raise OperationRefused(
            f"no SQLite database at {path} (HELICARRIER_DATABASE_URL); nothing was created: "
            "`python -m helicarrier init` or `migrate upgrade` creates a new one"
        )
    return make_engine(settings.database_url, pool=settings.pool)


def _repo(*, creates: bool = False) -> Repository:
    """A repository on a verified schema (migrating an empty or old one when auto-migrate is on)."""
    settings = load_settings()
    engine = _engine(settings, creates=creates)
    try:
        ensure_schema(engine, auto_migrate=settings.auto_migrate)
    except SchemaError as exc:
        _fail(f"refusing to start: {exc}")
    return Repository(engine)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Helicarrier: watch and steer a fleet of LLM agents."""


@cli.command()
@click.option("--host", default=None, help="Address to bind (default HELICARRIER_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default HELICARRIER_PORT or 8050).")
@click.option("--debug/--no-debug", default=False, help="Dash dev tools and reloader.")
def serve(host: str | None, port: int | None, debug: bool) -> None:
    """Run the development server. Production: `gunicorn app:server`."""
    from helicarrier.memory import bound_malloc
    from helicarrier.webapp import create_app, settle_heap

    settings = load_settings()
    bound_malloc(settings.malloc_arenas, settings.malloc_trim_s)  # before the scheduler starts its threads
    try:
        app = create_app(settings, start_scheduler=True)
    except SchemaError as exc:
        _fail(f"refusing to start: {exc}")
    settle_heap()
    host = host or settings.host
    port = port or settings.port
    if not debug:
        # One line per request from the development server buries everything else; errors still show.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    click.echo(f"Helicarrier serving at http://{host}:{port}/")
    app.run(host=host, port=port, debug=debug)


@cli.command()
def scheduler() -> None:
    """Run background jobs in this process (web processes then need HELICARRIER_SCHEDULER=off)."""
    import signal
    import threading

    from helicarrier.context import build_context
    from helicarrier.memory import bound_malloc
    from helicarrier.scheduler.runner import Scheduler

    settings = load_settings()
    # Before any thread starts (the jobs' threads are where freed heap piled up, docs/performance.md).
    bound_malloc(settings.malloc_arenas, settings.malloc_trim_s)
    try:
        ctx = build_context(settings)
    except SchemaError as exc:
        _fail(f"refusing to start: {exc}")
    sched = Scheduler(ctx)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sched.start()
    click.echo(f"scheduler {sched.leadership.identity} running; Ctrl-C stops it")
    stop.wait()
    sched.shutdown()


@cli.group()
def migrate() -> None:
    """Database schema migrations (Alembic)."""


@migrate.command("upgrade")
def migrate_upgrade() -> None:
    """Bring the database to the newest revision."""
    engine = _engine(load_settings(), creates=True)
    try:
        status = ensure_schema(engine, auto_migrate=True)
    except SchemaError as exc:
        _fail(str(exc))
    if status.upgraded:
        click.echo(f"migrated {status.upgraded_from or 'empty'} -> {status.head}")
    else:
        click.echo(f"already at head {status.head}")


@migrate.command("current")
def migrate_current() -> None:
    """Print the database's revision and the code's head."""
    # A bad URL, a missing file or an unreachable server: one line from main().
    rev = current_revision(_engine(load_settings()))
    head = head_revision()
    click.echo(f"database: {rev or 'empty'}\nhead: {head}")


@migrate.command("downgrade")
@click.argument("revision")
def migrate_downgrade(revision: str) -> None:
    """Step the database down to REVISION (e.g. -1 or base)."""
    engine = _engine(load_settings())
    try:
        downgrade(engine, revision)
    except Exception as exc:  # noqa: BLE001
        _fail(f"downgrade failed and was rolled back: {str(exc).splitlines()[0]}")
    click.echo(f"downgraded to {revision}")


@cli.group()
def token() -> None:
    """API bearer tokens."""


@token.command("create")
@click.option("--name", required=True, help="A unique name, e.g. the agent host.")
@click.option("--scopes", required=True, help="Comma list of ingest, read, control, admin.")
@click.option(
    "--agents",
    default=None,
    help="The agents it may speak for: globs, comma-separated ('build-*'). Default: any agent nobody owns.",
)
def token_create(name: str, scopes: str, agents: str | None) -> None:
    """Create a token. The token is printed once, alone on the last line; only its hash is kept."""
    from helicarrier.auth.binding import BindingError
    from helicarrier.auth.tokens import ScopeError
    from helicarrier.data.queries.tokens import TokenExists

    repo = _repo()
    try:
        value, info = repo.create_token(name, scopes, agents)
    except (ScopeError, TokenExists, BindingError) as exc:
        _fail(str(exc))
    click.echo(f"created token {info.name!r} with scopes {','.join(info.scopes)}; it is shown only once:")
    click.echo(value)


@token.command("list")
def token_list() -> None:
    """List tokens (never their values)."""
    rows = _repo().list_tokens()
    click.echo(f"{'name':24} {'prefix':12} {'scopes':28} {'last used':25} revoked")
    for t in rows:
        last = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
        revoked = t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else "-"
        click.echo(f"{t.name:24} {t.prefix:12} {','.join(t.scopes):28} {last:25} {revoked}")


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke the token called NAME."""
    if not _repo().revoke_token(name):
        _fail(f"no live token named {name!r}")
    click.echo(f"revoked {name}")


@cli.group()
def agent() -> None:
    """Agents and the tokens that speak for them."""


@agent.command("owner")
@click.argument("agent_id")
@click.option("--token", "token_name", default=None, help="Give the agent to this token.")
@click.option("--release", is_flag=True, help="Let the next token that reports for it claim it.")
def agent_owner(agent_id: str, token_name: str | None, release: bool) -> None:
    """Show, or change (audited), the token that speaks for AGENT_ID."""
    from helicarrier.actors import Actor
    from helicarrier.errors import Refused
    from helicarrier.fleet.service import FleetService

    repo = _repo()
    if token_name is None and not release:
        exists, _id, name = repo.agent_owner(agent_id)
        if not exists:
            _fail(f"no agent {agent_id!r}")
        click.echo(name or "(nobody: the next token that reports for it claims it)")
        return
    try:
        FleetService(repo).reassign(Actor("cli", "user", "admin"), agent_id, None if release else token_name)
    except Refused as exc:
        _fail(exc.message)
    click.echo(f"{agent_id} -> {token_name if not release else 'the next token that reports for it'}")


@cli.group()
def user() -> None:
    """Dashboard users."""


@user.command("create")
@click.argument("name")
@click.option(
    "--role", type=click.Choice(["viewer", "operator", "admin"]), default="viewer", show_default=True
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
def user_create(name: str, role: str, password_stdin: bool) -> None:
    """Create a user; prompts for the password."""
    from helicarrier.auth.passwords import PasswordError
    from helicarrier.data.queries.users import UserExists

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        info = _repo().create_user(name, password, role)
    except (PasswordError, UserExists) as exc:
        _fail(str(exc))
    click.echo(f"created {info.role} {info.username}")


@cli.group()
def pricing() -> None:
    """Price tables: the pinned genai-prices data and operators' own versions with overrides."""


@pricing.command("list")
def pricing_list() -> None:
    """List price tables; * marks the active one (HELICARRIER_PRICING_VERSION)."""
    from helicarrier.pricing.versions import load_price_books

    repo = _repo()
    books = load_price_books(repo, load_settings().pricing_version)
    stored = {v.name: v for v in repo.pricing_versions()}
    for name in books.names():
        mark = "*" if name == books.active().version else " "
        v = stored.get(name)
        extra = f"{len(v.overrides)} overrides  {v.description or ''}" if v else "bundled genai-prices data"
        click.echo(f"{mark} {name:48} {extra}")


@pricing.command("add-version")
@click.argument("suffix")
@click.option("--description", default=None, help="What this table is for, e.g. the contract it encodes.")
def pricing_add_version(suffix: str, description: str | None) -> None:
    """Create the price table <genai-prices version>+SUFFIX (then add overrides with set-price)."""
    from helicarrier.data.queries.pricing import PricingVersionExists
    from helicarrier.pricing.versions import version_name

    try:
        name = version_name(suffix)
        _repo().create_pricing_version(name, description, created_by="cli")
    except (ValueError, PricingVersionExists) as exc:
        _fail(str(exc))
    click.echo(name)


@pricing.command("set-price")
@click.argument("version")
@click.option("--provider", required=True, help="OTel provider name (openai, anthropic, ...) or '*'.")
@click.option("--model", required=True, help="Model id; a trailing '*' matches a prefix.")
@click.option("--input-per-mtok", default=None, help="USD per million input tokens.")
@click.option("--output-per-mtok", default=None, help="USD per million output tokens.")
@click.option("--cache-read-per-mtok", default=None, help="USD per million cache-read tokens.")
@click.option("--cache-write-per-mtok", default=None, help="USD per million cache-write tokens.")
@click.option("--discount-pct", default=None, help="Percent off the genai-prices price (instead of prices).")
def pricing_set_price(version: str, provider: str, model: str, **prices: str | None) -> None:
    """Set (or replace) an override in VERSION: explicit per-MTok prices, or a discount."""
    from decimal import Decimal, InvalidOperation

    from helicarrier.pricing.versions import _override

    fields = {
        "input_usd_per_mtok": prices["input_per_mtok"],
        "output_usd_per_mtok": prices["output_per_mtok"],
        "cache_read_usd_per_mtok": prices["cache_read_per_mtok"],
        "cache_write_usd_per_mtok": prices["cache_write_per_mtok"],
        "discount_pct": prices["discount_pct"],
    }
    try:
        for key, value in fields.items():
            if value is not None:
                fields[key] = str(Decimal(value))
        _override({"provider": provider, "model": model, **fields})  # validates before storing
        _repo().set_price_override(version, provider, model, fields)
    except (InvalidOperation, ValueError, LookupError) as exc:
        _fail(f"override refused: {exc}")
    click.echo(f"{version}: {provider}/{model} set")


@cli.command()
@click.option("--pricing-version", "version", required=True, help="The price table to recompute under.")
@click.option("--since", default=None, type=click.DateTime(["%Y-%m-%d"]), help="From this UTC day on.")
def reprice(version: str, since) -> None:
    """Recompute usage costs under another price table, beside the recorded ones; print the diff."""
    from datetime import UTC

    from helicarrier.pricing.versions import load_price_books
    from helicarrier.pricing.versions import reprice as run_reprice

    repo = _repo()
    book = load_price_books(repo, None).get(version)
    if book is None:
        _fail(f"unknown pricing version {version!r}; see `python -m helicarrier pricing list`")
    report = run_reprice(repo, book, since.replace(tzinfo=UTC) if since else None)
    for line in report.lines():
        click.echo(line)


@cli.command()
@click.option("--seed-demo/--no-seed-demo", default=False, help="Seed a month of demo history when empty.")
def init(seed_demo: bool) -> None:
    """First-start set-up for `make run`: migrate, create the first admin, seed demo data if empty."""
    import secrets

    repo = _repo(creates=True)
    if seed_demo and repo.count_agents() == 0:
        from helicarrier.context import build_context
        from helicarrier.demo.seed import seed_demo as build_history

        click.echo("Empty database: seeding 30 days of demo history through the ingest path...")
        ctx = build_context()
        counts = build_history(ctx.ingest, days=30, seed=7)
        from helicarrier.demo.budget import demo_budget

        budget = demo_budget(ctx.budgets)
        ctx.repo.dispose()
        click.echo(f"Demo budget {budget['name']!r}: ${budget['limit_usd']} a day, {budget['state']}.")
        click.echo(
            f"Seeded {counts['agents']} agents, {counts['sessions']} sessions, "
            f"{counts['usage']} usage events."
        )
    if repo.count_users() == 0:
        password = secrets.token_urlsafe(12)
        repo.create_user("admin", password, "admin")
        click.echo("=" * 64)
        click.echo("First start: created user 'admin' with password (shown only this once):")
        click.echo(f"    {password}")
        click.echo("More users: python -m helicarrier user create NAME --role operator")
        click.echo("=" * 64)


@cli.group()
def hooks() -> None:
    """Hooks that make an agent report to and obey Helicarrier (Claude Code)."""


def _claude_settings(settings_path: Path | None) -> Path:
    return settings_path or Path.home() / ".claude" / "settings.json"


# The options both hook commands take.
_claude_code_flag = click.option(
    "--claude-code", "claude_code", is_flag=True, required=True, help="Claude Code's http hooks."
)
_settings_option = click.option(
    "--settings",
    "settings_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The settings file (default ~/.claude/settings.json; a project's .claude/settings.json).",
)


@hooks.command("install")
@_claude_code_flag
@_settings_option
@click.option(
    "--url", default=None, help="Helicarrier's address (default http://127.0.0.1:HELICARRIER_PORT)."
)
@click.option("--agent", default=None, help="The agent the hooks speak for (default: named after the cwd).")
@click.option(
    "--token",
    default=None,
    help="The bound ingest token, written into the file; default: read from $HELICARRIER_TOKEN.",
)
def hooks_install(claude_code: bool, settings_path, url, agent, token) -> None:
    """Write Helicarrier's http hook for every event it listens to; other hooks are kept. Idempotent."""
    from helicarrier.hooks import install

    path = _claude_settings(settings_path)
    base = url or f"http://127.0.0.1:{load_settings().port}"
    try:
        doc = install.read(path)
        install.write(path, install.with_ours(doc, install.handler(base, agent, token)))
    except install.SettingsError as exc:
        _fail(str(exc))
    click.echo(f"installed Helicarrier's Claude Code hooks in {path} ({base})")


@hooks.command("uninstall")
@_claude_code_flag
@_settings_option
def hooks_uninstall(claude_code: bool, settings_path) -> None:
    """Remove Helicarrier's hooks from a Claude Code settings file, and nothing else."""
    from helicarrier.hooks import install

    path = _claude_settings(settings_path)
    try:
        doc = install.read(path)
        if path.exists():
            install.write(path, install.without_ours(doc))
    except install.SettingsError as exc:
        _fail(str(exc))
    click.echo(f"removed Helicarrier's Claude Code hooks from {path}")


@cli.command("import-sessions")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["claude-code", "codex"]),
    required=True,
    help="claude-code: ~/.claude/projects; codex: ~/.codex/sessions.",
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--since",
    default=None,
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Only calls from this UTC time on (and files changed since).",
)
@click.option("--agent", default=None, help="The agent (default: named after the session's project folder).")
@click.option("--watch", is_flag=True, help="Then follow the folders: import what is written, until Ctrl-C.")
@click.option(
    "--interval", default=1.0, type=click.FloatRange(0.1, 3600), help="--watch: seconds between looks."
)
def import_sessions(
    fmt: str, paths: tuple[Path, ...], since, agent: str | None, watch: bool, interval
) -> None:
    """Import Claude Code or Codex CLI session logs (JSONL files, or folders of them). Idempotent."""
    import time
    from datetime import UTC

    from rich.console import Console
    from rich.progress import track

    from helicarrier.auth.binding import Speaker
    from helicarrier.context import build_context
    from helicarrier.ingest import session_logs as sl

    try:
        ctx = build_context(load_settings())
    except SchemaError as exc:
        _fail(f"refusing to start: {exc}")
    speaker = Speaker.internal("import")
    importer = sl.Importer(
        fmt,
        lambda body: ctx.ingest.ingest(speaker, body, None, "import-sessions"),
        since.replace(tzinfo=UTC) if since else None,
        agent,
    )
    files = sl.log_files(paths)
    for path in track(files, description="importing", console=Console(stderr=True), transient=True):
        importer.import_file(path)
    click.echo(importer.summary.text())
    try:
        while watch:
            time.sleep(interval)
            for path in importer.changed(paths):
                stored = importer.import_file(path)
                if stored:
                    click.echo(f"{path}: {stored} events imported", err=False)
                    sys.stdout.flush()
    except KeyboardInterrupt:
        click.echo(importer.summary.text())
    finally:
        ctx.repo.dispose()


@cli.command("import-json")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Stop after the report: check everything, store nothing.")
@click.option("--progress/--no-progress", default=True, help="Progress bars on stderr (only on a terminal).")
def import_json(path: Path, dry_run: bool, progress: bool) -> None:
    """Import a legacy JSON store (sessions.json, usage.json, logs.jsonl, alerts.json; docs/import.md):
    check it, report, then store it in one transaction. Idempotent."""
    from rich.console import Console
    from rich.progress import Progress
    from sqlalchemy.exc import SQLAlchemyError

    from helicarrier.context import build_context
    from helicarrier.ingest.legacy import LegacyFileError
    from helicarrier.operations import legacy_import

    try:
        ctx = build_context(load_settings())
    except SchemaError as exc:
        _fail(f"refusing to start: {exc}")
    console = Console(stderr=True)
    try:
        with Progress(
            console=console, transient=True, disable=not (progress and console.is_terminal)
        ) as bars:

            def bar(description: str, total: int):
                task = bars.add_task(description, total=total)
                return lambda n: bars.advance(task, n)

            try:
                staged = legacy_import.stage(ctx.repo, path, bar)
            except LegacyFileError as exc:
                _fail(f"{exc}; nothing was imported")
            for line in staged.report_lines():
                click.echo(line)
            if dry_run:
                click.echo(f"dry run: nothing was imported ({staged.new} records would be)")
                return
            done = legacy_import.commit(ctx.ingest, staged, bar)
    except SQLAlchemyError as exc:  # one transaction: whatever failed, it took the whole import with it
        _fail(f"the database failed: {str(exc).splitlines()[0]}; nothing was imported")
    finally:
        ctx.repo.dispose()
    click.echo(f"imported {staged.new} records ({done.events} events) in one transaction")
    if done.duplicates or done.refused:
        click.echo(f"at commit: {done.duplicates} events were already stored, {done.refused} refused")


@cli.command()
@click.argument("state", type=click.Choice(["on", "off", "status"]))
@click.option(
    "--reason", default=None, help="Shown on the banner and in the 503 answers, e.g. 'moving to PostgreSQL'."
)
def maintenance(state: str, reason: str | None) -> None:
    """Pause ingest on every instance (503 maintenance, clients queue and retry), or resume it."""
    import getpass

    from helicarrier.operations.maintenance import CACHE_S, read_state, switch

    repo = _repo()
    if state != "status":
        switch(repo, state == "on", reason, f"cli:{getpass.getuser()}")
    now = read_state(repo)
    if not now.on:
        click.echo("maintenance off: ingest is accepted")
        return
    why = now.reason or "no reason given"
    click.echo(f"maintenance on since {now.since:%Y-%m-%d %H:%M:%S} UTC by {now.by}: {why}")
    if state == "on":
        click.echo(f"every instance refuses ingest within {CACHE_S:g} s")


@cli.command()
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False), help="The backup file to write."
)
@click.option("--database-url", default=None, help="Default: HELICARRIER_DATABASE_URL.")
def backup(out: str, database_url: str | None) -> None:
    """Back up the database (SQLite: online backup API; PostgreSQL: pg_dump -Fc), manifest beside it."""
    from pathlib import Path

    from helicarrier.data.dumps import DumpError
    from helicarrier.operations.backup import backup as run_backup
    from helicarrier.operations.backup import manifest_path
    from helicarrier.operations.databases import OperationRefused

    url = database_url or load_settings().database_url
    target = Path(out)
    if target.exists():
        _fail(f"{target} exists; choose a new file (a backup never overwrites another)")
    try:
        manifest = run_backup(url, target, "--database-url" if database_url else "HELICARRIER_DATABASE_URL")
    except (DumpError, OperationRefused) as exc:
        _fail(f"backup failed: {exc}")
    rows = sum(t["rows"] for t in manifest["tables"].values())
    click.echo(f"backed up {len(manifest['tables'])} tables, {rows} rows at revision {manifest['revision']}")
    click.echo(f"file: {target}\nmanifest: {manifest_path(target)}")


@cli.command()
@click.option("--from", "dump", required=True, type=click.Path(dir_okay=False), help="A file made by backup.")
@click.option("--to", "url", required=True, help="An EMPTY database's URL (SQLite file or PostgreSQL).")
def restore(dump: str, url: str) -> None:
    """Restore a backup into an empty database, verify its schema and its parity with the manifest."""
    from pathlib import Path

    from helicarrier.data.dumps import DumpError
    from helicarrier.operations.backup import RestoreRefused
    from helicarrier.operations.backup import restore as run_restore
    from helicarrier.operations.databases import OperationRefused
    from helicarrier.operations.parity import difference_lines

    try:
        done = run_restore(Path(dump), url)
    except (RestoreRefused, DumpError, OperationRefused) as exc:
        _fail(f"restore refused: {exc}")
    if done.differences:
        for line in difference_lines(done.differences):
            click.echo(line)
        _fail(f"restored, but {len(done.differences)} differences from the manifest (above)")
    rows = sum(t.rows for t in done.found.tables.values())
    click.echo(f"restored {len(done.found.tables)} tables, {rows} rows; schema at {done.found.revision}")
    click.echo("parity with the manifest: equal")


@cli.command("parity-check")
@click.option("--from", "source", required=True, help="The database moved from (URL).")
@click.option("--to", "target", required=True, help="The database moved to (URL).")
def parity_check(source: str, target: str) -> None:
    """Compare two databases: rows and checksum per table, tokens and cost per day; exit 1 if they differ."""
    from helicarrier.data.parity import fingerprint
    from helicarrier.operations.databases import OperationRefused, existing_source, first_line, shown
    from helicarrier.operations.parity import compare, difference_lines, table_lines

    try:  # both before either is opened: opening a missing SQLite file would create it
        existing_source(source, "--from")
        existing_source(target, "--to")
    except OperationRefused as exc:
        _fail(str(exc))
    prints = []
    for url in (source, target):
        engine = make_engine(url)
        try:
            with engine.connect() as conn, conn.begin():
                prints.append(fingerprint(conn))
        except Exception as exc:  # noqa: BLE001 - one line naming the database that failed
            _fail(f"cannot read {shown(url)}: {first_line(exc)}")
        finally:
            engine.dispose()
    for line in table_lines(prints[0], prints[1], "from", "to"):
        click.echo(line)
    diffs = compare(prints[0], prints[1])
    if diffs:
        click.echo("")
        for line in difference_lines(diffs):
            click.echo(line)
        _fail(f"{len(diffs)} differences")
    click.echo("parity: equal")


@cli.command("copy-db")
@click.option("--from", "source", required=True, help="The database to copy (URL), e.g. the SQLite file.")
@click.option("--to", "target", required=True, help="The database to fill (URL); migrated to head first.")
@click.option("--progress/--no-progress", default=True, help="A progress bar per table (on stderr).")
def copy_db(source: str, target: str, progress: bool) -> None:
    """Copy every table into another database, ids and timestamps kept; re-runs copy only what is missing."""
    from helicarrier.operations.databases import OperationRefused
    from helicarrier.operations.moving import copy_database

    try:
        report = copy_database(source, target, progress=progress)
    except (SchemaError, OperationRefused) as exc:
        _fail(f"refusing: {exc}")
    for table, (total, copied) in report.items():
        click.echo(f"{table:28} {total:>10} rows, {copied:>10} copied")
    click.echo(f"copied {sum(c for _, c in report.values())} rows; now run parity-check")


@cli.command("settings")
def show_settings() -> None:
    """Print every setting with its default and meaning (the README's table)."""
    click.echo(settings_table())


cli.add_command(demo_commands.seed_demo)
cli.add_command(demo_commands.demo_agents)
cli.add_command(report_commands.export_csv)


def _database_shown() -> str:
    try:
        return shown(load_settings().database_url)
    except Exception:  # noqa: BLE001 - only for the message; the settings were read once already
        return "HELICARRIER_DATABASE_URL"


def main(argv: list[str] | None = None) -> int:
    """Every command's refusals and its database's failures end here as one line (issue 14): a bad URL or a
    missing SQLite file (before anything is opened), a server that does not answer, a database that fails
    mid-command, a file the OS refuses. Any other exception is a bug and keeps its traceback."""
    try:
        cli.main(args=argv, prog_name="python -m helicarrier", standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"helicarrier: refusing to start: {exc}", err=True)
        return 2
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except DatabaseURLError as exc:
        return _said(f"HELICARRIER_DATABASE_URL: {exc}")
    except SchemaError as exc:  # from the commands that open the database through build_context
        return _said(f"refusing to start: {exc}")
    except OperationRefused as exc:
        return _said(str(exc))
    except DBAPIError as exc:  # the driver's error: the database refused, dropped or failed
        return _said(f"the database at {_database_shown()} failed: {first_line(exc)}")
    except DatabaseBusy as exc:
        return _said(f"the database stayed busy: {exc}; nothing was done, run it again")
    except OSError as exc:
        return _said(f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}")
    return 0


def _said(message: str) -> int:
    click.echo(f"helicarrier: {message}", err=True)
    return 1
