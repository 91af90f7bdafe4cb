"""Interactive commands in a real terminal (tmux): ``db shell`` and the ``db reset`` confirmation."""

from __future__ import annotations

import importlib.util
import secrets
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.cli.helpers import DJOGI, Project

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Terminal:
    """``djogi ARGS`` running in a detached tmux session; its exit status lands in ``rc`` (the pane stays)."""

    def __init__(self, project: Project, tmp_path: Path, *args: str) -> None:
        self.session = f"djogi-{secrets.token_hex(4)}"
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.rc = tmp_path / "rc"
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in project.env().items()
                       if k in ("PATH", "HOME", "PYTHONPATH", "DJOGI_DATABASE_URL", "LANG", "LC_ALL"))
        command = f"env -i {env} TERM=xterm {DJOGI} {shlex.join(args)}; echo $? > {self.rc}; sleep 600"
        subprocess.run(["tmux", "new-session", "-d", "-s", self.session, "-x", "200", "-y", "50",
                        "-c", str(project.root), command], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.session], capture_output=True,
                              text=True).stdout

    def type(self, line: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.session, "-l", line], check=True)
        subprocess.run(["tmux", "send-keys", "-t", self.session, "Enter"], check=True)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the terminal shows:\n{self.screen()}")
            time.sleep(0.1)

    def exit_code(self) -> int:
        self.wait_for(self.rc.exists, "the command to exit")
        return int(self.rc.read_text())

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.session], capture_output=True)


@pytest.fixture
def terminal(project: Project, tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    opened: list[Terminal] = []

    def open_terminal(*args: str) -> Terminal:
        opened.append(Terminal(project, tmp_path / str(len(opened)), *args))
        return opened[-1]

    yield open_terminal
    for term in opened:
        term.close()


def test_shell_awaits_queries_on_the_connected_database(project: Project, terminal: Callable[..., Terminal]) -> None:
    project.run("migrations", "compose", "--name", "initial")
    project.run("migrations", "apply")
    with psycopg.connect(project.url, autocommit=True) as conn:
        conn.execute("INSERT INTO authors (name, email) VALUES ('Ann', 'ann@example.com'), ('Bo', 'bo@example.com')")
    shell = terminal("db", "shell", "--plain")
    shell.wait_for(lambda: ">>>" in shell.screen(), "the shell prompt")
    assert "models: Author, Book" in shell.screen()
    shell.type("await db.count(Author.objects)")
    shell.wait_for(lambda: "await db.count(Author.objects)\n2\n>>>" in shell.screen(), "the count")
    shell.type("[a.name for a in await db.all(Author.objects.order_by(Author.name))]")
    shell.wait_for(lambda: "['Ann', 'Bo']" in shell.screen(), "the names")
    shell.type("exit()")
    assert shell.exit_code() == 0


@pytest.mark.skipif(importlib.util.find_spec("IPython") is None, reason="IPython is not installed")
def test_shell_uses_ipython_when_installed(project: Project, terminal: Callable[..., Terminal]) -> None:
    project.run("migrations", "compose", "--name", "initial")
    project.run("migrations", "apply")
    shell = terminal("db", "shell")
    shell.wait_for(lambda: "In [1]:" in shell.screen(), "the IPython prompt")
    shell.type("await db.count(Author.objects)")
    shell.wait_for(lambda: "Out[1]: 0" in shell.screen(), "the count")
    shell.type("exit")
    assert shell.exit_code() == 0


def test_reset_at_a_terminal_asks_for_the_database_name(project: Project, terminal: Callable[..., Terminal]) -> None:
    name = project.url.rsplit("/", 1)[1]
    with psycopg.connect(project.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE keep_me (x int)")
    wrong = terminal("db", "reset")
    wrong.wait_for(lambda: "Type its name to confirm" in wrong.screen(), "the confirmation prompt")
    wrong.type("yes")
    assert wrong.exit_code() == 2
    assert "confirmation did not match the database name; nothing was dropped" in wrong.screen()
    with psycopg.connect(project.url) as conn:
        assert conn.execute("SELECT count(*) FROM keep_me").fetchone() == (0,)
    right = terminal("db", "reset")
    right.wait_for(lambda: "Type its name to confirm" in right.screen(), "the confirmation prompt")
    right.type(name)
    assert right.exit_code() == 0, right.screen()
    with psycopg.connect(project.url) as conn:
        assert conn.execute("SELECT to_regclass('keep_me')").fetchone() == (None,)
