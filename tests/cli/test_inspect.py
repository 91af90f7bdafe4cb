"""``djogi db inspect``: models written for an existing database declare it exactly."""

from __future__ import annotations

import psycopg

from tests.cli.helpers import MODELS_V2, Project


def test_inspected_models_compose_nothing_and_verify_clean(project: Project) -> None:
    project.write_models(MODELS_V2)
    project.run("migrations", "compose", "--name", "initial")
    project.run("migrations", "apply")
    out = project.root / "inspected.py"
    project.run("db", "inspect", "--output", str(out))
    source = out.read_text()
    assert "class Books(Model, table=\"books\"):" in source and "author: ForeignKey[Authors]" in source
    assert source.index("class Authors") < source.index("class Books") < source.index("class Reviews")
    project.write_models(source)
    assert "nothing to compose" in project.run("migrations", "compose").stdout
    [report] = project.json("migrations", "verify")
    assert report["ok"] is True and report["diagnostics"] == []
    assert project.run("db", "inspect", "authors").stdout == source.split("\n\n\nclass Books")[0] + "\n"


def test_a_column_that_cannot_be_declared_is_refused_and_nothing_is_written(project: Project) -> None:
    project.run("migrations", "compose", "--name", "initial")
    project.run("migrations", "apply")
    with psycopg.connect(project.url, autocommit=True) as conn:
        conn.execute("ALTER TABLE books ADD COLUMN spot point")
    out = project.root / "inspected.py"
    project.refused("db", "inspect", "--output", str(out), says="books.spot: type point has no djogi field type")
    assert not out.exists()
    project.refused("db", "inspect", "authors", "nosuch", says="no table nosuch in the database")
    out.write_text("# mine\n")
    project.refused("db", "inspect", "authors", "--output", str(out), says="pass --force to overwrite it")
    assert out.read_text() == "# mine\n"
    project.run("db", "inspect", "authors", "--output", str(out), "--force")
    assert "class Authors(Model" in out.read_text()
