"""Documentation is tested: the README's configuration table is the declared settings, and nothing reads an
environment variable of ours that is not declared."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helicarrier import config

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_configuration_table_is_the_declared_settings():
    readme = (ROOT / "README.md").read_text()
    assert config.settings_table() in readme, "regenerate it: python -m helicarrier settings"


def test_every_environment_variable_read_is_a_declared_setting():
    read: set[str] = set()
    env_read = re.compile(r'(?:environ\.get\(|environ\[|getenv\(|\benv\(|_ENV = )"(HELICARRIER_[A-Z_]+)"')
    for path in (ROOT / "helicarrier").rglob("*.py"):
        read |= set(env_read.findall(path.read_text()))
    assert "HELICARRIER_DEMO_TOKEN" in read  # the pattern finds what it must
    assert read <= set(config.BY_ENV), read - set(config.BY_ENV)


def test_settings_are_read_from_the_environment_with_their_types(monkeypatch, tmp_path):
    monkeypatch.setenv("HELICARRIER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HELICARRIER_PORT", "9000")
    monkeypatch.setenv("HELICARRIER_SCHEDULER", "off")
    monkeypatch.setenv("HELICARRIER_PUBLIC_URL", "https://hc.example.com/")
    monkeypatch.setenv("HELICARRIER_LOG_LEVEL", "debug")
    s = config.load_settings()
    assert (s.port, s.scheduler, s.log_level, s.data_dir) == (9000, False, "DEBUG", tmp_path.resolve())
    assert (
        s.base_url == "https://hc.example.com"
        and s.database_url == f"sqlite:///{tmp_path.resolve()}/helicarrier.db"
    )
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_a_bad_setting_is_refused_naming_it(monkeypatch, tmp_path):
    monkeypatch.setenv("HELICARRIER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HELICARRIER_PORT", "eighty")
    with pytest.raises(config.ConfigError, match="HELICARRIER_PORT='eighty'"):
        config.load_settings()


def test_readme_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme


def test_every_make_command_the_docs_name_is_a_target():
    """A `make X` in the README or docs/ that the Makefile lacks is a newcomer's first error."""
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    # A command is `make x` in text or a line starting with make x in a code block.
    command = re.compile(r"`make ([a-z][a-z-]*)`|^make ([a-z][a-z-]*)", re.M)
    named = {a or b for doc in docs for a, b in command.findall(doc.read_text())}
    assert {"run", "test", "soak", "mutation"} <= named
    assert named <= targets, f"named in the docs but not in the Makefile: {sorted(named - targets)}"


def test_every_page_has_a_screenshot_for_each_role_and_the_readme_shows_one():
    """`make screenshots` (scripts/screenshots.py) takes them; a page added without one, or a README image
    that is not there, is caught here."""
    from helicarrier.layouts import PAGES

    shots = ROOT / "docs" / "screenshots"
    taken = {p.name for p in shots.glob("*.png")}
    pages = {p.name.lower() for p in PAGES} | {"session"}
    assert {f"{page}-{role}.png" for page in pages for role in ("admin", "viewer")} <= taken
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (ROOT / "README.md").read_text())
    assert images and all((ROOT / image).is_file() for image in images)
