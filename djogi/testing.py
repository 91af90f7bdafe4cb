"""pytest plugin: one embedded PostgreSQL server per test run, one fresh database per test.

Registered through the ``pytest11`` entry point, so installing djogi is enough. Fixtures:

- ``djogi_server`` (session): the embedded server, in a temporary data directory (in ``/dev/shm``
  when it has room) with fsync off, started on first use, stopped and deleted at the end of the run.
- ``djogi_template_sql`` (session): extra SQL applied once to the template database after
  HeeRanjID is installed. It returns ``""`` by default; override it in a ``conftest.py`` to add a
  project's schema::

      @pytest.fixture(scope="session")
      def djogi_template_sql() -> str:
          return "CREATE TABLE book (id bigint PRIMARY KEY DEFAULT heerid_next_desc(), title text)"

- ``db_url``: the URL of a fresh database cloned from the template (``heer.node_id`` and
  ``heer.ranj_node_id`` set to 1), dropped after the test.
- ``pg``: an open ``psycopg.AsyncConnection`` to that database (autocommit); use it from tests
  marked ``@pytest.mark.anyio``.
- ``pg_sync``: the same as a sync ``psycopg.Connection``.
- ``db``: a djogi ``Database`` connected to that database (a pool of up to 10 connections).
- ``app_db_url`` / ``app_db``: the same database as the application role ``djogi_app`` (not a superuser,
  not the tables' owner: row-level security applies to it; ``EmbeddedServer.app_url``), for tests of
  tenant isolation. Tables the superuser creates, in the template or in the test, are granted to it.
- ``anyio_backend``: ``"asyncio"``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import TupleRow

from djogi.embedded import SUPERUSER, EmbeddedServer
from djogi.executor import Database, connect
from djogi.heer_sql import bootstrap_sql, node_settings_sql
from djogi.tenancy import APP_ROLE

TEMPLATE_DB = "djogi_template"
NODE_ID = 1
SHM_MIN_FREE = 2 * 1024**3


class TestDatabases:
    """Creates and drops per-test databases cloned from ``TEMPLATE_DB`` on ``server``."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, server: EmbeddedServer, template_sql: str) -> None:
        self.server = server
        self._admin = psycopg.connect(server.url(), autocommit=True)
        self._admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DB)))
        with psycopg.connect(server.url(TEMPLATE_DB), autocommit=True) as conn:
            conn.execute(bootstrap_sql(NODE_ID).encode())
        server.app_url(TEMPLATE_DB)  # the application role's grants, copied into every test database
        with psycopg.connect(server.url(TEMPLATE_DB), autocommit=True) as conn:
            if template_sql.strip():
                conn.execute(template_sql.encode())

    def create(self) -> str:
        """Create a fresh database from the template and return its name."""
        name = f"t_{secrets.token_hex(6)}"
        # FILE_COPY measured faster than the default WAL_LOG for a small template (4 vs 6 ms in RAM).
        self._admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
            sql.Identifier(name), sql.Identifier(TEMPLATE_DB)))
        self._admin.execute(node_settings_sql(name, NODE_ID).encode())
        return name

    def create_blank(self) -> str:
        """Create an empty database (from ``template0``: no HeeRanjID bootstrap, no node setting), as a new
        project or a separate database such as ``crud_log`` has; return its name."""
        name = f"blank_{secrets.token_hex(6)}"
        self._admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        return name

    def drop(self, name: str) -> None:
        """Drop database ``name``, disconnecting any session still using it."""
        self._admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def close(self) -> None:
        self._admin.close()


class _AnyioBackend:
    @pytest.fixture(scope="session")
    @classmethod
    def anyio_backend(cls) -> str:
        return "asyncio"


def pytest_configure(config: pytest.Config) -> None:
    # Registered here, after every entry-point plugin, so this fixture overrides anyio's own
    # (which would also run each async test under trio when trio is installed).
    config.pluginmanager.register(_AnyioBackend(), "djogi-anyio-backend")


def _scratch_dir() -> Path:
    """A new temporary directory, in RAM (``/dev/shm``) when it has room.

    Each test database is a file copy of the template; on a busy disk that measured 10-20x slower.
    """
    shm = Path("/dev/shm")
    in_ram = shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > SHM_MIN_FREE
    return Path(tempfile.mkdtemp(prefix="djogi-test-", dir=shm if in_ram else None))


@pytest.fixture(scope="session")
def djogi_server() -> Iterator[EmbeddedServer]:
    """The run's embedded server (throw-away data directory, fsync off); removed at session end."""
    root = _scratch_dir()
    server = EmbeddedServer(root / "pgdata", fast_unsafe=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def djogi_template_sql() -> str:
    """Extra SQL for the template database; override in a conftest.py to add a project's schema."""
    return ""


@pytest.fixture(scope="session")
def djogi_databases(djogi_server: EmbeddedServer, djogi_template_sql: str) -> Iterator[TestDatabases]:
    """The template database (built once) and the factory of per-test databases."""
    databases = TestDatabases(djogi_server, djogi_template_sql)
    yield databases
    databases.close()


@pytest.fixture
def db_url(djogi_databases: TestDatabases) -> Iterator[str]:
    """URL of a fresh database cloned from the template, dropped after the test."""
    name = djogi_databases.create()
    yield djogi_databases.server.url(name)
    djogi_databases.drop(name)


@pytest.fixture
def blank_url(djogi_databases: TestDatabases) -> Iterator[str]:
    """URL of an empty database (no HeeRanjID bootstrap, no node setting), dropped after the test."""
    name = djogi_databases.create_blank()
    yield djogi_databases.server.url(name)
    djogi_databases.drop(name)


@pytest.fixture
def app_db_url(db_url: str) -> str:
    """URL of the test's database as the application role ``djogi_app`` (row-level security applies)."""
    return db_url.replace(f"//{SUPERUSER}@", f"//{APP_ROLE}@", 1)


@pytest.fixture
async def app_db(app_db_url: str, anyio_backend: str) -> AsyncIterator[Database]:
    """A djogi ``Database`` on the test's database as the application role, closed after."""
    async with connect(app_db_url, min_size=1, max_size=10, timeout=10.0) as database:
        yield database


@pytest.fixture
async def pg(db_url: str, anyio_backend: str) -> AsyncIterator[psycopg.AsyncConnection[TupleRow]]:
    """An autocommit async connection to the test's database."""
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def pg_sync(db_url: str) -> Iterator[psycopg.Connection[TupleRow]]:
    """An autocommit sync connection to the test's database."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
async def db(db_url: str, anyio_backend: str) -> AsyncIterator[Database]:
    """A djogi ``Database`` connected to the test's database (pool of up to 10 connections), closed after."""
    async with connect(db_url, min_size=1, max_size=10, timeout=10.0) as database:
        yield database
