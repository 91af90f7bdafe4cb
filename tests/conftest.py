"""Shared test fixtures.

The database fixtures (``djogi_server``, ``db_url``, ``pg``, ``pg_sync``, ``djogi_template_sql``,
``anyio_backend``) come from djogi's own pytest plugin, ``djogi.testing``, which the package registers
through its ``pytest11`` entry point.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from djogi.embedded import EmbeddedServer

pytest_plugins = ["pytester"]


@pytest.fixture
def scratch_pgdata() -> Iterator[Path]:
    """A path for a throw-away data directory (not created); a server left on it is stopped after."""
    root = Path(tempfile.mkdtemp(prefix="djogi-scratch-"))
    pgdata = root / "pgdata"
    yield pgdata
    EmbeddedServer(pgdata).stop()
    shutil.rmtree(root, ignore_errors=True)
