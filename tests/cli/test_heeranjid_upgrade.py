"""The CLI over a project whose committed bootstrap installs the previous HeeRanjID SQL: ``check`` fails
until ``compose`` emits the upgrade, which ``apply`` then runs."""

from __future__ import annotations

from djogi.migrate.checksum import GLOBAL_DIR, PHASE_ZERO_VERSION
from djogi.migrate.emit import render_steps, write
from djogi.migrate.operations import Step
from djogi.migrate.snapshot import EMPTY
from tests.cli.helpers import Project
from tests.keys.helpers import V1_SQL


def test_check_asks_for_the_upgrade_and_compose_writes_it(project: Project) -> None:
    project.run("migrations", "compose", "-n", "initial")
    old = render_steps((Step(label="PhaseZero heeranjid", up=V1_SQL, down="-- no reverse: the bootstrap stays"),),
                       PHASE_ZERO_VERSION, f"main/{GLOBAL_DIR}", "additive", snapshot=EMPTY)
    write(old, project.root / "migrations" / "main" / GLOBAL_DIR, force=True).unwrap()
    failed = project.run("migrations", "check", expect=1)
    assert "not composed: main/_global_ (HeeRanjID upgrade)" in failed.stderr
    composed = project.run("migrations", "compose")
    assert "emitted HeeRanjID upgrade V" in composed.stderr + composed.stdout
    project.run("migrations", "check")
    applied = project.run("migrations", "apply")  # (the test database has the current SQL already)
    assert "__heeranjid_upgrade" in applied.stdout + applied.stderr
