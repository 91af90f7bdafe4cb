"""A private embedded server per fault-test module, the real faults done to it (kill, stop, freeze), and
``foreground``: a command that takes Ctrl-C as it does at a terminal."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

import psycopg

from djogi.embedded import EmbeddedServer
from djogi.heer_sql import bootstrap_sql

FAULT_BOUND_S = 60  # every fault test fails, instead of hanging, past this

# Run by a fresh Python: SIGINT back to its default action, then the command in its place (same pid).
_SIGINT_DEFAULT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                   "os.execv(sys.argv[1], sys.argv[1:])")


def foreground(argv: list[str]) -> list[str]:
    """``argv`` run with SIGINT at its default action, as at a terminal, where Python turns it into
    ``KeyboardInterrupt``. A test runner started as a background job of a non-interactive shell
    (``pytest ... &``) has SIGINT ignored; its children inherit that, and Python keeps an inherited SIG_IGN,
    so a command started directly would never see the Ctrl-C a test sends it. The command replaces the
    Python that resets SIGINT (``os.execv``): the pid ``Popen`` returns is the command's."""
    return [sys.executable, "-c", _SIGINT_DEFAULT, *argv]


def children_of(pid: int) -> list[int]:
    """The pids of the live processes whose parent is ``pid`` (a postmaster's backends and workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry.name))
    return found


def kill_postmaster(server: EmbeddedServer) -> list[int]:
    """SIGKILL the server's postmaster only (a crash): returns its orphaned children, still running."""
    pid = server.status().pid
    assert pid is not None
    orphans = children_of(pid)
    os.kill(pid, signal.SIGKILL)
    return orphans


def kill_all(pids: list[int]) -> None:
    """SIGKILL (and resume, if frozen) every pid still alive."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            os.kill(pid, signal.SIGCONT)


def signal_all(pids: list[int], sig: signal.Signals) -> None:
    """Send ``sig`` to each pid still alive (a backend may exit between listing and signalling)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def ready(server: EmbeddedServer) -> str:
    """Start ``server`` (crash recovery after a kill) with HeeRanjID installed; its URL."""
    server.start()
    url = server.url()
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT to_regproc('heerid_next_desc') IS NOT NULL").fetchone()
        if row is not None and not row[0]:
            conn.execute(bootstrap_sql(1).encode())
    return url
