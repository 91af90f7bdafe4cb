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
    assert project.json("migrations", "verify") == [
        {"bucket": "main/_global_", "head": v1, "ok": True, "diagnostics": []}]
    v1_snapshot = project.root / "migrations/main/_global_" / f"{v1}.snapshot.json"
    assert v1_snapshot.read_bytes() == (project.root / "migrations/main/_global_/schema_snapshot.json").read_bytes()

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
    assert rolled == {"bucket": "main/_global_", "dry_run": False, "rolled_back": [v2], "head": v1, "ok": True,
                      "diagnostics": []}
    assert "reviews" not in tables(project.url) and "pages" not in columns(project.url, "books")
    rows = project.json("migrations", "status")["main"]["buckets"][0]["rows"]
    assert [r["status"] for r in rows] == ["applied", "applied", "rolled_back"]

    # After a rollback the schema is the one of the applied head (v1): verify passes, and only warns
    # that v2 is on disk but not applied (so the models, which declare v2's schema, are not compared).
    clean = project.run("migrations", "verify").stdout
    assert f"[WARNING] D619 ({v2})" in clean and "PASSED" in clean
    assert f"schema matches the snapshot of {v1} (the applied head)\n" in clean
    [found] = project.json("migrations", "verify")
    assert found["ok"] is True and found["head"] == v1
    assert [(d["code"], d["severity"]) for d in found["diagnostics"]] == [("D642", "info"), ("D619", "warning")]

    # Drift against the head is still drift.
    with psycopg.connect(project.url, autocommit=True) as conn:
        conn.execute('ALTER TABLE "books" ADD COLUMN "pages" BIGINT')
    [drifted] = project.json("migrations", "verify", expect=1)
    assert {d["code"] for d in drifted["diagnostics"]} == {"D604", "D619", "D642"}
    with psycopg.connect(project.url, autocommit=True) as conn:
        conn.execute('ALTER TABLE "books" DROP COLUMN "pages"')

    project.run("migrations", "apply")
    verified = project.run("migrations", "verify").stdout
    assert verified.count("PASSED") == 1 and f"snapshot of {v2} (the applied head) and the models" in verified
    with psycopg.connect(project.url, autocommit=True) as conn:  # the models and the database disagree
        conn.execute('ALTER TABLE "reviews" ALTER COLUMN "stars" DROP NOT NULL')
    assert "D605 (reviews.stars)" in project.run("migrations", "verify", expect=1).stdout
    with psycopg.connect(project.url, autocommit=True) as conn:
        conn.execute('ALTER TABLE "reviews" ALTER COLUMN "stars" SET NOT NULL')
    rolled_text = project.run("migrations", "rollback").stdout
    assert f"rolled back {v2}" in rolled_text and f"schema matches the snapshot of {v1}" in rolled_text

    # A rollback whose down SQL leaves the schema different from the head's snapshot exits 1.
    project.run("migrations", "apply")
    with psycopg.connect(project.url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "stray" ("id" BIGINT PRIMARY KEY)')
    failed = project.run("migrations", "rollback", expect=1)
    assert "D602 (stray)" in failed.stdout and "rollback check failed" in failed.stderr


def test_rollback_and_verify_without_per_migration_snapshots(project: Project) -> None:
    """Migrations composed by an older djogi have no ``.snapshot.json``: the D630 fallback."""
    v1 = project.json("migrations", "compose", "--name", "initial")["version"]
    project.write_models(MODELS_V2)
    v2 = project.json("migrations", "compose", "--name", "reviews")["version"]
    folder = project.root / "migrations/main/_global_"
    assert sorted(p.name for p in folder.glob("*.snapshot.json")) == [
        "V00000000000000__phase_zero_bootstrap.snapshot.json", f"{v1}.snapshot.json", f"{v2}.snapshot.json"]
    (folder / f"{v1}.snapshot.json").unlink()
    project.run("migrations", "apply")
    assert project.run("migrations", "verify").stdout.count("PASSED") == 1

    rolled = project.run("migrations", "rollback")
    assert f"[WARNING] D630 ({v1})" in rolled.stdout and "schema matches" not in rolled.stdout
    behind = project.run("migrations", "verify", expect=1)
    assert f"D630 ({v1})" in behind.stdout and "D601 (reviews)" in behind.stdout and "FAILED" in behind.stdout
    project.run("migrations", "apply")
    assert project.json("migrations", "verify")[0]["diagnostics"] == []
