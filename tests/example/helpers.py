"""Running the bookshop example's commands against a test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "bookshop"
BIN = Path(sys.executable).parent
DJOGI = BIN / "djogi"


def bookshop_env(db_url: str) -> dict[str, str]:
    """The environment the example's processes run in: ROOT on the path too, so they use the djogi of this
    checkout, not the installed one (an editable install may be another tree)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join((str(APP), str(ROOT))), "DJOGI_DATABASE_URL": db_url}


def run(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=APP, env=bookshop_env(db_url), capture_output=True, text=True, timeout=120)


def migrate_and_seed(db_url: str) -> None:
    for step in (("migrations", "apply"), ("db", "seed")):
        done = run(db_url, str(DJOGI), *step)
        assert done.returncode == 0, done.stderr
