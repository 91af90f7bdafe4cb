"""Fixtures for the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import Project


@pytest.fixture
def project(tmp_path: Path, db_url: str) -> Project:
    """A fresh project pointed (through DJOGI_DATABASE_URL) at a fresh test database."""
    return Project(tmp_path, db_url)
