"""The password of a database URL appears in nothing djogi prints, logs or raises, on any path: CLI
stdout/stderr (with -v debug logging and --json), psql's command line, exceptions, and the djogi,
psycopg and psycopg_pool loggers at DEBUG."""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import anyio
import pytest

from djogi.errors import DjogiError
from djogi.executor import connect
from tests.cli.helpers import DJOGI, Project

PASSWORD = "Sekr1t-pw"


def _with_password(url: str, password: str = PASSWORD) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{password}@", 1)


@pytest.fixture
def secret_project(tmp_path: Path, db_url: str) -> Project:
    """A project whose database URL carries a password (the embedded server trusts, so it is ignored)."""
    return Project(tmp_path, _with_password(db_url))


def test_no_cli_output_carries_the_password(secret_project: Project) -> None:
    project = secret_project
    outputs = []
    for args in (("db", "url"), ("-v", "--json", "migrations", "status"),
                 ("-v", "migrations", "compose", "--name", "initial"), ("-v", "migrations", "apply"),
                 ("-v", "db", "reset", "--yes")):
        done = project.run(*args)
        outputs += [done.stdout, done.stderr]
    assert "***" in outputs[0]  # db url shows where the password was
    port = project.url.split(":")[-1].split("/")[0]
    for bad_port, code in (("99999", 2), ("1", 1)):  # a malformed URL (refused) and a refused connection
        bad = _with_password(project.url.replace(port, bad_port))
        done = project.run("-v", "--json", "migrations", "status", expect=code, DJOGI_DATABASE_URL=bad)
        outputs += [done.stdout, done.stderr]
    odd = "postgresql://postgres:p@ss" + PASSWORD + "@127.0.0.1:99999/x"  # an unencoded "@" in the password
    done = project.run("-v", "migrations", "status", expect=2, DJOGI_DATABASE_URL=odd)
    outputs += [done.stdout, done.stderr]
    leaks = [text for text in outputs if PASSWORD in text or "p@ss" in text]
    assert not leaks
    assert PASSWORD in project.run("db", "url", "--show-password").stdout  # only when asked for


def test_psql_gets_the_password_through_the_environment(secret_project: Project) -> None:
    project = secret_project
    process = subprocess.Popen([DJOGI, "db", "psql", "--", "-Atc", "SELECT pg_sleep(3), 42"], cwd=project.root,
                               env=project.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        cmdline = b""
        deadline = time.monotonic() + 20
        while b"psql" not in cmdline.split(b"\0")[0] and time.monotonic() < deadline:
            cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes()  # what `ps` shows, after the exec
            time.sleep(0.05)
        environ = Path(f"/proc/{process.pid}/environ").read_bytes()
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert b"psql" in cmdline.split(b"\0")[0], cmdline
    assert PASSWORD.encode() not in cmdline
    assert f"PGPASSWORD={PASSWORD}".encode() in environ.split(b"\0")
    assert process.returncode == 0 and out.strip() == "|42", err


@pytest.mark.anyio
async def test_no_exception_or_log_record_carries_the_password(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    messages: list[str] = []
    with caplog.at_level(logging.DEBUG), anyio.fail_after(60):
        async with connect(_with_password(db_url), min_size=2, max_size=2) as db:
            await db.raw("SELECT 1")
            with pytest.raises(DjogiError) as info:
                await db.raw("SELECT * FROM missing_table")
            messages.append(str(info.value))
        for bad in (_with_password(db_url).replace("/t_", "/nope_"),  # no such database
                    "host=127.0.0.1 port=1 user=postgres password=" + PASSWORD,  # refused
                    "host=127.0.0.1 password=" + PASSWORD + " nonsense",  # malformed conninfo
                    "postgresql://postgres:" + PASSWORD + "@127.0.0.1:1/x?bogus=1"):  # unknown parameter
            with pytest.raises(DjogiError) as info:
                async with connect(bad, timeout=5.0):
                    pass
            messages.append(str(info.value))
            messages.append(repr(info.value))
    messages += [record.getMessage() for record in caplog.records]
    assert not [m for m in messages if PASSWORD in m]
    assert any("Connection refused" in m for m in messages)
