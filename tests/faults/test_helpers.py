"""The fault tests' own helpers: a broken one makes a fault test pass or fail for the wrong reason."""

from __future__ import annotations

import subprocess
import sys

from tests.faults.helpers import foreground

# A parent that ignores SIGINT, as a test runner started with `pytest ... &` does, running the command it is given.
IGNORING = [sys.executable, "-c", "import signal, subprocess, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
            "sys.exit(subprocess.run(sys.argv[1:]).returncode)"]  # fmt: skip
# A command printing what Python does with SIGINT in it.
PROBE = [sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"]


def _run(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout


def test_foreground_gives_ctrl_c_back_to_a_command_whose_parent_ignores_it() -> None:
    assert _run(IGNORING + PROBE) == "False\n"  # started directly, the command ignores SIGINT too
    assert _run(IGNORING + foreground(PROBE)) == "True\n"
    assert _run(foreground(PROBE)) == "True\n"
