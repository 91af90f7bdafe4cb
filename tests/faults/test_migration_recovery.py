"""Every migration failure has a way back: each test reproduces the failure through the real ``djogi`` CLI
against the embedded server, then runs the recovery that docs/when-things-go-wrong.md shows."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from djogi import HeerIdDesc
from tests.cli.helpers import DJOGI, MODELS_V1, Project
from tests.faults.helpers import foreground

GLOBAL = Path("migrations/main/_global_")
TITLE = "    title: Field[str]\n"
PAGES_REQUIRED = MODELS_V1.replace(TITLE, TITLE + "    pages: Field[int] = field(default=0)\n")
PAGES_OPTIONAL = MODELS_V1.replace(TITLE, TITLE + "    pages: Field[int | None] = field(default=None)\n")
TITLE_RENAMED = MODELS_V1.replace(TITLE, "    name: Field[str]\n")
NO_TITLE = MODELS_V1.replace(TITLE, "")


def _seed(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO authors (id, name, email) VALUES (1, 'Ann', 'ann@example.com')")
        conn.execute("INSERT INTO books (id, title, author_id) VALUES (1, 'Dune', 1)")


def _ledger(url: str) -> list[tuple[str, str, str | None]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version, status, partial_apply_note FROM djogi_schema_migrations ORDER BY id")
        return [(r[0], r[1], r[2]) for r in rows.fetchall()]


def _composed(project: Project) -> list[str]:
    return sorted(p.name.removesuffix(".plan.json") for p in (project.root / GLOBAL).glob("V*.plan.json"))


def test_not_null_with_python_default_rename_hint_and_discard(project: Project) -> None:
    project.run("migrations", "compose")
    project.run("migrations", "apply")
    _seed(project.url)
    snapshot = project.root / GLOBAL / "schema_snapshot.json"
    before = snapshot.read_bytes()

    # A NOT NULL field with only a Python default: refused with the safe forms, even with --allow-destructive.
    project.write_models(PAGES_REQUIRED)
    for flags in ((), ("--allow-destructive",)):
        err = project.refused("migrations", "compose", *flags, says="cannot add NOT NULL column(s) books.pages")
        assert "field(db_default=...)" in err and "make the field optional" in err
        assert "books.pages: field(db_default='0') matches its Python default" in err
    # A renamed field: the same refusal asks whether it was a rename.
    project.write_models(TITLE_RENAMED)
    project.refused("migrations", "compose", says="did you rename books.title to books.name? declare "
                                                   "field(renamed_from='title')")
    assert snapshot.read_bytes() == before

    # An unapplied migration is discarded with one command, which restores the snapshot.
    project.write_models(PAGES_OPTIONAL)
    project.run("migrations", "compose", "-n", "pages")
    [_boot, v1, v2] = _composed(project)
    assert snapshot.read_bytes() != before
    out = project.run("migrations", "discard").stdout
    assert f"discarded {v2}" in out and f"removed {GLOBAL}/{v2}.plan.json" in out
    assert _composed(project) == [_boot, v1]
    assert snapshot.read_bytes() == before
    project.run("migrations", "check", expect=1)  # the models have a change no migration holds
    project.run("migrations", "compose", "-n", "pages")
    project.run("migrations", "apply")
    project.run("migrations", "check")

    # An applied migration is not discarded: roll it back first.
    [v2] = [v for v in _composed(project) if v.endswith("__pages")]
    project.refused("migrations", "discard", says=f"{v2} is applied in main/_global_; roll it back first")
    # An edited applied file: check and verify agree, and neither advises a command that does nothing.
    up = project.root / GLOBAL / f"{v2}.sdjql"
    up.write_text(up.read_text().replace("BIGINT", "INTEGER"))
    err = project.refused("migrations", "check", says="restore them from version control")
    assert "force-overwrite" not in err
    verify = project.run("migrations", "verify", expect=2)
    assert "D620" in verify.stdout and "FAILED" in verify.stdout and "schema matches" not in verify.stdout


def test_rollback_of_dropped_not_null_column_refuses_up_front(project: Project) -> None:
    project.run("migrations", "compose")
    project.run("migrations", "apply")
    _seed(project.url)
    project.write_models(NO_TITLE)
    project.run("migrations", "compose", "--allow-destructive", "-n", "drop_title")
    project.run("migrations", "apply")
    err = project.refused("migrations", "rollback", "--allow-data-loss", "--reason", "test",
                          says="its down SQL re-adds books.title as NOT NULL without a default")
    assert "Roll forward instead" in err
    assert [s for _, s, _ in _ledger(project.url)] == ["applied", "applied", "applied"]
    # Roll forward, as the message says: the field comes back optional.
    project.write_models(MODELS_V1.replace(TITLE, "    title: Field[str | None] = field(default=None)\n"))
    project.run("migrations", "compose", "-n", "title_back")
    project.run("migrations", "apply")
    project.run("migrations", "verify")
    # With no rows left the down can run, and rollback does.
    with psycopg.connect(project.url, autocommit=True) as conn:
        conn.execute("DELETE FROM books")
    project.run("migrations", "rollback")
    project.run("migrations", "rollback", "--allow-data-loss", "--reason", "empty table")
    assert "title" in {r[0] for r in psycopg.connect(project.url).execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'books'").fetchall()}


# The server is shared with the tests other workers run at the same time (pg_stat_activity lists every
# database's sessions): a session is this test's only when it is in this test's database.
_OURS = "datname = current_database() AND pid <> pg_backend_pid()"


def _apply_blocked(project: Project) -> tuple[subprocess.Popen[str], psycopg.Connection, int]:
    """Start ``djogi migrations apply`` while another session holds books' lock; return it once its
    ALTER TABLE waits for the lock, the blocking connection and the pid of the apply's waiting session."""
    blocker = psycopg.connect(project.url)
    blocker.execute("LOCK TABLE books IN ACCESS EXCLUSIVE MODE")
    proc = subprocess.Popen(foreground([DJOGI, "migrations", "apply"]), cwd=project.root, env=project.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with psycopg.connect(project.url, autocommit=True) as watcher:
            for _ in range(600):
                row = watcher.execute(f"SELECT pid FROM pg_stat_activity WHERE {_OURS} AND wait_event_type = 'Lock' "
                                      "AND query LIKE 'ALTER TABLE%'").fetchone()  # fmt: skip
                if row:
                    return proc, blocker, row[0]
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.05)
        raise AssertionError("apply never waited for the lock")
    except BaseException:
        # Release the lock, or the fixture's teardown (DROP TABLE) would wait on it forever.
        blocker.close()
        proc.kill()
        raise


