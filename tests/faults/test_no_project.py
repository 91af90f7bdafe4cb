"""Outside a project (no Djogi.toml upward, no database URL): scripts and commands refuse, naming the
missing file, and never initialise an embedded cluster in the working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.cli.helpers import DJOGI

SCRIPT = "import anyio, djogi\nasync def main():\n    async with djogi.connect():\n        pass\nanyio.run(main)\n"


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("DJOGI_", "HEER_")) and k != "DATABASE_URL"}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=120)


def test_commands_and_scripts_refuse_outside_a_project(tmp_path: Path) -> None:
    assert not any((d / "Djogi.toml").exists() for d in (tmp_path, *tmp_path.parents))
    for args in (["migrations", "status"], ["db", "up"], ["db", "url"], ["db", "status"], ["db", "psql"]):
        done = _run([DJOGI, *args], tmp_path)
        assert done.returncode == 2, (args, done)
        assert f"no Djogi.toml in {tmp_path}" in done.stderr and "not a djogi project" in done.stderr, done.stderr
    script = _run([sys.executable, "-c", SCRIPT], tmp_path)
    assert script.returncode == 1
    assert "djogi.errors.ConfigError: no Djogi.toml in" in script.stderr and "DJOGI_DATABASE_URL" in script.stderr
    assert list(tmp_path.iterdir()) == []  # no .djogi/pgdata was created


def test_status_in_a_project_without_migrations_says_so(tmp_path: Path) -> None:
    (tmp_path / "Djogi.toml").write_text("")
    done = _run([DJOGI, "migrations", "status"], tmp_path)
    assert done.returncode == 0
    assert f"no migrations in {tmp_path / 'migrations'}" in done.stdout
    assert not (tmp_path / ".djogi").exists()  # reading nothing started nothing
