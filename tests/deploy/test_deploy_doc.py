"""docs/deploy.md is held to the code: its variables are declared settings with the defaults it states, its
gunicorn command is the one the two-instance test runs, and every test it cites exists."""

from __future__ import annotations

import re
from pathlib import Path

from helicarrier.config import BY_ENV
from tests.deploy.test_two_instances import GUNICORN

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "deploy.md").read_text()


def _bash_lines() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", DOC, re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_every_variable_named_is_a_declared_setting():
    named = set(re.findall(r"\bHELICARRIER_[A-Z_]+\b", DOC))
    assert named and not named - set(BY_ENV), sorted(named - set(BY_ENV))


def test_the_defaults_stated_are_the_declared_ones():
    rows = re.findall(r"^\| `(HELICARRIER_[A-Z_]+)` \| ([^|]+) \|", DOC, re.M)
    assert len(rows) >= 10
    for env, default in rows:
        assert default.strip() == BY_ENV[env].default or BY_ENV[env].default.startswith(default.strip()), env


def test_the_gunicorn_command_is_the_one_the_two_instance_test_runs():
    commands = [line for line in _bash_lines() if line.startswith("gunicorn")]
    assert commands == [" ".join(["gunicorn", *GUNICORN[3:]])]


def test_every_cited_test_exists():
    for path in set(re.findall(r"`(tests/[\w/]+\.py)`", DOC)):
        assert (ROOT / path).is_file(), path
    for name in set(re.findall(r"\b(test_\w+)\b(?!\.py)", DOC)) - {
        Path(p).stem for p in re.findall(r"tests/[\w/]+\.py", DOC)
    }:
        assert any(name in f.read_text() for f in (ROOT / "tests").rglob("*.py")), name
