"""``Session``: where the executor's statements run: on the task's transaction connection, or on a pooled
connection checked out for the one statement (sent by ``executor.protocol``); each statement observed (log,
listeners), its errors translated, its rows decoded by the row factory it is given (``executor.rows``).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from logging import DEBUG
from typing import Any, TypeVar

import anyio
import psycopg

from djogi.algebra.compile import compile
from djogi.algebra.dml import Delete, Insert, InsertFrom, Merge, Update
from djogi.algebra.query import CountOf, ExistsOf, Select
from djogi.algebra.results import (
    JoinedRows,
    ModelRows,
    NoResult,
    RowCount,
    ScalarRow,
    Statement,
    StructRows,
    TupleRows,
)
from djogi.algebra.setops import SetOp
from djogi.auth import AuthContext
from djogi.codecs import configure_adapters
from djogi.errors import ConnectionFailure, TenantRequired, ValidationError
from djogi.executor import protocol
from djogi.executor.errors import translate
from djogi.executor.events import Listener, StatementEvent, logger
from djogi.executor.pool import Connection, Pool
from djogi.executor.rows import RowFactory, row_factory
from djogi.executor.transaction import CLEAN, Atomic, TransactionState
from djogi.schema.registry import registered
from djogi.tenancy import SET_ACTOR_SQL, SET_SCOPE_SQL, SET_TENANT_SQL

__all__ = ["ENUM_OIDS_SQL", "Session"]

T = TypeVar("T")

bypass_logger = logging.getLogger("djogi.tenancy")
ENUM_OIDS_SQL = (
    "SELECT t.typname, t.oid, t.typtype = 'e' FROM pg_catalog.pg_type t "
    "WHERE (t.typtype = 'e' OR (t.typname = 'vector' AND t.typtype = 'b')) "
    "AND t.typnamespace = ANY (pg_catalog.current_schemas(false)::regnamespace[])"
)


class Session:
    """The statement runner over a ``Pool``: transaction pinning (one ``TransactionState`` per task, in
    ``transaction_var``), listeners, the enum OIDs and per-table column OIDs read from the server."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.acquire = pool.acquire
        self.release = pool.release
        self.transaction_var: ContextVar[TransactionState | None] = ContextVar("djogi_tx", default=None)
        self.enum_oids: dict[str, int] = {}
        self.column_oids: dict[str, dict[str, int]] = {}
        self.listeners: list[Listener] = []
        self.auth: AuthContext | None = None
        self.bypass: str | None = None
        self.bypass_at = ""
        self.scoped = False
        self.hooks = True

    def view(self, *, auth: AuthContext | None, bypass: str | None = None, bypass_at: str = "") -> Session:
        """A session sharing this one's pool, transactions, listeners and type OIDs, whose statements run
        with ``auth``'s tenant and, given ``bypass`` (a ``BYPASSRLS`` role), as that role (see ``scope``)."""
        other = copy.copy(self)
        other.auth, other.bypass, other.bypass_at = auth, bypass, bypass_at
        other.scoped = bypass is not None or (auth is not None and (auth.tenant_id, auth.user_id) != (None, None))
        return other

    def effective_auth(self, state: TransactionState | None) -> AuthContext | None:
        """The auth context in force: the open transaction's (``Database.set_auth``), else this session's."""
        return state.auth if state is not None and state.auth is not None else self.auth

    def require_tenant(self, model: type[Any]) -> None:
        """TenantRequired when ``model`` is tenant-keyed and no tenant is in force (and no bypass)."""
        desc = registered(model)
        if desc is not None and desc.tenant_key is not None:
            self.require_tenants((model,))

    def require_tenants(self, models: tuple[Any, ...]) -> None:
        """TenantRequired naming the first of ``models`` (tenant-keyed models a statement reads or writes:
        ``Statement.tenants``) when there is one and no tenant is in force (and no bypass)."""
        if not models or self.bypass is not None:
            return
        auth = self.effective_auth(self.own_transaction())
        if auth is None or auth.tenant_id is None:
            desc = registered(models[0])
            assert desc is not None
            raise TenantRequired(
                f"{desc.name} is tenant-keyed (tenant_key={desc.tenant_key!r}) and no tenant is set: row-level "
                "security would show no rows and refuse writes. Use db.with_tenant(...) / db.with_auth(ctx), or "
                "db.set_auth(ctx) inside atomic(); for admin work, bypass explicitly with db.insecurely()"
            )

    async def scope(self, state: TransactionState) -> None:
        """Apply this session's tenant and role to the transaction ``state`` when they differ from what is
        applied: ``SELECT set_config('djogi.tenant', $1, true)`` (and ``set_config('role', $2, true)`` when
        the role changes; ``'none'`` is the session's own role), and ``set_config('djogi.actor', $1, true)`` when
        the acting user changes (``AuthContext.user_id``, recorded on event rows). Transaction-local, so gone
        at COMMIT."""
        auth = self.effective_auth(state)
        wanted = (auth.tenant_setting if auth is not None else "", self.bypass or "none",
                  auth.actor_setting if auth is not None else "")  # fmt: skip
        applied = state.applied
        if wanted == applied:
            return
        if applied is not None and wanted[1] == applied[1]:
            if wanted[0] != applied[0]:
                await self.on(state.conn, SET_TENANT_SQL, (wanted[0],))
        else:
            await self.on(state.conn, SET_SCOPE_SQL, wanted[:2])
        if applied is None or wanted[2] != applied[2]:
            await self.on(state.conn, SET_ACTOR_SQL, (wanted[2],))
        state.applied = CLEAN if wanted == CLEAN else wanted

    async def enter(self, state: TransactionState, what: str) -> None:
        """``scope(state)``; under ``insecurely()``, also log ``what`` (the statement) at WARNING."""
        await self.scope(state)
        if self.bypass is not None:
            bypass_logger.warning("row-level security bypassed (insecurely() at %s, role %s): %s", self.bypass_at,
                                  self.bypass, what)  # fmt: skip

    def own_transaction(self) -> TransactionState | None:
        """The transaction the current task opened, or None (also when only another task's is visible)."""
        state = self.transaction_var.get()
        if state is not None and state.owner != anyio.get_current_task().id:
            return None
        return state

    def current_transaction(self) -> TransactionState | None:
        """The transaction the current task opened, if any.

        Raises ValidationError when another task's transaction is visible here (a task spawned inside
        ``atomic()``): a transaction's connection belongs to the task that opened it.
        """
        state = self.transaction_var.get()
        if state is not None and state.owner != anyio.get_current_task().id:
            raise ValidationError(
                "this task inherited an atomic() block opened by another task; a transaction's connection "
                "is pinned to the task that opened it. Open atomic() inside the child task, or run the "
                "child work after the block"
            )
        return state

    async def unpinned(self, work: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``await work(conn, *args)`` on a checked-out connection, released afterwards; run once more on a
        fresh connection when ``resend`` says so. (A single statement takes ``on(None, ...)``, which does
        the same with the statement inline: one coroutine per statement instead of two.)"""
        pool = self.pool
        for resent in (False, True):
            conn = pool.take() or await pool.acquire()
            try:
                return await work(conn, *args)
            except ConnectionFailure as exc:
                resend(exc, resent)
            finally:
                if not pool.park(conn):  # release()'s fast path, without its coroutine
                    await pool.release(conn)
        raise AssertionError("unreachable")

    async def control(self, conn: Connection, sql: str) -> None:
        """Run a transaction-control statement (BEGIN, COMMIT, SAVEPOINT ...); errors are translated."""
        started = time.perf_counter()
        try:
            await conn.execute(sql, prepare=False)
        except psycopg.Error as exc:
            raise translate(exc) from exc
        self.observe(sql, (), started, -1)

    def observe(self, sql: str, params: Sequence[object], started: float, rowcount: int) -> None:
        """Log the statement at DEBUG on ``djogi.sql`` and pass a ``StatementEvent`` to each listener."""
        if self.listeners or logger.isEnabledFor(10):
            elapsed = time.perf_counter() - started
            logger.debug("%.3f ms, %d rows: %s %r", elapsed * 1e3, rowcount, sql, params)
            event = StatementEvent(sql, tuple(params), elapsed, rowcount)
            for listener in self.listeners:
                listener(event)

    async def on(
        self,
        conn: Connection | None,
        sql: str,
        params: Sequence[object],
        row_factory: RowFactory | None = None,
        _resent: bool = False,
    ) -> tuple[list[Any], int]:
        """Run one statement on ``conn`` (``protocol.execute``: binary results, prepared past psycopg's
        threshold): its rows (built by ``row_factory``, else tuples; empty when the statement returns none)
        and its row count. A row that does not decode raises the ``DecodeError`` naming its index in the
        result; other errors are translated.

        ``conn`` None: on a connection checked out for the statement (``Pool.take``, else ``acquire``) and
        parked afterwards, sent once more on a fresh one when ``resend`` says so (``_resent``: this is that
        second run); what ``unpinned`` does for other work, written out here so that the hottest path is one
        coroutine.
        """
        pool = None
        if conn is None:
            pool = self.pool
            conn = pool.take() or await pool.acquire()
        try:
            started = time.perf_counter() if self.listeners or logger.isEnabledFor(DEBUG) else 0.0
            try:
                result = await protocol.execute(conn, sql, params)
            except (psycopg.Error, UnicodeEncodeError) as exc:
                raise translate(exc) from exc
            rows, rowcount = protocol.decode(conn, result, row_factory)
            if started:  # someone is watching
                self.observe(sql, params, started, rowcount)
            return rows, rowcount
        except ConnectionFailure as exc:
            if pool is None:
                raise
            resend(exc, _resent)
        finally:
            if pool is not None and not pool.park(conn):
                await pool.release(conn)
        return await self.on(None, sql, params, row_factory, _resent=True)

    def run(
        self, sql: str, params: Sequence[object] = (), row_factory: RowFactory | None = None
    ) -> Awaitable[tuple[list[Any], int]]:
        """``on()`` the task's transaction connection, or a pooled connection checked out for the call.
        (A plain function returning the awaitable: one coroutine fewer on the hottest path.)"""
        if self.transaction_var.get() is not None:  # (checked again, with the owner test, only when set)
            state = self.current_transaction()
            if state is not None:
                if self.scoped or state.applied is not CLEAN or state.auth is not None:
                    return self._scoped_on(state, sql, params, row_factory)
                return self.on(state.conn, sql, params, row_factory)
        if self.scoped:  # a transaction-local tenant needs a transaction
            return self._in_atomic(sql, params, row_factory)
        return self.on(None, sql, params, row_factory)

    async def _scoped_on(
        self, state: TransactionState, sql: str, params: Sequence[object], row_factory: RowFactory | None
    ) -> tuple[list[Any], int]:
        await self.enter(state, sql)
        return await self.on(state.conn, sql, params, row_factory)

    async def _in_atomic(
        self, sql: str, params: Sequence[object], row_factory: RowFactory | None
    ) -> tuple[list[Any], int]:
        async with Atomic(self, None, False, False):
            return await self.run(sql, params, row_factory)

    async def pinned(self) -> TransactionState | None:
        """The task's open transaction with this session's scope applied (``scope``), or None."""
        state = self.current_transaction()
        if state is not None:
            await self.enter(state, "(COPY or cursor)")
        return state

    async def pipelined(
        self, conn: Connection, batch: Sequence[tuple[str, Sequence[object], RowFactory | None]]
    ) -> list[tuple[list[Any], int]]:
        """Run ``batch`` (SQL, params, row factory) on ``conn`` in psycopg's pipeline mode: every statement
        sent before any result is read, one Sync at the end, so one round trip. Outside a transaction the
        statements share the implicit transaction the Sync closes: one failing rolls back the others.
        Returns each statement's rows and row count, in order.

        Raises the translated error of the first statement that failed, its message prefixed with
        ``pipeline statement i of n failed:``; the statements after it did not run.
        """
        cursors = _pipeline_cursors(conn, len(batch))
        started = time.perf_counter()
        try:
            async with conn.pipeline():
                for cur, (sql, params, _) in zip(cursors, batch, strict=True):
                    await cur.execute(sql, params, binary=True)
        except (psycopg.Error, UnicodeEncodeError) as exc:
            index = next((i for i, cur in enumerate(cursors) if cur.pgresult is None), len(cursors) - 1)
            error = translate(exc)
            error.args = (f"pipeline statement {index + 1} of {len(batch)} failed: {error}", *error.args[1:])
            raise error from exc
        out = []
        for cur, (sql, params, factory) in zip(cursors, batch, strict=True):
            result = cur.pgresult
            assert result is not None  # (each statement of a pipeline that did not fail has its result)
            rows, rowcount = protocol.decode(conn, result, factory)
            self.observe(sql, params, started, rowcount)
            if result.ntuples > _KEEP_RESULT_ROWS:  # free a large result now, not at the next pipeline
                await cur.close()
            out.append((rows, rowcount))
        return out

    def statement(self, stmt: Statement) -> Awaitable[tuple[list[Any], int]]:
        """``run()`` a compiled statement; its rows come back decoded by its shape's row factory."""
        return self.run(stmt.sql, stmt.params, row_factory(stmt.result))

    async def rows(self, query: Select[Any] | SetOp[Any] | CountOf | ExistsOf) -> list[Any]:
        """The rows of ``query`` compiled and run, decoded by its shape's row factory (``[]`` without SQL for
        one built from ``none()``); TenantRequired when it reads a tenant-keyed model (in any scope) with no
        tenant in force. What every reading terminal runs."""
        stmt = compile(query)
        if stmt.tenants:  # (the check's call only when the statement reads a tenant-keyed model)
            self.require_tenants(stmt.tenants)
        if stmt.empty:
            return []
        rows, _ = await self.statement(stmt)
        return rows

    async def execute(self, mutation: Insert[Any] | InsertFrom[Any] | Update[Any] | Delete[Any] | Merge[Any]) -> Any:
        """Compile and run a mutation: the affected row count, or the returned rows when the statement has
        RETURNING (``[]`` / ``0`` without SQL for one built from ``none()``). Errors: TenantRequired for a
        statement reading or writing a tenant-keyed model without a tenant; the translated server error."""
        stmt = compile(mutation)
        self.require_tenants(stmt.tenants)
        if stmt.empty:
            return [] if isinstance(stmt.result, ModelRows | TupleRows | StructRows | JoinedRows) else 0
        rows, rowcount = await self.statement(stmt)
        if isinstance(stmt.result, RowCount | NoResult):
            return rowcount
        if isinstance(stmt.result, ScalarRow):
            return rows[0][0] if rows else None
        return rows

    async def configure(self, conn: Connection) -> None:
        """Read the OIDs of the enums and of pgvector's ``vector`` type visible on ``conn`` (``pg_type``, on
        the search path) and register djogi's adapters with them on its adapters map."""
        protocol.forget(conn)  # a transformer (and a cursor) copies the adapters map when it is made
        conn.__dict__.pop(_PIPELINE_ATTR, None)
        cur = await conn.execute(ENUM_OIDS_SQL, prepare=False)
        rows = await cur.fetchall()
        self.enum_oids = {name: oid for name, oid, is_enum in rows if is_enum}
        vector_oid = next((oid for name, oid, is_enum in rows if not is_enum), None)
        configure_adapters(conn.adapters, self.enum_oids, vector_oid)
        self.pool.backend_pids[id(conn)] = conn.info.backend_pid

    async def reload_types(self) -> None:
        """Re-read enum type OIDs: the current transaction's connection is reconfigured in place, pooled
        connections are replaced by new ones (configured on connect)."""
        state = self.current_transaction()
        if state is not None:
            await self.configure(state.conn)
        self.column_oids.clear()
        await self.pool.renew()


def resend(exc: ConnectionFailure, resent: bool) -> None:
    """Return when work that failed with ``exc`` outside a transaction is to run once more on a fresh
    connection (logged at INFO): the server ended the session under it (``ConnectionFailure.resendable``:
    57P01 admin shutdown, 57P02, 57P03), so nothing committed, and it was not ``resent`` already. Otherwise
    raise ``exc`` (a statement cut off mid-flight may have committed)."""
    if resent or not exc.resendable:
        raise exc
    logger.info("the server ended the session (%s); sending the statement again", exc.sqlstate)


_PIPELINE_ATTR = "_djogi_pipeline_cursors"
_KEEP_RESULT_ROWS = 1000


def _pipeline_cursors(conn: Connection, n: int) -> list[psycopg.AsyncCursor[Any]]:
    """``n`` cursors for one pipeline on ``conn`` (each statement's result needs its own), kept on the
    connection for the next pipeline; closed ones are replaced."""
    kept: list[psycopg.AsyncCursor[Any]] = conn.__dict__.setdefault(_PIPELINE_ATTR, [])
    for i, cur in enumerate(kept[:n]):
        if cur.closed:
            kept[i] = conn.cursor()
    kept.extend(conn.cursor() for _ in range(n - len(kept)))
    return kept[:n]
