"""``connect()``: build the connection pool, configure each connection once, yield a ``Database``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import psycopg
from psycopg_pool import AsyncConnectionPool
from returns.result import Failure

from djogi.config import load_config
from djogi.embedded import EmbeddedServer, default_pgdata
from djogi.executor.database import Connection, Database
from djogi.executor.errors import translate
from djogi.heer_sql import DEFAULT_NODE_ID, bind_node_sql, bootstrap_sql

Setup = Callable[[Connection], Awaitable[None]]

HEER_INSTALLED_SQL = "SELECT to_regproc('heerid_next_desc') IS NOT NULL"


def _embedded_url() -> str:
    server = EmbeddedServer(default_pgdata())
    server.start()
    return server.url()


async def _bootstrap_embedded(url: str, node_id: int) -> None:
    """Install HeeRanjID into the embedded server's database when it is missing (idempotent script)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(HEER_INSTALLED_SQL)
        row = await cur.fetchone()
        if row is not None and not row[0]:
            await conn.execute(bootstrap_sql(node_id).encode())


@asynccontextmanager
async def connect(
    url: str | None = None,
    *,
    min_size: int | None = None,
    max_size: int | None = None,
    timeout: float | None = None,
    prepare: bool | int | None = None,
    setup: Setup | None = None,
    node_id: int | None = None,
    database: str = "main",
) -> AsyncIterator[Database]:
    """Open a pool and yield a ``Database`` over it; the pool is closed when the block exits.

    The URL is ``url``, else ``[database.<database>].url`` from ``load_config()`` (Djogi.toml and the
    environment), else the embedded server (started or reused, HeeRanjID installed). Pool bounds,
    timeout and ``prepare`` default to the same config entry. ``prepare``: True prepares a statement
    shape from its second execution, an int sets that threshold, False disables prepared statements
    (PgBouncer transaction mode). Each new connection runs, once: enum-aware adapters, ``SELECT
    set_config('heer.node_id', ...), set_config('heer.ranj_node_id', ...)`` for ``node_id`` (default: the
    config's ``[project] node_id``, else 1), then ``setup``.

    Raises ConfigError for a bad configuration, ValidationError for a bad node id, and the translated
    connection error when the server cannot be reached.
    """
    loaded = load_config()
    if isinstance(loaded, Failure):
        raise loaded.failure()
    config = loaded.unwrap()
    settings = config.database(database)
    if node_id is None:
        node_id = config.project.node_id if config.project.node_id is not None else DEFAULT_NODE_ID
    bind_node = bind_node_sql(node_id).encode()
    if url is None and settings.url is None:
        url = await anyio.to_thread.run_sync(_embedded_url)
        await _bootstrap_embedded(url, node_id)
    resolved = url or settings.url
    assert resolved is not None
    prepare = settings.prepare if prepare is None else prepare
    threshold = None if prepare is False else 2 if prepare is True else int(prepare)
    holder: list[Database] = []

    async def configure(conn: Connection) -> None:
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
    }
    max_size = settings.pool_max if max_size is None else max_size
    pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
        resolved,
        min_size=min(settings.pool_min, max_size) if min_size is None else min_size,
        max_size=max_size,
        timeout=settings.pool_timeout if timeout is None else timeout,
        kwargs=kwargs,
        configure=configure,
        open=False,
        name="djogi",
    )
    db = Database(pool, resolved)
    holder.append(db)
    try:
        await pool.open(wait=True)
    except Exception as exc:
        await pool.close()
        raise translate(exc) from exc
    try:
        yield db
    finally:
        with anyio.CancelScope(shield=True):
            await db.unpark()
            await pool.close()
