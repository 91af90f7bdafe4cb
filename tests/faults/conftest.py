"""Fault tests: a private embedded server per module (to stop, restart, kill and freeze), CLI projects on real
databases, and blank databases (no HeeRanjID bootstrap, no default node)."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from djogi.embedded import EmbeddedServer
from djogi.errors import EmbeddedServerError
from djogi.testing import TestDatabases
from tests.cli.conftest import project  # noqa: F401  (the CLI tests' project fixture)
from tests.faults.helpers import children_of, kill_all


@pytest.fixture(scope="module")
def private_server() -> Iterator[EmbeddedServer]:
    """An embedded server of this module's own (the shared test server is never harmed)."""
    root = Path(tempfile.mkdtemp(prefix="djogi-fault-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    server = EmbeddedServer(root / "pgdata", fast_unsafe=True)
    try:
        yield server
    finally:
        pid = server.status().pid
        try:
            server.stop()
        except EmbeddedServerError:
            if pid is not None:
                kill_all([pid, *children_of(pid)])
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def blank_url(djogi_databases: TestDatabases) -> Iterator[str]:
    """A database with nothing in it: no HeeRanjID bootstrap and no default node (as a new project has)."""
    name = f"blank_{secrets.token_hex(6)}"
    with psycopg.connect(djogi_databases.server.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    yield djogi_databases.server.url(name)
    djogi_databases.drop(name)
