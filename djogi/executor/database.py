"""``Database``: the executor's one I/O surface over a psycopg connection pool.

Every terminal compiles an algebra value to a ``Statement`` (SQL with ``$n`` placeholders), runs it on a
raw cursor with binary results, and decodes the rows according to the statement's result shape. Inside
``atomic()`` the task's pinned connection is used; outside, each statement checks a connection out of
the pool (autocommit) and returns it. Server errors are raised as ``djogi.errors`` exceptions.
"""

from __future__ import annotations

import select as io_select
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence, Sized
from contextvars import ContextVar
from typing import Any, Literal, NoReturn, TypeVar, overload

import anyio
import msgspec
import psycopg
from psycopg import pq
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from djogi.algebra.compile import (
    JoinedRows,
    ModelRows,
    NoResult,
    ResultShape,
    RowCount,
    ScalarRow,
    Statement,
    StructRows,
    TupleRows,
    compile,
    joined_decoder,
    struct_maker,
)
from djogi.algebra.dml import Delete, Insert, InsertFrom, Update, delete_one, get_by_pk, insert_one, update_one
from djogi.algebra.query import Select, count_of, exists_of, select
from djogi.algebra.setops import SetOp
from djogi.codecs import configure_adapters, row_decoder, tuple_converter
from djogi.errors import ConnectionFailure, MultipleObjectsReturned, NotFound, StaleObject, ValidationError
from djogi.executor import bulk, prefetch
from djogi.executor.bounded import connect_bounded_async, unreachable
from djogi.executor.errors import translate
from djogi.executor.events import Listener, StatementEvent, logger
from djogi.executor.rawsql import transaction_control
from djogi.executor.transaction import (
    ROLLBACK_TIMEOUT_S,
    Atomic,
    Isolation,
    OnCommit,
    TransactionState,
    retry_loop,
)
from djogi.model import Model, descriptor

M = TypeVar("M", bound=Model)
R = TypeVar("R")  # a query's row type: a model, Loaded[model], a tuple, a Struct
S = TypeVar("S", bound=msgspec.Struct)
T = TypeVar("T")

Connection = psycopg.AsyncConnection[tuple[Any, ...]]
Row = tuple[Any, ...]
RowFactory = Callable[[Any], Callable[[Sequence[Any]], Any]]

_TUPLES_OK = pq.ExecStatus.TUPLES_OK
_IDLE = pq.TransactionStatus.IDLE
ENUM_OIDS_SQL = (
    "SELECT t.typname, t.oid FROM pg_catalog.pg_type t "
    "WHERE t.typtype = 'e' AND t.typnamespace = ANY (pg_catalog.current_schemas(false)::regnamespace[])"
)


