"""``djogi db``: the real console script, run in a subprocess against a throw-away data directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg

DJOGI = str(Path(sys.executable).parent / "djogi")


def djogi(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DJOGI, *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=120)


def status(pgdata: Path) -> dict[str, object]:
    done = djogi("db", "status", "--json", "--pgdata", str(pgdata), cwd=pgdata.parent)
    assert done.returncode == 0, done.stderr
    parsed: dict[str, object] = json.loads(done.stdout)
    return parsed


def test_up_url_status_down(scratch_pgdata: Path) -> None:
    where = ["--pgdata", str(scratch_pgdata)]
    cwd = scratch_pgdata.parent
    assert status(scratch_pgdata)["running"] is False

    first = djogi("db", "up", *where, cwd=cwd)
    assert first.returncode == 0, first.stderr
    pid = status(scratch_pgdata)["pid"]
    second = djogi("db", "up", *where, cwd=cwd)
    assert second.returncode == 0, second.stderr
    state = status(scratch_pgdata)
    assert state["running"] is True and state["pid"] == pid
    assert str(state["version"]).startswith("18.") and state["pgdata"] == str(scratch_pgdata)

    url = djogi("db", "url", *where, cwd=cwd)
    assert url.returncode == 0, url.stderr
    assert url.stdout.startswith("postgresql://") and url.stdout in second.stdout
    with psycopg.connect(url.stdout.strip()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)

    down = djogi("db", "down", *where, cwd=cwd)
    assert down.returncode == 0, down.stderr
    assert status(scratch_pgdata)["running"] is False
    after = djogi("db", "url", *where, cwd=cwd)
    assert after.returncode == 1 and "not running" in after.stderr


def test_default_data_directory_is_under_the_project_root(scratch_pgdata: Path) -> None:
    project = scratch_pgdata.parent
    (project / "Djogi.toml").write_text("")
    (project / "src").mkdir()
    done = djogi("db", "status", "--json", cwd=project / "src")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pgdata"] == str(project / ".djogi" / "pgdata")


def test_unusable_data_directory_exits_1_and_bad_arguments_exit_2(scratch_pgdata: Path) -> None:
    scratch_pgdata.mkdir()
    (scratch_pgdata / "notes.txt").write_text("mine")
    refused = djogi("db", "up", "--pgdata", str(scratch_pgdata), cwd=scratch_pgdata.parent)
    assert refused.returncode == 1 and "not a PostgreSQL data directory" in refused.stderr
    assert djogi("db", "up", "--port", "0", cwd=scratch_pgdata.parent).returncode == 2
    assert djogi("db", "nonsense", cwd=scratch_pgdata.parent).returncode == 2
