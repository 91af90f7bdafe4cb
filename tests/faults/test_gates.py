"""The safety gates of ``db reset`` / ``db seed`` judge the address libpq really connects to, and
``db reset`` checks everything before it destroys anything."""

from __future__ import annotations

import psycopg
import pytest

from djogi.cli.state import remote_address
from tests.cli.helpers import Project

ELSEWHERE = "10.255.255.1"  # not this machine; never contacted, the gates refuse first


def _rows(project: Project) -> list[tuple[str]]:
    with psycopg.connect(project.url) as conn:
        return [(r[0],) for r in conn.execute("SELECT name FROM authors ORDER BY name")]


@pytest.fixture
def migrated(project: Project) -> Project:
    project.run("migrations", "compose", "--name", "initial")
    project.run("migrations", "apply")
    with psycopg.connect(project.url, autocommit=True) as conn:
        conn.execute("INSERT INTO authors (name, email) VALUES ('Ann', 'ann@example.com')")
    return project


def test_gates_judge_hostaddr_host_lists_and_the_environment(migrated: Project) -> None:
    project = migrated
    sneaky = [
        ({"DJOGI_DATABASE_URL": f"{project.url}?hostaddr={ELSEWHERE}"}, f"hostaddr={ELSEWHERE}"),
        ({"DJOGI_DATABASE_URL": project.url.replace("127.0.0.1", f"127.0.0.1,{ELSEWHERE}")}, f"host={ELSEWHERE}"),
        ({"PGHOSTADDR": ELSEWHERE}, f"hostaddr={ELSEWHERE}"),
    ]
    for env, says in sneaky:
        project.refused("db", "reset", "--yes", says=says, **env)
        project.refused("db", "seed", says="--allow-non-localhost", **env)
    assert _rows(project) == [("Ann",)]  # nothing was dropped


def test_remote_address_follows_libpq(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGHOST", raising=False)
    monkeypatch.delenv("PGHOSTADDR", raising=False)
    monkeypatch.delenv("PGSERVICE", raising=False)
    for local in ("postgresql://localhost/x", "postgresql:///x", "postgresql:///x?host=/tmp", "postgresql://[::1]/x",
                  "postgresql://db.example.com/x?hostaddr=127.0.0.1", "postgresql://a,b/x?hostaddr=127.0.0.1,::1"):
        assert remote_address(local) is None, local
    assert remote_address("postgresql://localhost/x?hostaddr=10.9.9.9") == "hostaddr=10.9.9.9"
    assert remote_address("host=localhost hostaddr=192.168.1.1 dbname=x") == "hostaddr=192.168.1.1"
    assert remote_address("postgresql://127.0.0.1,[::1]/x?hostaddr=,10.0.0.1") == "hostaddr=10.0.0.1"
    assert remote_address("postgresql://no-such-host.invalid/x") == "host=no-such-host.invalid"
    assert remote_address("postgresql://localhost/x?service=mine") is not None
    assert remote_address("nonsense =") == "a URL libpq cannot parse"
    monkeypatch.setenv("PGHOST", ELSEWHERE)
    assert remote_address("postgresql:///x") == f"host={ELSEWHERE}"


def test_reset_checks_every_migration_before_dropping_anything(migrated: Project) -> None:
    project = migrated
    [edited] = [p for p in (project.root / "migrations").rglob("*.sdjql")
                if "initial" in p.name and not p.name.endswith(".down.sdjql")]
    edited.write_text(edited.read_text() + "\n-- a hand edit\n")
    done = project.run("db", "reset", "--yes", expect=2)
    assert "edited after compose" in done.stderr and "was left as it was" in done.stderr
    assert _rows(project) == [("Ann",)]  # the database is intact, data included
    with psycopg.connect(project.url) as conn:
        leftovers = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'djogi_reset_%'").fetchall()
    assert leftovers == []
