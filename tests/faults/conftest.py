"""Fault tests: a private embedded server per module (to stop, restart, kill and freeze), CLI projects on real
databases, and blank databases (no HeeRanjID bootstrap, no default node)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from djogi.embedded import EmbeddedServer
from djogi.errors import EmbeddedServerError
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


