"""``connect()``: build the connection pool, configure each connection once, yield a ``Database``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import psycopg
from psycopg_pool import AsyncConnectionPool
from returns.result import Failure

from djogi.config import load_config
from djogi.embedded import EmbeddedServer
from djogi.errors import ConfigError
from djogi.executor.bounded import BoundedConnection, connect_bounded_async, network_options, unreachable
from djogi.executor.database import Database
from djogi.executor.errors import translate
from djogi.executor.pool import Connection, Pool
from djogi.executor.session import Session
from djogi.heer_sql import DEFAULT_NODE_ID, FIXED_NODE_SQL, bind_node_sql, bootstrap_sql, installed_sql

Setup = Callable[[Connection], Awaitable[None]]



def _embedded_url(pgdata: Path) -> str:
    server = EmbeddedServer(pgdata)
    server.start()
    return server.url()


async def _bootstrap_embedded(url: str, node_id: int, operation_timeout: float) -> None:
    """Install HeeRanjID into the embedded server's database when it is missing or older than this djogi's
    (the script is idempotent and replaces the functions), over a bounded connection
    (``connect_bounded_async``); a failure is raised translated (``ConnectionFailure``)."""
    try:
        async with await connect_bounded_async(url, operation_timeout, autocommit=True) as conn:
            cur = await conn.execute(installed_sql())
            row = await cur.fetchone()
            if row is not None and not row[0]:
                await conn.execute(bootstrap_sql(node_id).encode())
    except psycopg.Error as exc:
        raise translate(exc) from exc


def _node_probe(node_id: int) -> Callable[[BoundedConnection], Awaitable[BaseException | None]]:
    """A check of the database's fixed HeeRanjID node (``heer_id_node()``, when installed) against
    ``node_id``: ConfigError naming both ways out when they differ, as keys would carry the database's."""

    async def probe(conn: BoundedConnection) -> BaseException | None:
        installed = await (await conn.execute(FIXED_NODE_SQL)).fetchone()
        if installed is None or not installed[0]:
            return None  # an older install (connect() upgrades an embedded one after this check)
        row = await (await conn.execute("SELECT heer_id_node()")).fetchone()
        fixed = node_id if row is None else row[0]
        if fixed == node_id:
            return None
        return ConfigError(
            f"the database's HeeRanjID node is {fixed} but this connection's node_id is {node_id}: default keys "
            f"carry the database's node; run SELECT heer_set_node({node_id}) in the database (as its owner) "
            f"to change it, or set node_id = {fixed}")

    return probe


@asynccontextmanager
async def connect(
    url: str | None = None,
    *,
    min_size: int | None = None,
    max_size: int | None = None,
    timeout: float | None = None,
    operation_timeout: float | None = None,
    prepare: bool | int | None = None,
    setup: Setup | None = None,
    node_id: int | None = None,
    database: str = "main",
) -> AsyncIterator[Database]:
    """Open a pool and yield a ``Database`` over it; the pool is closed when the block exits.

    The URL is ``url``, else ``[database.<database>].url`` from ``load_config()`` (Djogi.toml and the
    environment), else the embedded server of the project (``<Djogi.toml's directory>/.djogi/pgdata``,
    started or reused, HeeRanjID installed; ConfigError outside a project). Pool bounds,
    timeout, ``operation_timeout`` and ``prepare`` default to the same config entry.
    ``operation_timeout`` (seconds; 0: no bound; default 300) bounds each wait on the server (a
    statement's result, a COPY chunk, a COMMIT): past it the connection is closed and
    ``ConnectionFailure`` raised. TCP keepalives and ``connect_timeout`` are on unless the URL sets
    them (``djogi.executor.bounded.NETWORK_DEFAULTS``). ``prepare``: True prepares a statement
    shape at its second execution on a connection, an int ``n`` after ``n`` executions, False disables
    prepared statements (PgBouncer transaction mode). Each new connection runs, once: enum-aware adapters, ``SELECT
    set_config('heer.node_id', ...), set_config('heer.ranj_node_id', ...)`` for ``node_id`` (default: the
    config's ``[project] node_id``, else 1), then ``setup``.

    A first connection is opened before the pool, so a server that cannot be reached (a wrong URL,
    a refused connection, bad credentials) raises at once, with libpq's reason, instead of after the
    pool timeout.

    Raises ConfigError for a bad configuration or a node id other than the database's fixed HeeRanjID node
    (``heer_set_node``), ValidationError for a bad node id, and
    ConnectionFailure (or the translated server error, e.g. for a missing database) when the server
    cannot be reached. Messages never carry the URL's password.
    """
    loaded = load_config()
    if isinstance(loaded, Failure):
        raise loaded.failure()
    config = loaded.unwrap()
    settings = config.database(database)
    if node_id is None:
        node_id = config.project.node_id if config.project.node_id is not None else DEFAULT_NODE_ID
    bind_node = bind_node_sql(node_id).encode()
    bound = settings.operation_timeout if operation_timeout is None else operation_timeout
    if url is None and settings.url is None:
        url = await anyio.to_thread.run_sync(_embedded_url, config.embedded_pgdata)
        await _bootstrap_embedded(url, node_id, bound)
    resolved = url or settings.url
    assert resolved is not None
    prepare = settings.prepare if prepare is None else prepare
    threshold = None if prepare is False else 1 if prepare is True else int(prepare)  # (psycopg: runs before)
    holder: list[Session] = []

    async def configure(conn: Connection) -> None:
        assert isinstance(conn, BoundedConnection)
        conn.operation_timeout = bound or None
        await holder[0].configure(conn)
        await conn.execute(bind_node, prepare=False)
        if setup is not None:
            await setup(conn)
            if conn.pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                await conn.rollback()

    kwargs: dict[str, Any] = {
        "autocommit": True,
        "prepare_threshold": threshold,
        "cursor_factory": psycopg.AsyncRawCursor,
        **network_options(resolved),
    }
    failure = await unreachable(resolved, kwargs, _node_probe(node_id))  # the first failure, at once, with its cause
    if failure is not None:
        raise failure from None
    max_size = settings.pool_max if max_size is None else max_size
    pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
        resolved,
        min_size=min(settings.pool_min, max_size) if min_size is None else min_size,
        max_size=max_size,
        timeout=settings.pool_timeout if timeout is None else timeout,
        kwargs=kwargs,
        configure=configure,
        connection_class=BoundedConnection,
        open=False,
        name="djogi",
    )
    connections = Pool(pool, resolved, kwargs)
    session = Session(connections)
    holder.append(session)
    try:
        await pool.open(wait=True)
    except Exception as exc:
        await pool.close()
        raise translate(exc) from exc
    try:
        yield Database(session)
    finally:
        await connections.close()
