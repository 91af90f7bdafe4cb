"""compose -> apply -> status -> model change -> compose -> apply -> rollback -> verify, end to end."""

from __future__ import annotations

import psycopg

from tests.cli.helpers import MODELS_V2, Project


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def columns(url: str, table: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s",
                            (table,)).fetchall()
    return {r[0] for r in rows}


def test_the_whole_migration_flow(project: Project) -> None:
    dry = project.run("migrations", "compose", "--dry-run", "--name", "initial")
    assert "would compose main/_global_" in dry.stdout and '+ CREATE TABLE "authors" (' in dry.stdout
    assert not (project.root / "migrations").exists()
    dry_json = project.json("migrations", "compose", "--dry-run", "--name", "initial")
    assert dry_json["written"] is False and dry_json["bootstraps"] == ["main"]
    [planned] = dry_json["buckets"]
    assert planned["classification"] == "additive"
    assert {op["label"] for op in planned["operations"]} >= {"AddTable authors", "AddTable books"}

    composed = project.json("migrations", "compose", "--name", "initial")
    assert composed["written"] is True
    v1 = composed["version"]
    assert v1.endswith("__initial") and (project.root / "migrations/main/_global_" / f"{v1}.sdjql").is_file()
    assert "nothing to compose" in project.run("migrations", "compose").stdout
    project.run("migrations", "check")

    before = project.json("migrations", "status")["main"]
    assert [b["pending"] for b in before["buckets"]] == [["V00000000000000__phase_zero_bootstrap", v1]]
    assert "not applied" in project.run("migrations", "status").stdout

    applied = project.run("migrations", "apply")
    assert f"applying main/_global_: {v1}" in applied.stdout and "applied 2 migration(s)" in applied.stdout
    assert {"authors", "books", "djogi_schema_migrations"} <= tables(project.url)
    assert "no pending migrations to apply" in project.run("migrate", "apply").stdout

    shown = project.run("migrations", "status").stdout
    for heading in ("version", "app", "status", "applied at", "duration", "checksum ok"):
        assert heading in shown
    assert v1 in shown and "applied" in shown and "not applied" not in shown
    report = project.json("migrations", "status")["main"]
    assert report["healthy"] is True and report["invalid_indexes"] == []
    [bucket] = report["buckets"]
    assert bucket["pending"] == [] and bucket["drifted"] == []
    assert [(r["version"], r["status"]) for r in bucket["rows"]] == [
        ("V00000000000000__phase_zero_bootstrap", "applied"), (v1, "applied")]
    assert project.json("migrations", "verify") == [{"bucket": "main/_global_", "ok": True, "diagnostics": []}]

    project.write_models(MODELS_V2)
    stale = project.run("migrations", "check", expect=1)
    assert "run `djogi migrations compose`" in stale.stderr
    v2 = project.json("migrations", "compose", "--name", "reviews")["version"]
    assert v2 > v1
    assert "applied 1 migration(s)" in project.run("migrations", "apply").stdout
    assert "reviews" in tables(project.url) and "pages" in columns(project.url, "books")
    assert project.run("migrations", "verify").stdout.count("PASSED") == 1

    preview = project.run("migrations", "rollback", "--dry-run")
    assert f"-- rollback {v2} (main/_global_)" in preview.stdout and 'DROP TABLE "reviews";' in preview.stdout
    assert "reviews" in tables(project.url)
    rolled = project.json("migrations", "rollback")
    assert rolled == {"bucket": "main/_global_", "dry_run": False, "rolled_back": [v2]}
    assert "reviews" not in tables(project.url) and "pages" not in columns(project.url, "books")
    rows = project.json("migrations", "status")["main"]["buckets"][0]["rows"]
    assert [r["status"] for r in rows] == ["applied", "applied", "rolled_back"]

    # The snapshot describes the composed migrations, so after a rollback verify reports the schema as
    # behind them (exit 1) and names the migration to re-apply.
    behind = project.run("migrations", "verify", expect=1)
    assert "D601 (reviews)" in behind.stdout and f"D619 ({v2})" in behind.stdout and "FAILED" in behind.stdout
    [found] = project.json("migrations", "verify", expect=1)
    assert found["ok"] is False
    assert {d["code"] for d in found["diagnostics"]} == {"D601", "D603", "D619"}

    project.run("migrations", "apply")
    assert project.run("migrations", "verify").stdout.count("PASSED") == 1
