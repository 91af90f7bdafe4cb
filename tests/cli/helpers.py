"""Helpers for CLI tests: a throw-away djogi project driven through the real ``djogi`` console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

DJOGI = str(Path(sys.executable).parent / "djogi")

MODELS_V1 = '''
from djogi import Field, Model, field, ForeignKey

class Author(Model, table="authors"):
    name: Field[str] = field(max_length=200, index=True)
    email: Field[str] = field(unique=True)

class Book(Model, table="books"):
    title: Field[str]
    author: ForeignKey[Author]
'''

MODELS_V2 = MODELS_V1.replace(
    "    title: Field[str]\n", "    title: Field[str]\n    pages: Field[int | None] = field(default=None)\n"
) + '''
class Review(Model, table="reviews"):
    book: ForeignKey[Book]
    stars: Field[int] = field(default=5)
'''


class Project:
    """A project directory (``Djogi.toml``) whose models package ``shop`` lives on ``PYTHONPATH``."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root / "project"
        self.package_root = root / "site"
        (self.package_root / "shop").mkdir(parents=True)
        (self.package_root / "shop" / "__init__.py").write_text("")
        self.root.mkdir()
        (self.root / "Djogi.toml").write_text('[project]\nmodels = ["shop.models"]\n')
        self.url = url
        self.write_models(MODELS_V1)

    def write_models(self, source: str) -> None:
        (self.package_root / "shop" / "models.py").write_text(source)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DJOGI_", "HEER_")) and k not in ("DATABASE_URL", "CI")}
        path = os.pathsep.join(p for p in (str(self.package_root), os.environ.get("PYTHONPATH", "")) if p)
        env.update({"PYTHONPATH": path, "DJOGI_DATABASE_URL": self.url, "COLUMNS": "200", **extra})
        return env

    def run(self, *args: str, expect: int | None = 0, stdin: str | None = None, **env: str
            ) -> subprocess.CompletedProcess[str]:
        """Run ``djogi *args`` in the project; check the exit code unless ``expect`` is None."""
        done = subprocess.run([DJOGI, *args], cwd=self.root, env=self.env(**env), capture_output=True, text=True,
                              input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL, timeout=180)
        if expect is not None:
            assert done.returncode == expect, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        return done

    def json(self, *args: str, expect: int = 0, **env: str) -> Any:
        """Run ``djogi --json *args`` and parse stdout."""
        return json.loads(self.run("--json", *args, expect=expect, **env).stdout)

    def refused(self, *args: str, says: str, **env: str) -> str:
        """Run a command that must be refused (exit 2) with a message containing ``says``; return stderr."""
        done = self.run(*args, expect=2, **env)
        assert says in done.stderr, done.stderr
        return done.stderr
