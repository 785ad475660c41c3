"""Documentation is tested: a setting missing from the README fails the build."""

from __future__ import annotations

import re
from pathlib import Path

from helicarrier import config

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented_in_readme():
    readme = (ROOT / "README.md").read_text()
    for name in config.SETTINGS_DOC:
        assert f"`{name}`" in readme, f"{name} is missing from the README configuration table"


def test_every_environment_variable_read_is_a_documented_setting():
    source = (ROOT / "helicarrier" / "config.py").read_text()
    read = set(re.findall(r'"(HELICARRIER_[A-Z_]+)"', source))
    assert read <= set(config.SETTINGS_DOC), read - set(config.SETTINGS_DOC)


def test_readme_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