@pytest.fixture
def neighbour(blank_url: str) -> Iterator[None]:
    """Another database on the server with an ALTER TABLE waiting for a lock, as a test running in another
    worker may have: the tests below must neither watch nor end its session."""
    with (psycopg.connect(blank_url, autocommit=True) as waiter, psycopg.connect(blank_url) as holder,
          psycopg.connect(blank_url, autocommit=True) as watcher):  # fmt: skip
        waiter.execute("CREATE TABLE books (id int)")
        holder.execute("LOCK TABLE books IN ACCESS EXCLUSIVE MODE")
        waiting = threading.Thread(target=waiter.execute, args=("ALTER TABLE books ADD COLUMN pages int",))
        waiting.start()
        try:
            while not watcher.execute(f"SELECT 1 FROM pg_stat_activity WHERE {_OURS} AND wait_event_type = 'Lock' "
                                      "AND query LIKE 'ALTER TABLE%'").fetchone():  # fmt: skip
                time.sleep(0.05)
            yield
        finally:
            holder.rollback()
            waiting.join()


@pytest.mark.usefixtures("neighbour")
@pytest.mark.parametrize("how", ["server ends the session", "ctrl-c"])
def test_interrupted_apply_records_the_error_and_says_how_to_resume(project: Project, how: str) -> None:
    project.run("migrations", "compose")
    project.run("migrations", "apply")
    _seed(project.url)
    project.write_models(PAGES_OPTIONAL)
    project.run("migrations", "compose", "-n", "pages")
    proc, blocker, waiting = _apply_blocked(project)
    try:
        if how == "ctrl-c":
            proc.send_signal(signal.SIGINT)
        else:
            with psycopg.connect(project.url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (waiting,))
        _out, err = proc.communicate(timeout=60)
    finally:
        blocker.close()
        proc.kill()
    assert proc.returncode == 1, err
    said = " ".join(err.split())
    cause = "interrupted (Ctrl-C)" if how == "ctrl-c" else "terminating connection due to administrator command"
    assert cause in said and "the connection is closed" not in said
    assert "Recorded as failed (0 of ? steps done)" in said and "`djogi migrations apply` runs it again" in said
    version, status, note = _ledger(project.url)[-1]
    assert version.endswith("__pages") and status == "failed" and note is not None and cause in note
    # The documented way back: apply again.
    project.run("migrations", "apply")
    assert _ledger(project.url)[-1][:2] == (version, "applied")
    project.run("migrations", "verify")


@pytest.mark.usefixtures("neighbour")
def test_killed_apply_leaves_pending_and_the_named_repair_recovers(project: Project) -> None:
    """SIGKILL of the applying process: nothing can record it, so the row stays pending; the next apply
    names the repair, and after it apply finishes the migration."""
    project.run("migrations", "compose")
    project.run("migrations", "apply")
    project.write_models(PAGES_OPTIONAL)
    project.run("migrations", "compose", "-n", "pages")
    proc, blocker, _ = _apply_blocked(project)
    try:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        blocker.close()
    version, status, _ = _ledger(project.url)[-1]
    assert status == "pending"
    for _ in range(200):  # the server notices the dead client and ends its session
        with psycopg.connect(project.url) as conn:
            if not conn.execute(f"SELECT count(*) FROM pg_stat_activity WHERE {_OURS} "
                                "AND query LIKE 'ALTER TABLE%'").fetchone()[0]:  # type: ignore[index]
                break
        time.sleep(0.05)
    project.refused("migrations", "apply", says=f"run `djogi migrations repair partial-apply {version} rolled-back`")
    project.run("migrations", "repair", "partial-apply", version, "rolled-back")
    project.run("migrations", "apply")
    assert _ledger(project.url)[-1][:2] == (version, "applied")


