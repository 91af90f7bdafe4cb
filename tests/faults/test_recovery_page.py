"""The ``console`` blocks of docs/when-things-go-wrong.md run for real: each under the setup its
``<!-- run in: ... -->`` comment names, every ``$`` line through bash, and the lines shown after it must
match its output in order (``...`` stands for any text)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.cli.helpers import Project

PAGE = Path(__file__).resolve().parents[2] / "docs" / "when-things-go-wrong.md"
_BLOCK = re.compile(r"<!-- run in: (?P<setup>[^>]*?) -->\n```console\n(?P<body>.*?)^```", re.M | re.S)
Setup = Callable[[Path, str], tuple[Path, dict[str, str]]]


def _empty_directory(tmp: Path, db_url: str) -> tuple[Path, dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJOGI_", "HEER_")) and k != "DATABASE_URL"}
    return tmp, env


def _project(tmp: Path, db_url: str) -> tuple[Path, dict[str, str]]:
    project = Project(tmp, db_url)
    return project.root, project.env()


def _project_with_password(tmp: Path, db_url: str) -> tuple[Path, dict[str, str]]:
    return _project(tmp, db_url.replace("postgresql://postgres@", "postgresql://postgres:pw-in-url@", 1))


def _edited_migration(tmp: Path, db_url: str) -> tuple[Path, dict[str, str]]:
    project = Project(tmp, db_url)
    project.run("migrations", "compose", "--name", "initial")
    project.run("migrations", "apply")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO authors (name, email) VALUES ('Ann', 'ann@example.com')")
    [up] = [p for p in project.root.rglob("*initial.sdjql")]
    up.write_text(up.read_text() + "\n-- edited by hand\n")
    return project.root, project.env()


SETUPS: dict[str, Setup] = {
    "an empty directory": _empty_directory,
    "a project": _project,
    "a project whose URL has a password": _project_with_password,
    "a migrated project with an edited migration": _edited_migration,
}


def _commands(body: str) -> list[tuple[str, list[str]]]:
    steps: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif line.strip():
            steps[-1][1].append(line)
    return steps


def _pattern(shown: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in shown.split("...")))


BLOCKS = [(m.group("setup"), m.group("body")) for m in _BLOCK.finditer(PAGE.read_text())]


def test_the_page_has_runnable_blocks() -> None:
    assert {setup for setup, _ in BLOCKS} == set(SETUPS)


@pytest.mark.parametrize(("setup", "body"), BLOCKS, ids=[f"{i}-{s}" for i, (s, _) in enumerate(BLOCKS)])
def test_console_block(setup: str, body: str, tmp_path: Path, db_url: str) -> None:
    cwd, env = SETUPS[setup](tmp_path, db_url)
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    for command, shown in _commands(body):
        done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)
        lines = (done.stderr + done.stdout).splitlines()
        position = 0
        for expected in shown:
            pattern = _pattern(expected)
            found = next((i for i in range(position, len(lines)) if pattern.fullmatch(lines[i])), None)
            assert found is not None, f"$ {command}\nexpected: {expected}\ngot:\n{done.stderr}{done.stdout}"
            position = found + 1
    if setup == "a migrated project with an edited migration":
        with psycopg.connect(db_url) as conn:  # the refused reset left the data in place
            assert conn.execute("SELECT name FROM authors").fetchall() == [("Ann",)]
