"""``Pool``: the executor's connections: checked out of a psycopg_pool pool, parked between statements,
checked for liveness, and given back idle.

Only psycopg_pool's public API is used (``getconn``, ``putconn``, ``drain``, ``close``, ``max_size``,
``get_stats``); the count of tasks waiting for a connection is kept here.
"""

from __future__ import annotations

import select as io_select
from collections.abc import Mapping
from typing import Any

import anyio
import psycopg
from psycopg import pq
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from djogi.executor.bounded import connect_bounded_async, unreachable
from djogi.executor.errors import translate
from djogi.executor.events import logger

__all__ = ["ROLLBACK_TIMEOUT_S", "Connection", "Pool"]

Connection = psycopg.AsyncConnection[tuple[Any, ...]]

ROLLBACK_TIMEOUT_S = 10.0
_IDLE = int(pq.TransactionStatus.IDLE)  # (plain ints: libpq's status reads compare with them directly)
_OK = int(pq.ConnStatus.OK)


class Pool:
    """A psycopg_pool pool plus a stack of parked connections (checked out, idle, ready for the next
    statement without the pool's bookkeeping) and the server backend of each connection."""

    def __init__(self, pool: AsyncConnectionPool[Connection], url: str, kwargs: Mapping[str, Any]) -> None:
        self.pool = pool
        self.url = url
        self.kwargs = kwargs
        self.backend_pids: dict[int, int] = {}
        self._parked: list[Connection] = []
        self._room = pool.max_size  # (read once: a property; djogi never resizes the pool)
        self._requesting = 0  # tasks inside ``pool.getconn()``: waiting, or about to be served

    async def acquire(self) -> Connection:
        """Check a connection out: a parked one when there is one, else from the pool: ``PoolTimeout``
        when none frees up within the timeout, ``ConnectionFailure`` (with libpq's reason) when by then
        the server cannot be reached.

        A connection the server has closed while it sat idle (a restart, a crash: its socket has turned
        readable, see ``_usable``) is discarded, and the next one is taken.
        """
        while self._parked:
            conn = self._parked.pop()
            if _usable(conn):
                return conn
            await self._discard(conn)
        while True:
            self._requesting += 1
            try:
                conn = await self.pool.getconn()
            except PoolTimeout as exc:
                raise await unreachable(self.url, self.kwargs) or translate(exc) from exc
            except Exception as exc:  # connection failures
                raise translate(exc) from exc
            finally:
                self._requesting -= 1
            if _usable(conn):
                return conn
            await self._discard(conn)

    def take(self) -> Connection | None:
        """The last parked connection when it is still usable (``_usable``), without a coroutine: the fast
        path of ``acquire()``, which is needed (None) when there is none or it has died."""
        parked = self._parked
        if parked and _usable(parked[-1]):
            return parked.pop()
        return None

    async def _discard(self, conn: Connection) -> None:
        """Close a dead connection and hand it back, so the pool replaces it."""
        with anyio.CancelScope(shield=True):
            self.backend_pids.pop(id(conn), None)
            await conn.close()
            await self.pool.putconn(conn)

    def park(self, conn: Connection) -> bool:
        """Park ``conn`` for the next ``acquire()`` when it is open, idle, there is room, and no task is
        asking the pool for a connection (which then gets this one through ``release``); whether it did."""
        if (
            conn.pgconn.transaction_status == _IDLE  # (a closed connection's status is UNKNOWN)
            and len(self._parked) < self._room
            and not self._requesting
        ):
            self._parked.append(conn)
            return True
        return False

    async def release(self, conn: Connection) -> None:
        """Give ``conn`` back idle: parked (``park``), else rolled back if a transaction is open (closed
        when that fails) and returned to the pool. Shielded from cancellation, so a connection is never
        lost or returned mid-transaction.

        When cancellation made psycopg close the connection mid-statement, the server backend would run
        on until the statement ends; it is cancelled (``pg_cancel_backend``) over a fresh connection.
        """
        if self.park(conn):
            return
        with anyio.CancelScope(shield=True):
            if not conn.closed and conn.pgconn.transaction_status != _IDLE:
                with anyio.move_on_after(ROLLBACK_TIMEOUT_S):
                    try:
                        await conn.execute("ROLLBACK", prepare=False)
                    except psycopg.Error:
                        await conn.close()
                if conn.pgconn.transaction_status != _IDLE:
                    await conn.close()
            pid = self.backend_pids.pop(id(conn), None) if conn.closed else None
            await self.pool.putconn(conn)
            if pid is not None:
                with anyio.move_on_after(ROLLBACK_TIMEOUT_S):
                    await self._cancel_backend(pid)

    async def _cancel_backend(self, pid: int) -> None:
        try:
            async with await connect_bounded_async(self.url, ROLLBACK_TIMEOUT_S, autocommit=True) as other:
                await other.execute("SELECT pg_cancel_backend(%s)", (pid,))
        except psycopg.Error as exc:
            logger.warning("could not cancel orphaned backend %d: %s", pid, exc)

    async def unpark(self) -> None:
        """Return every parked connection to the pool (before draining or closing it)."""
        with anyio.CancelScope(shield=True):
            while self._parked:
                await self.pool.putconn(self._parked.pop())

    async def renew(self) -> None:
        """Replace every idle connection by a new one (configured on connect); checked-out ones on return."""
        await self.unpark()
        await self.pool.drain()

    async def close(self) -> None:
        """Return the parked connections and close the pool (shielded from cancellation)."""
        with anyio.CancelScope(shield=True):
            await self.unpark()
            await self.pool.close()

    def stats(self) -> dict[str, int]:
        """The pool's statistics (``psycopg_pool`` names), counting parked connections as available."""
        stats = dict(self.pool.get_stats())
        stats["pool_available"] = stats.get("pool_available", 0) + len(self._parked)
        return stats


def _usable(conn: Connection) -> bool:
    """Whether an idle connection is still open: its socket has nothing to read (one zero-timeout
    ``poll``, with a poll object kept on the connection), or what arrived (a notification, a parameter
    report) left libpq's connection OK.

    A server that shut down or crashed leaves the socket readable (a FATAL 57P01, then end of file, which
    libpq may need a second read to reach), so a dead connection is found before a statement is sent on it.
    """
    pgconn = conn.pgconn
    poller = conn.__dict__.get(_POLL_ATTR)
    try:
        if pgconn.status != _OK:  # closed (BAD)
            return False
        if poller is None:
            poller = conn.__dict__[_POLL_ATTR] = io_select.poll()
            poller.register(pgconn.socket, io_select.POLLIN)
        elif not poller.poll(0):  # the common case: nothing arrived while it was parked
            return True
        for _ in range(_READS):
            if not poller.poll(0):
                return pgconn.status == _OK
            pgconn.consume_input()
    except (OSError, ValueError, psycopg.Error):
        return False
    return False  # still readable after every read: a stream that does not end is not an idle connection


_POLL_ATTR = "_djogi_poll"
_READS = 4
