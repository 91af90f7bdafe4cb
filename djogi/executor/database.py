"""``Database``: the user's verbs over a connection pool: terminals, CRUD, bulk writes, raw SQL,
transactions and statement listeners.

Every terminal compiles an algebra value to a ``Statement`` (SQL with ``$n`` placeholders) and runs it
through the ``Session`` (``executor.session``: the task's transaction connection inside ``atomic()``, else
a pooled connection checked out for the statement), its rows decoded inside the fetch by the row factory
of the statement's result shape (``executor.rows``). Server errors are raised as ``djogi.errors`` exceptions.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, Literal, TypeVar, cast, overload

import msgspec
import psycopg

from djogi.algebra.compile import compile
from djogi.algebra.dml import (
    Delete,
    Insert,
    InsertFrom,
    Merge,
    Update,
    get_by_pk,
    key_of,
    key_text,
)
from djogi.algebra.query import Select, count_of, exists_of, select
from djogi.algebra.results import Statement
from djogi.algebra.setops import SetOp
from djogi.auth import AuthContext, TenantId
from djogi.errors import DecodeError, NotFound, ValidationError
from djogi.executor import bulk, prefetch, writes
from djogi.executor.errors import translate
from djogi.executor.events import Listener
from djogi.executor.pipeline import Pipeline, Plan
from djogi.executor.pool import Connection
from djogi.executor.prepared import Prepared, single
from djogi.executor.rawsql import transaction_control
from djogi.executor.rows import RowFactory, into_factory, row_factory
from djogi.executor.session import Session, bypass_logger
from djogi.executor.transaction import Atomic, Isolation, OnCommit, retry_loop
from djogi.identifiers import identifier_problem
from djogi.model import Model, descriptor
from djogi.schema.registry import registered
from djogi.schema.views import refresh_sql
from djogi.tenancy import BYPASS_ROLE

M = TypeVar("M", bound=Model[Any])
R = TypeVar("R")  # a query's row type: a model, Loaded[model], a tuple, a Struct
S = TypeVar("S", bound=msgspec.Struct)
T = TypeVar("T")

Row = tuple[Any, ...]


class Database:
    """The terminals, CRUD, bulk writes, raw SQL and transactions over a connection pool.

    Obtain one with ``djogi.executor.connect()``. Methods are safe to call from many tasks at once;
    each ``atomic()`` block pins its connection to the task that opened it.
    """

    __slots__ = ("_get_sql", "_session")

    def __init__(self, session: Session) -> None:
        self._session = session
        # get()'s SQL and row factory per model and key type, and whether the model is tenant-keyed
        self._get_sql: dict[tuple[type[Model[Any]], type], tuple[str, RowFactory | None, bool]] = {}

    @property
    def url(self) -> str:
        """The URL the pool connects to (what ``migrate.apply(db.url, ...)`` takes)."""
        return self._session.pool.url

    def stats(self) -> dict[str, int]:
        """The pool's statistics (``psycopg_pool`` names), counting parked connections as available."""
        return self._session.pool.stats()

    # ------------------------------------------------------------------------------------ auth and tenancy

    @property
    def auth(self) -> AuthContext | None:
        """The auth context in force: the open transaction's (``set_auth``), else this handle's."""
        return self._session.effective_auth(self._session.own_transaction())

    def with_auth(self, auth: AuthContext | None) -> Database:
        """A handle on the same pool whose statements run with ``auth`` (its tenant: ``djogi.tenant`` set
        per transaction; a statement outside ``atomic()`` runs in its own transaction to carry it)."""
        return self._derived(self._session.view(auth=auth))

    def with_tenant(self, tenant_id: TenantId | None) -> Database:
        """``with_auth`` of this handle's auth context (or an empty one) for ``tenant_id``."""
        return self.with_auth((self._session.auth or AuthContext()).with_tenant(tenant_id))

    def set_auth(self, auth: AuthContext | None) -> None:
        """Attach ``auth`` to the open transaction, for the rest of it (over any handle's own); the tenant
        is set again before the next statement when it changed. ValidationError outside ``atomic()``."""
        state = self._session.current_transaction()
        if state is None:
            raise ValidationError("set_auth() needs an open transaction: call it inside `async with db.atomic():`")
        state.auth = auth

    def require_tenant(self, model: type[Model]) -> None:
        """Raise TenantRequired when ``model`` is tenant-keyed and this handle has no tenant in force (and
        no ``insecurely()`` bypass): what every query and write checks first, for code that reads a tenant's
        rows another way (raw SQL, the audit trail), where row-level security would silently show none."""
        self._session.require_tenant(model)

    def insecurely(self, *, role: str = BYPASS_ROLE) -> Database:
        """A handle whose statements bypass row-level security: each runs in a transaction as ``role`` (a
        ``BYPASSRLS`` role the connecting role may ``SET ROLE`` to; ``SET LOCAL ROLE``, undone at the end).
        For admin and batch work only: every call and every statement is logged at WARNING on
        ``djogi.tenancy`` with the caller's file:line. Grep for ``insecurely(`` to audit them."""
        problem = identifier_problem(role)
        if problem is not None:
            raise ValidationError(f"insecurely(role={role!r}): the role name {problem}")
        caller = sys._getframe(1)
        where = f"{caller.f_code.co_filename}:{caller.f_lineno}"
        bypass_logger.warning("insecurely() at %s: row-level security bypassed as role %s", where, role)
        return self._derived(self._session.view(auth=self._session.auth, bypass=role, bypass_at=where))

    def _derived(self, session: Session) -> Database:
        other = Database(session)
        other._get_sql = self._get_sql
        return other

    # ------------------------------------------------------------------------------------ listeners

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(StatementEvent)`` after every statement; returns a function removing it."""
        listeners = self._session.listeners
        listeners.append(listener)
        return lambda: listeners.remove(listener)

    # ------------------------------------------------------------------------------------ terminals

    async def all(self, query: Select[R] | SetOp[R]) -> list[R]:
        """Every row ``query`` (a select or a set operation) selects, decoded into its model (``[]`` without
        SQL for ``none()``).

        With ``prefetch(...)`` the rows are ``djogi.Loaded`` values and each relation costs one more query
        (``WHERE key = ANY($1)``; see ``djogi.executor.prefetch``), whatever the number of rows.
        """
        rows = await self._session.rows(query)
        if query.prefetches:  # the query is a Select[Loaded[...]]: its rows are the Loaded values
            return cast("list[R]", await prefetch.load(self._session, rows, query.prefetches))
        return rows

    async def one(self, query: Select[R]) -> R:
        """The single row ``query`` selects (fetching at most 2).

        Raises NotFound (naming the model) for none, MultipleObjectsReturned for more than one.
        """
        if query.row_limit is None or query.row_limit > 2:
            query = query.limit(2)
        return single(await self.all(query), query)

    async def first(self, query: Select[R]) -> R | None:
        """The first row of ``query`` (``LIMIT 1``), or ``None``; order the query for a stable answer."""
        found = await self.all(query.limit(1))
        return found[0] if found else None

    def pipeline(self) -> Pipeline:
        """``async with db.pipeline() as p:``: the statements of the block (``p.all(q)``, ``p.get(M, pk)``,
        ``p.count(q)``, ``p.execute(m)`` ...) sent in one round trip when it exits, in one transaction;
        each verb returns a ``Pending`` whose ``value`` is set then. One failing statement raises its
        error and keeps nothing the block wrote (see ``djogi.executor.pipeline``)."""
        return Pipeline(self._session, self._get_plan)

    def prepare(self, query: Select[R]) -> Prepared[R]:
        """``query`` compiled once, to run with new values of its named parameters (``param("title")``):
        ``await db.prepare(q).all(title="Dune")``. Raises ValidationError now for a query that cannot
        compile or a named parameter without a type; see ``Prepared`` for each run's errors."""
        return Prepared(self._session, query)

    async def get(self, model: type[M], pk: object) -> M:
        """``SELECT <columns> FROM "t" WHERE "t"."id" = $1``: the ``model`` row whose key is ``pk`` (for a
        composite key, a tuple of values in key order: ``WHERE "t"."a" = $1 AND "t"."b" = $2``).

        The hottest path: once a key of some type has been compiled for ``model``, later keys of that
        type reuse the SQL and bind directly. Raises NotFound naming the model and key when there is no
        such row, ValidationError for a key that does not fit the primary key.
        """
        session = self._session
        cached = self._get_sql.get((model, type(pk)))
        if cached is None or cached[2]:  # not compiled yet, or tenant-keyed: the tenant check first
            session.require_tenant(model)
            sql, params, factory = self._get_plan(model, pk)
        else:
            sql, params, factory = cached[0], (pk,), cached[1]
        found, _ = await session.run(sql, params, factory)
        if not found:
            raise NotFound(f"{descriptor(model).name} with {key_text(descriptor(model))}={pk!r} does not exist")
        return found[0]  # type: ignore[no-any-return]

    def _get_plan(self, model: type[Model], pk: object) -> Plan:
        """``get()``'s statement: compiled once per model and key type, then the SQL reused with the key."""
        cached = self._get_sql.get((model, type(pk)))
        if cached is not None:
            return cached[0], (pk,), cached[1]
        stmt = compile(get_by_pk(model, pk))
        factory = row_factory(stmt.result)
        if len(stmt.params) == 1:
            desc = registered(model)
            self._get_sql[(model, type(pk))] = (stmt.sql, factory, desc is None or desc.tenant_key is not None)
        return stmt.sql, stmt.params, factory

    async def in_bulk(self, model: type[M], ids: Iterable[object]) -> dict[Any, M]:
        """The ``model`` rows whose keys are in ``ids``, as ``{pk: row}`` (missing keys are absent);
        ValidationError for a model with a composite key."""
        desc = descriptor(model)
        if desc.composite:
            raise ValidationError(f"in_bulk({desc.name}): not for a composite key {key_text(desc)}; filter instead")
        pk = getattr(model, desc.pk_field.name)
        rows = await self.all(select(model).where(pk.in_(tuple(ids))))
        return {key_of(row): row for row in rows}

    async def count(self, query: Select[Any] | SetOp[Any]) -> int:
        """The number of rows ``query`` selects: ``count_of(query)`` (``SELECT count(*) FROM "t" WHERE ...``,
        or over a subquery for distinct/grouped/limited shapes); 0 without SQL for ``none()``."""
        rows = await self._session.rows(count_of(query))
        return int(rows[0][0]) if rows else 0

    async def exists(self, query: Select[Any] | SetOp[Any]) -> bool:
        """Whether ``query`` selects any row: ``exists_of(query)`` (``SELECT EXISTS (SELECT 1 ... LIMIT 1)``);
        False without SQL for ``none()``."""
        rows = await self._session.rows(exists_of(query))
        return bool(rows) and bool(rows[0][0])

    async def scalar(self, query: Select[Any]) -> Any:
        """The first column of the first row of ``query`` (a ``values(...)`` query), or ``None``."""
        rows = await self._session.rows(query.limit(1))
        return rows[0][0] if rows else None

    async def values(self, query: Select[R] | SetOp[R]) -> list[R]:
        """The rows of a ``values(...)`` query: tuples, or the ``into`` Structs it names."""
        return await self._session.rows(query)

    async def execute(self, mutation: Insert[Any] | InsertFrom[Any] | Update[Any] | Delete[Any] | Merge[Any]) -> Any:
        """Run a compiled mutation (bulk ``update()`` / ``delete()``, ``insert(...)``): the affected row
        count, or the returned rows when the statement has RETURNING. Errors: TenantRequired when it reads or
        writes a tenant-keyed model (its target, or a subquery's or source's model) without a tenant; the
        translated server error; ValidationError for a model with lifecycle hooks (a statement runs none; see
        ``without_hooks``)."""
        writes.refuse_hooks(self._session, mutation.model, "execute()")
        return await self._session.execute(mutation)

    def stream(self, query: Select[M], *, batch: int = 1000) -> AsyncIterator[M]:
        """Iterate over ``query``'s rows through a server-side cursor, ``batch`` rows per FETCH.

        Needs an open ``atomic()`` (a cursor lives in a transaction): raises ValidationError otherwise,
        at call time, and for a query with ``prefetch(...)``.
        """
        stmt = compile(query)
        self._session.require_tenants(stmt.tenants)
        state = self._session.current_transaction()
        if state is None:
            raise ValidationError("stream() needs an open transaction: use it inside `async with db.atomic():`")
        if batch < 1:
            raise ValidationError(f"stream(batch=) must be at least 1, not {batch}")
        if query.prefetches:
            raise ValidationError("stream() does not load relations; remove prefetch() or use all()")
        return self._stream(state.conn, stmt, batch)

    async def _stream(self, conn: Connection, stmt: Statement, batch: int) -> AsyncIterator[Any]:
        if stmt.empty:
            return
        await self._session.pinned()
        started = time.perf_counter()
        factory = row_factory(stmt.result)
        async with conn.cursor(f"djogi_cur_{id(stmt):x}", binary=True) as cur:
            try:
                await cur.execute(stmt.sql, stmt.params)
                self._session.observe(stmt.sql, stmt.params, started, -1)
                make = None if factory is None else factory(cur)
                index = 0
                while rows := await cur.fetchmany(batch):
                    for row in rows:
                        yield row if make is None else _decoded(make, row, index)
                        index += 1
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
        rows, _ = await self._session.run(sql, params, None if into is None else into_factory(into))
        return rows

    # ------------------------------------------------------------------------------------ CRUD

    async def create(self, instance: M) -> M:
        """``INSERT ... RETURNING`` the instance; the new value carries the database-filled columns.

        A model with lifecycle hooks, actor fields or numbered fields runs them around the insert (in one
        transaction when hooks run or a number is drawn; ``djogi.executor.writes``, ``docs/composition.md``).
        Raises UniqueViolation (naming the constraint) and the other IntegrityErrors on violations.
        """
        self._session.require_tenant(type(instance))
        return await writes.create(self, self._session, instance)

    async def save(self, instance: M, **changes: object) -> M:
        """``UPDATE`` the instance's row and return the new value (``RETURNING`` every column).

        With ``changes``, only those columns (plus ``updated_at``, and the fields ``before_save`` changes)
        are written; without, the full row. A model with a version field adds ``AND version = $n`` and
        increments it. Raises StaleObject when a versioned row moved on, NotFound when the row is gone,
        ValidationError for an unsaved instance or an unknown field.
        """
        self._session.require_tenant(type(instance))
        return await writes.save(self, self._session, instance, changes)

    async def delete(self, instance: Model[Any]) -> None:
        """``DELETE`` the instance's row (checking the version when the model has one); on a model declared
        ``soft_delete=``, ``UPDATE`` its deleted-at field to ``now()`` instead (``hard_delete`` deletes).

        Raises StaleObject when a versioned row moved on, NotFound when the row is already gone (or
        soft-deleted).
        """
        self._session.require_tenant(type(instance))
        await writes.delete(self, self._session, instance, hard=False)

    async def hard_delete(self, instance: Model[Any]) -> None:
        """``DELETE`` the instance's row, also on a ``soft_delete=`` model (its delete hooks run)."""
        self._session.require_tenant(type(instance))
        await writes.delete(self, self._session, instance, hard=True)

    def without_hooks(self) -> Database:
        """A handle on the same pool whose writes run no lifecycle hooks: what bulk writes of a model with
        hooks need (they refuse otherwise). Actor fields are still filled."""
        session = self._session.view(auth=self._session.auth, bypass=self._session.bypass,
                                     bypass_at=self._session.bypass_at)  # fmt: skip
        session.hooks = False
        return self._derived(session)

    async def refresh(self, instance: M) -> M:
        """The instance's row as stored now; NotFound when it is gone."""
        return await self.get(type(instance), key_of(instance))

    async def refresh_view(self, model: type[Model[Any]], *, concurrently: bool = False) -> None:
        """``REFRESH MATERIALIZED VIEW [CONCURRENTLY] "view"`` of a materialized view model (CONCURRENTLY:
        readers are not blocked; it needs a unique index on the view and a view filled once). Raises
        ValidationError for a model that is not a materialized view, or CONCURRENTLY without a unique index."""
        desc = descriptor(model)
        problem = desc.refresh_problem(concurrently=concurrently)
        if problem is not None:
            raise ValidationError(f"refresh_view(): {problem}")
        await self._session.run(refresh_sql(desc.table, concurrently=concurrently), (), None)

    # ------------------------------------------------------------------------------------ bulk writes

    @overload
    async def bulk_create(self, rows: Sequence[M], *, returning: Literal[True] = True) -> list[M]: ...
    @overload
    async def bulk_create(self, rows: Sequence[M], *, returning: Literal[False]) -> int: ...
    async def bulk_create(self, rows: Sequence[M], *, returning: bool = True) -> list[M] | int:
        """Insert ``rows`` with one binary ``COPY "t" (<columns>) FROM STDIN (FORMAT BINARY)`` and return the
        created instances (with ``returning=False``, the number of rows).

        Keys, timestamps and other database defaults left UNSET are generated first in one round trip
        (``SELECT array_agg(g.id), now() FROM heer_generate_ids(heer_id_node(), $1, true, true) AS g(id)`` for
        HeerIdDesc keys: one call of the bulk generator on the database's node), so the COPY
        carries every column and the instances come back complete. With ``returning=False`` (loading data
        whose keys you do not need), a field every row leaves UNSET is left out of the COPY and filled by its
        column default on the server, except a HeeRanjID key (still generated in one call, which costs less
        than the column default per row); only fields some rows set and others leave UNSET are generated
        (and ``created_at``/``updated_at`` together, from one ``now()``, when either is).
        COPY is all-or-nothing: a violation raises the translated IntegrityError (naming the constraint) and
        inserts nothing. A model with an enum-array column is refused (``ValidationError``): COPY cannot
        send one yet. A tenant-keyed model (outside ``insecurely()``) is inserted with ``insert_many(rows)``
        instead: PostgreSQL refuses COPY into a table under row-level security. Actor fields are filled;
        a model with hooks is refused (``without_hooks``), and so is a row leaving a numbered field UNSET.
        """
        rows = writes.bulk_rows(self._session, rows, "bulk_create()", self.auth)
        if rows:
            session = self._session
            session.require_tenant(type(rows[0]))
            if session.bypass is None and descriptor(type(rows[0])).tenant_key is not None:  # no COPY under RLS
                created = await bulk.insert_unnest(session, rows, None, ())
                return created if returning else len(created)
            if session.scoped and session.own_transaction() is None:  # the COPY carries the tenant too
                async with self.atomic():
                    return await bulk.bulk_create(session, rows, returning)
        return await bulk.bulk_create(self._session, rows, returning)

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
        database-filled values some rows leave UNSET. Composition as ``bulk_create``."""
        rows = writes.bulk_rows(self._session, rows, "bulk_insert()", self.auth)
        if rows:
            self._session.require_tenant(type(rows[0]))
        return await bulk.insert_unnest(self._session, rows, conflict_target, update_fields)

    async def bulk_upsert(
        self, rows: Sequence[M], conflict_target: Sequence[str], update_fields: Sequence[str]
    ) -> list[M]:
        """Insert ``rows``, updating ``update_fields`` (plus ``updated_at``) of rows that conflict on
        ``conflict_target``; returns every row as stored. ValidationError for unknown fields. Composition as
        ``bulk_create``."""
        if not update_fields:
            raise ValidationError("bulk_upsert() needs update_fields; use bulk_insert(conflict_target=...) to skip")
        rows = writes.bulk_rows(self._session, rows, "bulk_upsert()", self.auth)
        if rows:
            self._session.require_tenant(type(rows[0]))
        return await bulk.insert_unnest(self._session, rows, conflict_target, update_fields)

    async def bulk_update(self, rows: Sequence[Model[Any]], fields: Sequence[str]) -> int:
        """``UPDATE t SET f = v.f, ..., updated_at = now() FROM (<unnest>) v WHERE t.id = v.id``: the
        statement ``update_many(Model, rows, fields)`` prints.

        Writes ``fields`` of every row in one statement and returns the number updated. With a version
        field the version is checked and incremented, and StaleObject is raised (the whole statement
        rolled back) when any row moved on. A model with hooks is refused (``without_hooks``); an
        ``actor="updated"`` field is written too, set to the acting user.
        """
        if rows:
            self._session.require_tenant(type(rows[0]))
            writes.refuse_hooks(self._session, type(rows[0]), "bulk_update()")
            rows, fields = writes.actor_update(rows, fields, self.auth)
        return await bulk.bulk_update(self._session, rows, fields)

    async def get_or_create(self, instance: M, *, lookup: Sequence[str]) -> tuple[M, bool]:
        """The row matching ``instance`` on the ``lookup`` fields (which must carry a unique constraint),
        creating it from ``instance`` when absent; ``(row, created)``.

        Race-safe: ``INSERT ... ON CONFLICT (lookup) DO NOTHING RETURNING *``, then a SELECT when another
        writer got there first. With hooks, ``before_create`` runs for the attempt (undone when the row is
        found) and ``after_create`` for a created row only.
        """
        self._session.require_tenant(type(instance))
        return await writes.find_or_create(self, self._session, instance, lookup, idempotent=False)

    async def create_or_find(self, instance: M, *, lookup: Sequence[str] | None = None) -> tuple[M, bool]:
        """Create ``instance`` or, when a row with its idempotency key (``field(idempotency_key=True)``, or the
        unique ``lookup`` fields) exists, return that row: ``(row, created)``. Race-safe as ``get_or_create``.

        An idempotency key names one request: a found row that differs from ``instance`` in a field the
        caller gave raises ``IdempotencyConflict`` naming the fields. ValidationError for a model with no
        idempotency key and no ``lookup``.
        """
        self._session.require_tenant(type(instance))
        return await writes.find_or_create(self, self._session, instance, lookup, idempotent=True)

    async def update_or_create(
        self, instance: M, *, lookup: Sequence[str], update_fields: Sequence[str] | None = None
    ) -> tuple[M, bool]:
        """Insert ``instance`` or, when a row matches on ``lookup``, update its ``update_fields`` (default:
        every non-lookup data field but an ``actor="created"`` one); ``(row, created)``. One ``INSERT ... ON
        CONFLICT DO UPDATE``: ``insert_one(instance).on_conflict(...).do_update(...).with_created()``. Actor
        fields are filled; a model with hooks is refused (it is a create or a save: ``without_hooks``)."""
        self._session.require_tenant(type(instance))
        writes.refuse_hooks(self._session, type(instance), "update_or_create()")
        instance = writes.with_actors(descriptor(type(instance)), instance, self.auth, creating=True)
        return await bulk.update_or_create(self._session, instance, lookup, update_fields)

    # ------------------------------------------------------------------------------------ transactions

    def atomic(
        self, *, isolation: Isolation | None = None, read_only: bool = False, deferrable: bool = False
    ) -> Atomic:
        """A transaction (outermost) or a savepoint (nested) around the ``async with`` block; see ``Atomic``."""
        return Atomic(self._session, isolation, read_only, deferrable)

    def on_commit(self, callback: OnCommit) -> None:
        """Run ``callback()`` (sync, or returning an awaitable) after the outermost COMMIT.

        Dropped if its scope rolls back. ValidationError outside ``atomic()``.
        """
        state = self._session.current_transaction()
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
            self._session, fn, attempts=attempts, backoff=backoff, max_backoff=max_backoff,
            isolation=isolation, read_only=read_only,
        )  # fmt: skip

    # ------------------------------------------------------------------------------------ types

    async def reload_types(self) -> None:
        """Re-read enum type OIDs (after DDL created enum types): the current transaction's connection is
        reconfigured in place, pooled connections are replaced by new ones (configured on connect)."""
        await self._session.reload_types()


def _decoded(make: Callable[[Any], Any], row: Any, index: int) -> Any:
    """``make(row)``; a ``DecodeError`` names the row's ``index`` in the result, as every other terminal's."""
    try:
        return make(row)
    except DecodeError as exc:
        raise type(exc)(f"{exc} (row {index})") from exc
