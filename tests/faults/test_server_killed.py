"""The server itself dies (SIGKILL of the postmaster) while ``apply`` runs: the real error is printed, the
ledger row cannot be updated and stays pending, and the commands the message names recover once the
server is back. Runs its own embedded server, so the suite's shared one is never touched."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from djogi.embedded import EmbeddedServer
from djogi.testing import _scratch_dir
from tests.cli.helpers import Project
from tests.faults.test_migration_recovery import PAGES_OPTIONAL, _apply_blocked, _ledger


@pytest.fixture
def own_server() -> Iterator[EmbeddedServer]:
    """A server of this test's own, in a scratch directory the server's user can reach."""
    root = _scratch_dir()
    server = EmbeddedServer(root / "pgdata")  # durable commits: the kill must not lose the ledger row
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_apply_when_the_server_is_killed(tmp_path: Path, own_server: EmbeddedServer) -> None:
    project = Project(tmp_path, own_server.url())
    project.run("migrations", "compose")
    project.run("migrations", "apply")
    project.write_models(PAGES_OPTIONAL)
    project.run("migrations", "compose", "-n", "pages")
    proc, blocker, _ = _apply_blocked(project)
    postmaster = own_server.status().pid
    assert postmaster is not None
    try:
        os.kill(postmaster, signal.SIGKILL)
        _out, err = proc.communicate(timeout=60)
    finally:
        blocker.close()
        proc.kill()
    said = " ".join(err.split())
    assert proc.returncode == 1 and "connection lost" in said and "stays pending" in said, err
    assert "repair partial-apply" in said and "the connection is closed" not in said

    own_server.start()  # waits for the killed server's backends to exit, then starts afresh
    project.url = own_server.url()
    version, status, _ = _ledger(project.url)[-1]
    assert version.endswith("__pages") and status == "pending"
    project.run("migrations", "status", expect=1)
    project.refused("migrations", "apply", says=f"repair partial-apply {version} rolled-back")
    project.run("migrations", "repair", "partial-apply", version, "rolled-back")
    project.run("migrations", "apply")
    assert _ledger(project.url)[-1][:2] == (version, "applied")
    with psycopg.connect(project.url) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'books' "
                            "AND column_name = 'pages'").fetchone() == (1,)

