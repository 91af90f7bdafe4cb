"""``djogi db reset | seed | psql | url`` against a fresh test database."""

from __future__ import annotations

import psycopg

from tests.cli.helpers import Project


def test_reset_drops_recreates_and_replays_every_migration(project: Project) -> None:
    project.run("migrations", "compose", "--name", "initial")
    project.run("migrations", "apply")
    with psycopg.connect(project.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE scratch (x int)")
    done = project.json("db", "reset", "--yes")
    assert done["database"] == project.url.rsplit("/", 1)[1]
    assert done["replayed"][0] == "V00000000000000__phase_zero_bootstrap" and len(done["replayed"]) == 2
    with psycopg.connect(project.url) as conn:
        names = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert "scratch" not in names and {"authors", "books"} <= names
    text = project.run("db", "reset", "--yes").stdout
    assert "recreated database" in text and "2 migration(s) replayed" in text


def test_seeds_run_once_each_in_name_order(project: Project) -> None:
    assert "no seeds discovered" in project.run("db", "seed").stdout
    seeds = project.root / "seeds" / "main"
    seeds.mkdir(parents=True)
    (seeds / "002_more.sql").write_text("INSERT INTO colors VALUES ('green');")
    (seeds / "001_colors.sql").write_text("CREATE TABLE colors (name text); INSERT INTO colors VALUES ('red');")
    (seeds / ".hidden.sql").write_text("SELECT 1/0;")
    (seeds / "notes.txt").write_text("not a seed")
    first = project.run("db", "seed").stdout
    assert first.index("001_colors.sql") < first.index("002_more.sql") and "2 applied, 0 skipped" in first
    results = project.json("db", "seed")
    assert [(r["name"], r["outcome"]) for r in results] == [("001_colors.sql", "skipped"), ("002_more.sql", "skipped")]
    (seeds / "003_broken.sql").write_text("INSERT INTO colors VALUES ('blue'); SELECT 1/0;")
    failed = project.run("db", "seed", expect=1)
    assert "seed 003_broken.sql failed and was rolled back" in failed.stderr
    assert "division by zero [SQLSTATE 22012]" in failed.stderr  # the executor's translation
    with psycopg.connect(project.url) as conn:
        assert sorted(r[0] for r in conn.execute("SELECT name FROM colors")) == ["green", "red"]
        ledger: dict[str, str] = dict(conn.execute("SELECT seed_name, status FROM djogi_seed_runs").fetchall())
    assert ledger == {"001_colors.sql": "applied", "002_more.sql": "applied", "003_broken.sql": "failed"}
    (seeds / "003_broken.sql").write_text("INSERT INTO colors VALUES ('blue');")
    assert "1 applied, 2 skipped" in project.run("db", "seed").stdout  # a failed seed is retried


def test_a_server_error_reaching_the_command_line_is_translated(project: Project) -> None:
    """A psycopg error no command wraps (here the seed ledger's DDL on a view in its place) is reported
    through the executor's translation: one message with its SQLSTATE, exit 1, no traceback."""
    with psycopg.connect(project.url, autocommit=True) as conn:
        conn.execute("CREATE VIEW djogi_seed_runs AS SELECT 1 AS id")
    (project.root / "seeds" / "main").mkdir(parents=True)
    (project.root / "seeds" / "main" / "001_one.sql").write_text("SELECT 1;")
    failed = project.run("db", "seed", expect=1)
    assert "error: " in failed.stderr and "[SQLSTATE 42809]" in failed.stderr, failed.stderr
    assert "Traceback" not in failed.stderr


def test_url_and_psql_use_the_configured_database(project: Project) -> None:
    assert project.run("db", "url").stdout.strip() == project.url
    done = project.run("db", "psql", "--", "-Atc", "SELECT current_database()")
    assert done.stdout.strip() == project.url.rsplit("/", 1)[1]
