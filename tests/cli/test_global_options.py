"""The global options: --config/-c, -q, -v and --profile."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import Project


def test_config_option_quiet_and_verbose(project: Project, tmp_path: Path) -> None:
    conf = tmp_path / "conf" / "Djogi.toml"
    conf.parent.mkdir()
    conf.write_text('[project]\nmodels = ["shop.models"]\nmigrations = "schema"\n')
    composed = project.json("-c", str(conf), "migrations", "compose", "--name", "initial")
    assert (tmp_path / "conf" / "schema" / "main" / "_global_" / f"{composed['version']}.sdjql").is_file()
    assert not (project.root / "migrations").exists()
    quiet = project.run("-q", "-c", str(conf), "migrations", "compose")
    assert quiet.stdout == "" and quiet.stderr == ""
    loud = project.run("-v", "--database", "nowhere", "migrations", "status", expect=2)
    assert "Traceback" in loud.stderr and "known databases: main" in loud.stderr
    assert "Traceback" not in project.run("--database", "nowhere", "migrations", "status", expect=2).stderr