class Database:
    """A connected pool plus the terminals, CRUD, bulk writes, raw SQL and transactions over it.

    Obtain one with ``djogi.executor.connect()``. Methods are safe to call from many tasks at once;
    each ``atomic()`` block pins its connection to the task that opened it.
    """

    def __init__(self, pool: AsyncConnectionPool[Connection], url: str) -> None:
        self.pool = pool
        self.url = url
        self.transaction_var: ContextVar[TransactionState | None] = ContextVar("djogi_tx", default=None)
        self.enum_oids: dict[str, int] = {}
        self.column_oids: dict[str, dict[str, int]] = {}
        self.backend_pids: dict[int, int] = {}
        self._parked: list[Connection] = []
        # The pool's queue of waiting requests (what ``get_stats()["requests_waiting"]`` counts), read on every
        # release without building the stats dict; None for a pool without one (then ``get_stats()`` is used).
        self._waiting: Sized | None = getattr(pool, "_waiting", None)
        self._get_sql: dict[tuple[type[Model], type], tuple[str, RowFactory | None]] = {}
        self._listeners: list[Listener] = []

    # ------------------------------------------------------------------------------------ plumbing

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
            try:
                conn = await self.pool.getconn()
            except PoolTimeout as exc:
                raise await self._why_no_connection(exc) from exc
            except Exception as exc:  # connection failures
                raise translate(exc) from exc
            if _usable(conn):
                return conn
            await self._discard(conn)

    async def _why_no_connection(self, timeout: PoolTimeout) -> BaseException:
        """After the pool timed out: a direct connection attempt tells a server that cannot be reached
        (its ``ConnectionFailure``, with libpq's reason) from a pool whose connections all stayed busy
        (``PoolTimeout``)."""
        kwargs = self.pool.kwargs if isinstance(self.pool.kwargs, dict) else {}
        return await unreachable(self.url, kwargs) or translate(timeout)

    async def _discard(self, conn: Connection) -> None:
        """Close a dead connection and hand it back, so the pool replaces it."""
        with anyio.CancelScope(shield=True):
            self.backend_pids.pop(id(conn), None)
            await conn.close()
            await self.pool.putconn(conn)

    async def unpinned(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """``await work(conn)`` on a checked-out connection, released afterwards.

        When the server ended the session under the statement (``ConnectionFailure.resendable``: 57P01
        admin shutdown, 57P02, 57P03), nothing committed, so ``work`` runs once more on a fresh connection.
        Only for work outside a transaction; other connection failures are raised (a statement cut off
        mid-flight may have committed).
        """
        for attempt in (1, 2):
            conn = await self.acquire()
            try:
                return await work(conn)
            except ConnectionFailure as exc:
                if attempt == 2 or not exc.resendable:
                    raise
                logger.info("the server ended the session (%s); sending the statement again", exc.sqlstate)
            finally:
                if self._parkable(conn):  # release()'s fast path, without its coroutine
                    self._parked.append(conn)
                else:
                    await self.release(conn)
        raise AssertionError("unreachable")

    async def release(self, conn: Connection) -> None:
        """Give ``conn`` back idle. A clean connection is parked for the next ``acquire()`` (skipping the
        pool's bookkeeping on the hot path) unless a task is waiting on the pool; otherwise it is rolled
        back if a transaction is open (closed when that fails) and returned to the pool. Shielded from
        cancellation, so a connection is never lost or returned mid-transaction.

        When cancellation made psycopg close the connection mid-statement, the server backend would run
        on until the statement ends; it is cancelled (``pg_cancel_backend``) over a fresh connection.
        """
        if self._parkable(conn):
            self._parked.append(conn)
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

    def _parkable(self, conn: Connection) -> bool:
        """Whether ``release(conn)`` parks ``conn``: open, idle, room left, and no task waiting on the pool."""
        return (
            not conn.closed
            and conn.pgconn.transaction_status == _IDLE
            and len(self._parked) < self.pool.max_size
            and not (len(self._waiting) if self._waiting is not None else self.pool.get_stats().get("requests_waiting"))
        )

    async def unpark(self) -> None:
        """Return every parked connection to the pool (before draining or closing it)."""
        with anyio.CancelScope(shield=True):
            while self._parked:
                await self.pool.putconn(self._parked.pop())

    def stats(self) -> dict[str, int]:
        """The pool's statistics (``psycopg_pool`` names), counting parked connections as available."""
        stats = dict(self.pool.get_stats())
        stats["pool_available"] = stats.get("pool_available", 0) + len(self._parked)
        return stats

    async def _cancel_backend(self, pid: int) -> None:
        try:
            async with await connect_bounded_async(self.url, ROLLBACK_TIMEOUT_S, autocommit=True) as other:
                await other.execute("SELECT pg_cancel_backend(%s)", (pid,))
        except psycopg.Error as exc:
            logger.warning("could not cancel orphaned backend %d: %s", pid, exc)

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
        if self._listeners or logger.isEnabledFor(10):
            elapsed = time.perf_counter() - started
            logger.debug("%.3f ms, %d rows: %s %r", elapsed * 1e3, rowcount, sql, params)
            event = StatementEvent(sql, tuple(params), elapsed, rowcount)
            for listener in self._listeners:
                listener(event)

    async def on(
        self, conn: Connection, sql: str, params: Sequence[object], row_factory: RowFactory | None = None
    ) -> tuple[list[Any], int]:
        """Run one statement on ``conn`` (raw cursor, binary results): its rows (built by ``row_factory``,
        else tuples; empty when the statement returns none) and its row count.

        The connection keeps one cursor for these calls (see ``_cursor``): a new cursor per statement copies
        the adapters map and builds a new transformer, which costs about as much as the rest of the call.
        """
        cur = _cursor(conn)
        factory = conn.row_factory if row_factory is None else row_factory
        if cur.row_factory is not factory:
            cur.row_factory = factory
        started = time.perf_counter()
        try:
            await cur.execute(sql, params, binary=True)
        except (psycopg.Error, UnicodeEncodeError) as exc:
            raise translate(exc) from exc
        result = cur.pgresult
        rows = await cur.fetchall() if result is not None and result.status == _TUPLES_OK else []
        rowcount = cur.rowcount
        self.observe(sql, params, started, rowcount)
        if len(rows) > _KEEP_RESULT_ROWS:  # free a large result now rather than at the connection's next call
            await cur.close()
        return rows, rowcount

    async def run(
        self, sql: str, params: Sequence[object] = (), row_factory: RowFactory | None = None
    ) -> tuple[list[Any], int]:
        """``on()`` the task's transaction connection, or a pooled connection checked out for the call."""
        if self.transaction_var.get() is not None:  # (checked again, with the owner test, only when set)
            state = self.current_transaction()
            if state is not None:
                return await self.on(state.conn, sql, params, row_factory)
        return await self.unpinned(lambda conn: self.on(conn, sql, params, row_factory))

    # ------------------------------------------------------------------------------------ listeners

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(StatementEvent)`` after every statement; returns a function removing it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # ------------------------------------------------------------------------------------ terminals

    async def _statement(self, stmt: Statement) -> tuple[list[Any], int]:
        """Run ``stmt``; ModelRows / StructRows come back decoded (inside the fetch), others as tuples."""
        return await self.run(stmt.sql, stmt.params, _factory(stmt.result))

    @overload
    async def all(self, query: Select[R]) -> list[R]: ...
    @overload
    async def all(self, query: SetOp) -> list[Any]: ...
    async def all(self, query: Select[R] | SetOp) -> list[R] | list[Any]:
        """Every row ``query`` (a select or a set operation) selects, decoded into its model (``[]`` without
        SQL for ``none()``).

        With ``prefetch(...)`` the rows are ``djogi.Loaded`` values and each relation costs one more query
        (``WHERE key = ANY($1)``; see ``djogi.executor.prefetch``), whatever the number of rows.
        """
        stmt = compile(query)
        if stmt.empty:
            return []
        rows, _ = await self.run(stmt.sql, stmt.params, _factory(stmt.result))
        if query.prefetches:
            return await prefetch.load(self, rows, query.prefetches)
        return rows

    async def one(self, query: Select[R]) -> R:
        """The single row ``query`` selects (fetching at most 2).

        Raises NotFound (naming the model) for none, MultipleObjectsReturned for more than one.
        """
        if query.row_limit is None or query.row_limit > 2:
            query = query.limit(2)
        found = await self.all(query)
        name = query.model.__name__
        if not found:
            raise NotFound(f"{name} matching the query does not exist")
        if len(found) > 1:
            raise MultipleObjectsReturned(f"more than one {name} matches the query (expected exactly one)")
        return found[0]

    async def first(self, query: Select[R]) -> R | None:
        """The first row of ``query`` (``LIMIT 1``), or ``None``; order the query for a stable answer."""
        found = await self.all(query.limit(1))
        return found[0] if found else None

    async def get(self, model: type[M], pk: object) -> M:
        """``SELECT <columns> FROM "t" WHERE "t"."id" = $1``: the ``model`` row whose key is ``pk``.

        The hottest path: once a key of some type has been compiled for ``model``, later keys of that
        type reuse the SQL and bind directly. Raises NotFound naming the model and key when there is no
        such row, ValidationError for a key that does not fit the primary key.
        """
        cached = self._get_sql.get((model, type(pk)))
        if cached is None:
            stmt = compile(get_by_pk(model, pk))
            found, _ = await self.run(stmt.sql, stmt.params, _factory(stmt.result))
            if len(stmt.params) == 1:
                self._get_sql[(model, type(pk))] = (stmt.sql, _factory(stmt.result))
        else:
            found, _ = await self.run(cached[0], (pk,), cached[1])
        if not found:
            desc = descriptor(model)
            raise NotFound(f"{desc.name} with {desc.pk_field.name}={pk!r} does not exist")
        return found[0]  # type: ignore[no-any-return]

    async def in_bulk(self, model: type[M], ids: Iterable[object]) -> dict[Any, M]:
        """The ``model`` rows whose keys are in ``ids``, as ``{pk: row}`` (missing keys are absent)."""
        pk = getattr(model, descriptor(model).pk_field.name)
        rows = await self.all(select(model).where(pk.in_(tuple(ids))))
        return {row.id: row for row in rows}

    async def count(self, query: Select[Any] | SetOp) -> int:
        """The number of rows ``query`` selects: ``count_of(query)`` (``SELECT count(*) FROM "t" WHERE ...``,
        or over a subquery for distinct/grouped/limited shapes); 0 without SQL for ``none()``."""
        stmt = compile(count_of(query))
        if stmt.empty:
            return 0
        rows, _ = await self.run(stmt.sql, stmt.params)
        return int(rows[0][0])

    async def exists(self, query: Select[Any] | SetOp) -> bool:
        """Whether ``query`` selects any row: ``exists_of(query)`` (``SELECT EXISTS (SELECT 1 ... LIMIT 1)``);
        False without SQL for ``none()``."""
        stmt = compile(exists_of(query))
        if stmt.empty:
            return False
        rows, _ = await self.run(stmt.sql, stmt.params)
        return bool(rows[0][0])

    async def scalar(self, query: Select[Any]) -> Any:
        """The first column of the first row of ``query`` (a ``values(...)`` query), or ``None``."""
        stmt = compile(query.limit(1))
        if stmt.empty:
            return None
        rows, _ = await self._statement(stmt)
        return rows[0][0] if rows else None

    async def values(self, query: Select[R]) -> list[R]:
        """The rows of a ``values(...)`` query: tuples, or the ``into`` Structs it names."""
        stmt = compile(query)
        if stmt.empty:
            return []
        rows, _ = await self._statement(stmt)
        return rows

    async def execute(self, mutation: Insert[Any] | InsertFrom[Any] | Update[Any] | Delete[Any]) -> Any:
        """Run a compiled mutation (bulk ``update()`` / ``delete()``, ``insert(...)``): the affected row
        count, or the returned rows when the statement has RETURNING. Errors: the translated server error."""
        stmt = compile(mutation)
        if stmt.empty:
            return [] if isinstance(stmt.result, ModelRows | TupleRows | StructRows) else 0
        rows, rowcount = await self._statement(stmt)
        if isinstance(stmt.result, RowCount | NoResult):
            return rowcount
        if isinstance(stmt.result, ScalarRow):
            return rows[0][0] if rows else None
        return rows

    def stream(self, query: Select[M], *, batch: int = 1000) -> AsyncIterator[M]:
        """Iterate over ``query``'s rows through a server-side cursor, ``batch`` rows per FETCH.

        Needs an open ``atomic()`` (a cursor lives in a transaction): raises ValidationError otherwise,
        at call time, and for a query with ``prefetch(...)``.
        """
        state = self.current_transaction()
        if state is None:
            raise ValidationError("stream() needs an open transaction: use it inside `async with db.atomic():`")
        if batch < 1:
            raise ValidationError(f"stream(batch=) must be at least 1, not {batch}")
        if query.prefetches:
            raise ValidationError("stream() does not load relations; remove prefetch() or use all()")
        return self._stream(state.conn, compile(query), batch)

    async def _stream(self, conn: Connection, stmt: Statement, batch: int) -> AsyncIterator[Any]:
        if stmt.empty:
            return
        started = time.perf_counter()
        factory = _factory(stmt.result)
        name = f"djogi_cur_{id(stmt):x}"
        cursor = (
            conn.cursor(name, binary=True) if factory is None else conn.cursor(name, binary=True, row_factory=factory)
        )
        async with cursor as cur:
            try:
                await cur.execute(stmt.sql, stmt.params)
                self.observe(stmt.sql, stmt.params, started, -1)
                while rows := await cur.fetchmany(batch):
                    for item in rows:
                        yield item
            except (psycopg.Error, UnicodeEncodeError) as exc:
                raise translate(exc) from exc

    # ------------------------------------------------------------------------------------ raw SQL

    @overload
    async def raw(self, sql: str, params: Sequence[object] = (), *, into: type[S]) -> list[S]: ...
    @overload
    async def raw(self, sql: str, params: Sequence[object] = (), *, into: None = None) -> list[Row]: ...

    async def raw(self, sql: str, params: Sequence[object] = (), *, into: type[Any] | None = None) -> list[Any]:
        """Run one parameterised statement (``$1, $2 ...`` placeholders, values in ``params``).

        Rows come back as tuples, or decoded into ``into`` (a model: by column name through its row
        decoder; another Struct: by column name). A statement returning no rows gives ``[]``.
        A statement list holding transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, PREPARE
        TRANSACTION ..., found by PostgreSQL's parser, so also after a ``;`` or a comment) is refused with
        ValidationError before anything is sent: use ``atomic()``. Server errors are raised as djogi errors.
        """
        keyword = transaction_control(sql)
        if keyword is not None:
            raise ValidationError(
                f"raw() refuses transaction control ({keyword}): use `async with db.atomic():`, "
                "which keeps savepoints and on_commit callbacks consistent"
            )
        state = self.current_transaction()
        if state is not None:
            rows, names = await self._raw_on(state.conn, sql, params)
        else:
            rows, names = await self.unpinned(lambda conn: self._raw_on(conn, sql, params))
        if into is None:
            return rows
        if isinstance(into, type) and issubclass(into, Model):
            return row_decoder(into, names).decode_rows(rows)
        return [msgspec.convert(dict(zip(names, row, strict=True)), into) for row in rows]

    async def _raw_on(self, conn: Connection, sql: str, params: Sequence[object]) -> tuple[list[Row], tuple[str, ...]]:
        """Run ``sql`` on ``conn`` (text-mode cursor, binary results): its rows and column names."""
        cur = conn.cursor()
        started = time.perf_counter()
        try:
            await cur.execute(sql, params, binary=True)
        except (psycopg.Error, UnicodeEncodeError) as exc:
            raise translate(exc) from exc
        self.observe(sql, params, started, cur.rowcount)
        if cur.description is None:
            return [], ()
        return await cur.fetchall(), tuple(column.name for column in cur.description)

    # ------------------------------------------------------------------------------------ CRUD

    async def create(self, instance: M) -> M:
        """``INSERT ... RETURNING`` the instance; the new value carries the database-filled columns.

        Raises UniqueViolation (naming the constraint) and the other IntegrityErrors on violations.
        """
        rows, _ = await self._statement(compile(insert_one(instance)))
        return rows[0]  # type: ignore[no-any-return]

    async def save(self, instance: M, **changes: object) -> M:
        """``UPDATE`` the instance's row and return the new value (``RETURNING`` every column).

        With ``changes``, only those columns (plus ``updated_at``) are written; without, the full row.
        A model with a version field adds ``AND version = $n`` and increments it. Raises StaleObject
        when a versioned row moved on, NotFound when the row is gone, ValidationError for an unsaved
        instance or an unknown field.
        """
        stmt = compile(update_one(instance, changes or None))
        rows, _ = await self._statement(stmt)
        if not rows:
            self._missing(instance, "save")
        return rows[0]  # type: ignore[no-any-return]

    async def delete(self, instance: Model) -> None:
        """``DELETE`` the instance's row (checking the version when the model has one).

        Raises StaleObject when a versioned row moved on, NotFound when the row is already gone.
        """
        _, rowcount = await self._statement(compile(delete_one(instance)))
        if rowcount == 0:
            self._missing(instance, "delete")

    async def refresh(self, instance: M) -> M:
        """The instance's row as stored now; NotFound when it is gone."""
        return await self.get(type(instance), instance.id)

    def _missing(self, instance: Model, action: str) -> NoReturn:
        desc = descriptor(type(instance))
        version = desc.version_field
        if version is not None:
            raise StaleObject(
                f"{action}(): {desc.name} id={instance.id!r} version={getattr(instance, version.name)!r} is stale "
                "(another writer changed or deleted it); re-read it and retry"
            )
        raise NotFound(f"{action}(): {desc.name} with {desc.pk_field.name}={instance.id!r} does not exist")

    # ------------------------------------------------------------------------------------ bulk writes

    @overload
    async def bulk_create(self, rows: Sequence[M], *, returning: Literal[True] = True) -> list[M]: ...
    @overload
    async def bulk_create(self, rows: Sequence[M], *, returning: Literal[False]) -> int: ...
    async def bulk_create(self, rows: Sequence[M], *, returning: bool = True) -> list[M] | int:
        """Insert ``rows`` with one binary ``COPY "t" (<columns>) FROM STDIN (FORMAT BINARY)`` and return the
        created instances (with ``returning=False``, the number of rows).

        Keys, timestamps and other database defaults left UNSET are generated first in one round trip
        (``SELECT array_agg(g.id), now() FROM generate_ids_desc($1) AS g(id)`` for HeerIdDesc keys), so the COPY
        carries every column and the instances come back complete. With ``returning=False`` (loading data
        whose keys you do not need), a field every row leaves UNSET is left out of the COPY and filled by its
        column default on the server; only fields some rows set and others leave UNSET are generated (and
        ``created_at``/``updated_at`` together, from one ``now()``, when either is).
        COPY is all-or-nothing: a violation raises the translated IntegrityError (naming the constraint) and
        inserts nothing. A model with an enum-array column is refused (``ValidationError``): COPY cannot
        send one yet.
        """
        return await bulk.bulk_create(self, rows, returning)

    async def bulk_insert(
        self,
        rows: Sequence[M],
        *,
        conflict_target: Sequence[str],
        update_fields: Sequence[str] = (),
    ) -> list[M]:
        """``INSERT ... SELECT * FROM unnest($1::t[], ...) ON CONFLICT (target) DO NOTHING | DO UPDATE SET
        ... RETURNING *``: the rows inserted or updated (rows skipped by DO NOTHING are absent). The statement
        is ``insert_many(Model, rows).on_conflict(...)`` (printable with ``.sql()``), run after generating the
        database-filled values some rows leave UNSET."""
        return await bulk.insert_unnest(self, rows, conflict_target, update_fields)

    async def bulk_upsert(
        self, rows: Sequence[M], conflict_target: Sequence[str], update_fields: Sequence[str]
    ) -> list[M]:
        """Insert ``rows``, updating ``update_fields`` (plus ``updated_at``) of rows that conflict on
        ``conflict_target``; returns every row as stored. ValidationError for unknown fields."""
        if not update_fields:
            raise ValidationError("bulk_upsert() needs update_fields; use bulk_insert(conflict_target=...) to skip")
        return await bulk.insert_unnest(self, rows, conflict_target, update_fields)

    async def bulk_update(self, rows: Sequence[Model], fields: Sequence[str]) -> int:
        """``UPDATE t SET f = v.f, ..., updated_at = now() FROM (<unnest>) v WHERE t.id = v.id``: the
        statement ``update_many(Model, rows, fields)`` prints.

        Writes ``fields`` of every row in one statement and returns the number updated. With a version
        field the version is checked and incremented, and StaleObject is raised (the whole statement
        rolled back) when any row moved on.
        """
        return await bulk.bulk_update(self, rows, fields)

    async def get_or_create(self, instance: M, *, lookup: Sequence[str]) -> tuple[M, bool]:
        """The row matching ``instance`` on the ``lookup`` fields (which must carry a unique constraint),
        creating it from ``instance`` when absent; ``(row, created)``.

        Race-safe: ``INSERT ... ON CONFLICT (lookup) DO NOTHING RETURNING *``, then a SELECT when another
        writer got there first.
        """
        return await bulk.get_or_create(self, instance, lookup)

    async def update_or_create(
        self, instance: M, *, lookup: Sequence[str], update_fields: Sequence[str] | None = None
    ) -> tuple[M, bool]:
        """Insert ``instance`` or, when a row matches on ``lookup``, update its ``update_fields`` (default:
        every non-lookup data field); ``(row, created)``. One ``INSERT ... ON CONFLICT DO UPDATE``:
        ``insert_one(instance).on_conflict(...).do_update(...).with_created()``."""
        return await bulk.update_or_create(self, instance, lookup, update_fields)

    # ------------------------------------------------------------------------------------ transactions

    def atomic(
        self, *, isolation: Isolation | None = None, read_only: bool = False, deferrable: bool = False
    ) -> Atomic:
        """A transaction (outermost) or a savepoint (nested) around the ``async with`` block; see ``Atomic``."""
        return Atomic(self, isolation, read_only, deferrable)

    def on_commit(self, callback: OnCommit) -> None:
        """Run ``callback()`` (sync, or returning an awaitable) after the outermost COMMIT.

        Dropped if its scope rolls back. ValidationError outside ``atomic()``.
        """
        state = self.current_transaction()
        if state is None:
            raise ValidationError("on_commit() needs an open transaction: call it inside `async with db.atomic():`")
        state.callbacks.append(callback)

    async def retry_on_conflict(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        attempts: int = 5,
        backoff: float = 0.01,
        max_backoff: float = 0.5,
        isolation: Isolation | None = None,
        read_only: bool = False,
    ) -> T:
        """Run ``await fn()`` in a new ``atomic(isolation=...)``, re-running the whole transaction when it
        fails with a transient error (40001, 40P01, 55P03, StaleObject, ConnectionFailure, PoolTimeout),
        with full-jitter exponential backoff; never on CommitUnknown (the COMMIT may have happened).
        Re-raises the last error after ``attempts`` tries. ValidationError inside an open transaction."""
        return await retry_loop(
            self, fn, attempts=attempts, backoff=backoff, max_backoff=max_backoff,
            isolation=isolation, read_only=read_only,
        )  # fmt: skip

    # ------------------------------------------------------------------------------------ types

    async def reload_types(self) -> None:
        """Re-read enum type OIDs (after DDL created enum types): the current transaction's connection is
        reconfigured in place, pooled connections are replaced by new ones (configured on connect)."""
        state = self.current_transaction()
        if state is not None:
            await self.configure(state.conn)
        self.column_oids.clear()
        await self.unpark()
        await self.pool.drain()

    async def configure(self, conn: Connection) -> None:
        """Read the enum OIDs visible on ``conn`` (``pg_type``, enums on the search path) and register
        djogi's adapters with them on its adapters map."""
        conn.__dict__.pop(_CURSOR_ATTR, None)  # a cursor copies the adapters map when it is made
        cur = await conn.execute(ENUM_OIDS_SQL, prepare=False)
        rows = await cur.fetchall()
        self.enum_oids = dict(rows)
        configure_adapters(conn.adapters, self.enum_oids)
        self.backend_pids[id(conn)] = conn.info.backend_pid


def _usable(conn: Connection) -> bool:
    """Whether an idle connection is still open: its socket has nothing to read (one zero-timeout
    ``poll``, with a poll object kept on the connection), or what arrived (a notification, a parameter
    report) left libpq's connection OK.

    A server that shut down or crashed leaves the socket readable (a FATAL 57P01, then end of file, which
    libpq may need a second read to reach), so a dead connection is found before a statement is sent on it.
    """
    if conn.closed:
        return False
    pgconn = conn.pgconn
    try:
        poller = conn.__dict__.get(_POLL_ATTR)
        if poller is None:
            poller = conn.__dict__[_POLL_ATTR] = io_select.poll()
            poller.register(pgconn.socket, io_select.POLLIN)
        for _ in range(_READS):
            if not poller.poll(0):
                return pgconn.status == pq.ConnStatus.OK
            pgconn.consume_input()
    except (OSError, ValueError, psycopg.Error):
        return False
    return False  # still readable after every read: a stream that does not end is not an idle connection


_POLL_ATTR = "_djogi_poll"
_READS = 4


_CURSOR_ATTR = "_djogi_cursor"
_KEEP_RESULT_ROWS = 1000


def _cursor(conn: Connection) -> psycopg.AsyncCursor[Any]:
    """The cursor ``Database.on`` uses on ``conn``, made on first use and kept on the connection.

    A connection runs one statement at a time (it is checked out by, or pinned to, one task), so one cursor
    serves every call; reusing it also keeps psycopg's transformer (and its dumpers) when the same SQL text
    runs again. A closed cursor is replaced; ``configure`` drops it when the adapters change.
    """
    cur: psycopg.AsyncCursor[Any] | None = conn.__dict__.get(_CURSOR_ATTR)
    if cur is None or cur.closed:
        cur = conn.__dict__[_CURSOR_ATTR] = conn.cursor()
    return cur


_FACTORIES: dict[int, tuple[ResultShape, RowFactory | None]] = {}  # id(shape) -> (shape, its factory)
_FACTORIES_MAX = 4096


def _factory(shape: ResultShape) -> RowFactory | None:
    """The psycopg row factory decoding rows of ``shape`` inside the fetch (None: plain tuples).

    Kept per shape object (a compile-cache hit returns the same one), so the hot path neither rebuilds
    it nor hashes the shape, and ``on()`` sees the same factory object as the cursor already has.
    """
    found = _FACTORIES.get(id(shape))
    if found is not None and found[0] is shape:
        return found[1]
    factory = _make_factory(shape)
    if len(_FACTORIES) >= _FACTORIES_MAX:
        _FACTORIES.clear()
    _FACTORIES[id(shape)] = (shape, factory)
    return factory


def _make_factory(shape: ResultShape) -> RowFactory | None:
    if isinstance(shape, ModelRows):
        return row_decoder(shape.model, shape.columns).row_factory
    make: Callable[[Sequence[Any]], Any]
    if isinstance(shape, StructRows):
        make = struct_maker(shape.struct_type, shape.decode)
    elif isinstance(shape, JoinedRows):
        make = joined_decoder(shape)
    elif isinstance(shape, TupleRows) and shape.decode:
        make = tuple_converter(shape.decode)
    else:
        return None
    return lambda cursor: make
