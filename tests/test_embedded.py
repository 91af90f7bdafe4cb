"""The embedded server against real PostgreSQL 18 binaries, in throw-away data directories."""

from __future__ import annotations

import contextlib
import os
import pwd
import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from djogi.embedded import SERVER_OS_USER, EmbeddedServer
from djogi.errors import EmbeddedServerError


def test_up_twice_reuses_the_server_and_down_stops_it(scratch_pgdata: Path) -> None:
    server = EmbeddedServer(scratch_pgdata, fast_unsafe=True)
    first = server.start()
    again = EmbeddedServer(scratch_pgdata).start()
    assert first.running and first.pid is not None
    assert (again.pid, again.port) == (first.pid, first.port)

    with psycopg.connect(server.url()) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    assert row is not None and row[0].startswith("18.")

    assert server.stop() is True
    assert server.status().running is False
    assert server.stop() is False
    with pytest.raises(EmbeddedServerError, match="not running"):
        server.url()


def test_restart_keeps_the_port(scratch_pgdata: Path) -> None:
    server = EmbeddedServer(scratch_pgdata, fast_unsafe=True)
    port = server.start().port
    server.stop()
    assert server.start().port == port


def test_taken_port_is_a_clear_error(scratch_pgdata: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EmbeddedServerError, match=f"port {port} on 127.0.0.1 is already in use"):
            EmbeddedServer(scratch_pgdata, port, fast_unsafe=True).start()


def test_directory_that_is_not_a_data_directory_is_refused(scratch_pgdata: Path) -> None:
    scratch_pgdata.mkdir()
    (scratch_pgdata / "notes.txt").write_text("mine")
    with pytest.raises(EmbeddedServerError, match="not a PostgreSQL data directory"):
        EmbeddedServer(scratch_pgdata).start()


def test_data_directory_of_another_major_version_is_refused(scratch_pgdata: Path) -> None:
    scratch_pgdata.mkdir()
    (scratch_pgdata / "PG_VERSION").write_text("16\n")
    with pytest.raises(EmbeddedServerError, match="created by PostgreSQL 16"):
        EmbeddedServer(scratch_pgdata).start()


def test_data_directory_path_that_is_a_file_is_refused(scratch_pgdata: Path) -> None:
    scratch_pgdata.write_text("")
    with pytest.raises(EmbeddedServerError, match="not a directory"):
        EmbeddedServer(scratch_pgdata).init()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_data_directory_is_refused(scratch_pgdata: Path) -> None:
    scratch_pgdata.mkdir(mode=0o500)
    with pytest.raises(EmbeddedServerError, match="not writable"):
        EmbeddedServer(scratch_pgdata).init()


def test_failed_start_reports_the_log_tail(scratch_pgdata: Path) -> None:
    server = EmbeddedServer(scratch_pgdata, fast_unsafe=True)
    server.init()
    with (scratch_pgdata / "postgresql.conf").open("a") as conf:
        conf.write("\nshared_buffers = 'plenty'\n")
    with pytest.raises(EmbeddedServerError, match=r"(?s)start of .* failed.*tail of .*shared_buffers"):
        server.start()


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="no /proc to tell a zombie")
def test_a_postmaster_pid_naming_a_zombie_is_not_a_running_server(scratch_pgdata: Path) -> None:
    """A killed postmaster nobody reaped yet still answers signal 0: reusing it would leave nothing listening,
    and PostgreSQL itself refuses to start while its lock file names it, so start() removes that file."""
    server = EmbeddedServer(scratch_pgdata, fast_unsafe=True)
    server.init()
    lock = scratch_pgdata / "postmaster.pid"
    lock.write_text(f"{os.getpid()}\n{scratch_pgdata}\n0\n5432\n/tmp\n")
    assert server.status().running is True
    with _zombie() as pid:
        lock.write_text(f"{pid}\n{scratch_pgdata}\n0\n5432\n/tmp\n")
        assert server.status().running is False
        started = server.start()
        assert started.running and started.pid not in (None, pid)
    with psycopg.connect(server.url()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


@contextlib.contextmanager
def _zombie() -> Iterator[int]:
    """The pid of a child that has exited and is not reaped until the block ends; owned by the server's OS
    user (when we are root), so the server may signal it, as it may a postmaster it ran as."""
    uid = pwd.getpwnam(SERVER_OS_USER).pw_uid if os.geteuid() == 0 else None
    child = os.fork()
    if child == 0:
        if uid is not None:
            os.setuid(uid)
        os._exit(0)
    try:
        for _ in range(500):  # the child becomes a zombie at once; bounded, not timed
            if Path(f"/proc/{child}/stat").read_text().rpartition(")")[2].split()[0] == "Z":
                break
            os.sched_yield()
        yield child
    finally:
        os.waitpid(child, 0)