def test_fake_never_skips_the_bootstrap(tmp_path: Path, blank_url: str) -> None:
    project = Project(tmp_path, blank_url)
    project.run("migrations", "compose")
    done = project.run("migrations", "apply", "--fake", "--reason", "tables exist already")
    assert "V00000000000000__phase_zero_bootstrap was run, not faked" in done.stderr + done.stdout
    assert "faked 1 migration(s)" in done.stdout
    statuses = [s for _, s, _ in _ledger(blank_url)]
    assert statuses == ["applied", "faked"]
    project.write_models(MODELS_V1 + "\nclass Tag(Model, table=\"tags\"):\n    name: Field[str]\n")
    project.run("migrations", "compose", "-n", "tags")
    project.run("migrations", "apply")
    with psycopg.connect(blank_url, autocommit=True) as conn:
        assert conn.execute("INSERT INTO tags (name) VALUES ('x') RETURNING id").fetchone() is not None


def test_plain_sql_sessions_get_the_default_node(tmp_path: Path, blank_url: str) -> None:
    """A session that never binds a node (``djogi db psql``, any client) fills default keys: the node is
    the database's, not the session's; ``heer_set_node`` (as the docs show) changes it."""
    project = Project(tmp_path, blank_url)
    project.run("migrations", "compose")
    project.run("migrations", "apply")
    with psycopg.connect(blank_url, autocommit=True) as conn:  # a new session: it reads the database default
        node = conn.execute("SELECT current_setting('heer.node_id', true)").fetchone()
        first = conn.execute("INSERT INTO authors (name, email) VALUES ('a', 'a@x') RETURNING id").fetchone()
    assert node == ("1",) and first is not None and first[0] != 0
    psql = project.run("db", "psql", "--", "-c", "INSERT INTO authors (name, email) VALUES ('b', 'b@x')")
    assert "INSERT 0 1" in psql.stdout
    name = blank_url.rsplit("/", 1)[1]
    with psycopg.connect(blank_url, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {name} RESET heer.node_id")
    with psycopg.connect(blank_url, autocommit=True) as conn:  # no session node: the database's fills it
        assert conn.execute("INSERT INTO authors (name, email) VALUES ('c', 'c@x') RETURNING id").fetchone()
    project.run("db", "psql", "--", "-c", "SELECT heer_set_node(2)")
    with psycopg.connect(blank_url, autocommit=True) as conn:
        row = conn.execute("INSERT INTO authors (name, email) VALUES ('d', 'd@x') RETURNING id").fetchone()
    assert row is not None and HeerIdDesc.info(row[0]).node_id == 2
    # An older install (the session's node, before its upgrade runs): the documented default, set once.
    project.run("db", "psql", "--", "-c", f"ALTER DATABASE {name} SET heer.node_id = '1'",
                "-c", f"ALTER DATABASE {name} SET heer.ranj_node_id = '1'")
    with psycopg.connect(blank_url, autocommit=True) as conn:
        assert conn.execute("SELECT current_setting('heer.node_id')").fetchone() == ("1",)


def test_the_bootstrap_fixes_the_projects_node(tmp_path: Path, blank_url: str) -> None:
    """``apply`` binds the project's node, so the bootstrap makes it the database's: keys carry it."""
    project = Project(tmp_path, blank_url)
    project.run("migrations", "compose", DJOGI_NODE_ID="3")
    project.run("migrations", "apply", DJOGI_NODE_ID="3")
    with psycopg.connect(blank_url, autocommit=True) as conn:
        row = conn.execute("INSERT INTO authors (name, email) VALUES ('a', 'a@x') RETURNING id").fetchone()
    assert row is not None and HeerIdDesc.info(row[0]).node_id == 3


def test_every_recovery_command_in_the_docs_is_run_here() -> None:
    """docs/when-things-go-wrong.md (## Migrations) shows only commands the tests in tests/faults run."""
    root = Path(__file__).parents[2]
    page = (root / "docs" / "when-things-go-wrong.md").read_text()
    section = page.split("## Migrations", 1)[1].split("\n## ", 1)[0]
    commands = [line.removeprefix("$ djogi ").split() for line in section.splitlines() if line.startswith("$ djogi ")]
    here = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    assert len(commands) >= 10
    for words in commands:
        command = ", ".join(f'"{w}"' for w in words[:2])
        assert command in here, f"djogi {' '.join(words)} is shown in the docs but not run by a test"
