"""Release hygiene: the license file is the license pyproject declares, and the changelog knows the version."""

from __future__ import annotations

import tomllib
from importlib.metadata import version

from tests.conftest import REPO


def test_the_license_file_is_the_declared_license() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"]
    text = (REPO / "LICENSE").read_text()
    assert declared == "Apache-2.0"
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text


def test_the_changelog_has_the_package_version_and_an_unreleased_section() -> None:
    text = (REPO / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    assert f"## [{version('satupintu')}] - " in text
