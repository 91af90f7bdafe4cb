"""Fixtures for the fault tests: projects on real databases, including blank ones."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from djogi.testing import TestDatabases
from tests.cli.helpers import Project


@pytest.fixture
def blank_url(djogi_databases: TestDatabases) -> Iterator[str]:
    """A database with nothing in it: no HeeRanjID bootstrap and no default node (as a new project has)."""
    name = f"blank_{secrets.token_hex(6)}"
    with psycopg.connect(djogi_databases.server.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    yield djogi_databases.server.url(name)
    djogi_databases.drop(name)


@pytest.fixture
def project(tmp_path: Path, db_url: str) -> Project:
    """A fresh project pointed (through DJOGI_DATABASE_URL) at a fresh test database."""
    return Project(tmp_path, db_url)
