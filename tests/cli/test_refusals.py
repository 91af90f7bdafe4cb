"""Every refusal exits 2 with a message that says what to do instead."""

from __future__ import annotations

import json

import psycopg

from tests.cli.helpers import MODELS_V1, MODELS_V2, Project

REMOTE_URL = "postgresql://app@db.example.com:5432/app"


def test_bad_arguments_and_configuration(project: Project) -> None:
    assert project.run("migrations", "nonsense", expect=2).stderr
    assert project.run("db", "up", "--port", "0", expect=2).stderr
    project.refused("--database", "nowhere", "migrations", "status", says="known databases: main")
    (project.root / "Djogi.toml").write_text('[project]\nmodels = ["shop.models"]\nprofile = "prod"\n')
    project.refused("migrations", "status", says='project.profile: expected one of')


def test_models_must_be_registered_and_importable(project: Project) -> None:
    project.write_models("")
    for command in (("migrations", "compose"), ("docs",), ("migrations", "check")):
        project.refused(*command, says="no models registered: check [project] models in Djogi.toml")
    (project.root / "Djogi.toml").write_text('[project]\nmodels = ["shop.missing"]\n')
    project.refused("docs", says="cannot import models module 'shop.missing'")


def test_json_errors_are_json_too(project: Project) -> None:
    project.write_models("")
    done = project.run("--json", "docs", expect=2)
    assert json.loads(done.stdout) == {"error": "no models registered: check [project] models in Djogi.toml",
                                       "exit_code": 2}


def test_destructive_compose_needs_the_flag(project: Project) -> None:
    project.run("migrations", "compose", "--name", "initial")
    project.write_models(MODELS_V1.replace("    title: Field[str]\n", ""))
    project.refused("migrations", "compose", says="pass allow_destructive")
    assert "destructive" in project.run("migrations", "compose", "--allow-destructive").stdout


def test_apply_and_rollback_gates(project: Project) -> None:
    project.refused("migrations", "apply", "--fake", says="--fake needs --reason")
    project.refused("migrations", "rollback", "--allow-data-loss", says="--allow-data-loss needs --reason")
    project.refused("migrations", "rollback", "--reason", "why", says="only used with --allow-data-loss")
    project.refused("migrations", "baseline", "V20260101000000__adopt", "--reason", " ", says="non-empty reason")
    project.run("migrations", "compose", "--name", "initial")
    project.refused("migrations", "rollback", says="no migrations recorded")
    project.run("migrations", "apply")
    project.run("migrations", "rollback")
    project.refused("migrations", "rollback", says="nothing to roll back")  # the bootstrap stays
    project.refused("migrations", "repair", "checksum-drift", "V20200101000000__nope", says="has no files in")


def test_edited_migration_files_are_refused(project: Project) -> None:
    version = project.json("migrations", "compose", "--name", "initial")["version"]
    project.run("migrations", "apply")
    up = project.root / "migrations/main/_global_" / f"{version}.sdjql"
    up.write_text(up.read_text().replace('CREATE TABLE "books"', 'CREATE TABLE "bookz"'))
    project.refused("migrations", "status", says="djogi migrations repair checksum-drift <VERSION>")
    project.refused("migrations", "verify", says="djogi migrations repair checksum-drift <VERSION>")
    project.refused("migrations", "check", says="restore them from version control")
    project.write_models(MODELS_V2)
    project.run("migrations", "compose", "--name", "reviews")
    project.refused("migrations", "apply", says="repair checksum-drift")
    project.run("migrations", "repair", "checksum-drift", version)
    project.run("migrations", "status")
    project.run("migrations", "apply")
    assert "check passed" in project.run("migrations", "check").stdout  # the plan carries the accepted edit


def test_out_of_order_is_refused_in_production(project: Project) -> None:
    project.run("migrations", "compose", "--name", "initial")
    project.run("migrations", "apply")
    project.write_models(MODELS_V2)
    later = project.json("migrations", "compose", "--name", "reviews")["version"]
    early = "V20000101000000__reviews"  # a migration older than the applied one (e.g. from a merged branch)
    for path in (project.root / "migrations/main/_global_").glob(f"{later}.*"):
        path.rename(path.with_name(path.name.replace(later, early)))
    project.refused("--profile", "production", "migrations", "apply", says="out-of-order")
    project.refused("migrations", "apply", says="out-of-order", CI="true")
    project.run("migrations", "apply")
    assert "applied [ooo]" in project.run("migrations", "status").stdout


def test_db_reset_gates(project: Project) -> None:
    project.refused("db", "reset", "--yes", says="production profile", DJOGI_ENV="production")
    project.refused("db", "reset", "--yes", says="only runs against a local server", DJOGI_DATABASE_URL=REMOTE_URL)
    project.refused("db", "reset", "--yes", says="plain identifiers",
                    DJOGI_DATABASE_URL="postgresql://postgres@127.0.0.1:1/bad-name")
    project.refused("db", "reset", says="pass --yes to confirm")
    with psycopg.connect(project.url) as conn:  # nothing was dropped
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_db_seed_gates(project: Project) -> None:
    project.refused("db", "seed", says="--allow-non-localhost", DJOGI_DATABASE_URL=REMOTE_URL)
    seeds = project.root / "seeds" / "main"
    seeds.mkdir(parents=True)
    (seeds / "001_colors.sql").write_text("CREATE TABLE colors (name text); INSERT INTO colors VALUES ('red');")
    project.run("db", "seed")
    (seeds / "001_colors.sql").write_text("CREATE TABLE colors (name text); INSERT INTO colors VALUES ('blue');")
    project.refused("db", "seed", says="put the change in a new seed file")
