"""Opening the runner's connection: one autocommit session per command, through the executor's bounded
connection (``djogi.executor.bounded.connect_bounded``: ``connect_timeout`` and TCP keepalives unless the
URL sets them, each wait on the server bounded by ``Options.operation_timeout``), with ``SET lock_timeout``
and the project's HeeRanjID node bound (``Options.node_id``), which a bootstrap fixes as the database's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from djogi.executor.bounded import connect_bounded
from djogi.heer_sql import bind_node_sql
from djogi.migrate.ledger import Connection
from djogi.migrate.runner.errors import failure
from djogi.migrate.runner.plan import Options


@contextmanager
def session(url: str, options: Options) -> Iterator[Connection]:
    """An autocommit session to ``url``, closed on exit. A psycopg error that leaves the block (the server
    refused a statement, the connection was lost or timed out) is raised as ``MigrationError`` (exit 1),
    worded by the executor's translation; ``MigrationError`` passes through unchanged."""
    try:
        conn = connect_bounded(url, options.operation_timeout, autocommit=True)
    except psycopg.Error as exc:
        raise failure("cannot connect", exc) from exc
    try:
        conn.execute(f"SET lock_timeout = {int(options.lock_timeout_ms)}")
        if options.node_id is not None:
            conn.execute(bind_node_sql(options.node_id))
        yield conn
    except psycopg.Error as exc:
        raise failure("the migration session failed", exc) from exc
    finally:
        conn.close()

