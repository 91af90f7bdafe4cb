"""``Pipeline``: independent statements sent in one round trip (``async with db.pipeline() as p:``).

Each verb (``p.all(q)``, ``p.get(Model, pk)``, ``p.count(q)`` ...) compiles its statement at once, so a
refusal raises at the call, before anything is sent, and returns a ``Pending`` whose ``value`` is set
when the block exits. At exit every statement goes out in psycopg's pipeline mode on one connection, one
Sync at the end (``Session.pipelined``).

Semantics: the statements run in order, in one transaction. Outside ``atomic()`` that is the implicit
transaction the Sync closes; inside, the task's transaction. If one statement fails, the block raises its
translated error (``pipeline statement i of n failed: ...``), nothing the pipeline wrote is kept outside
``atomic()`` (inside, the transaction has failed, as after any failed statement: nest ``atomic()`` around
the block to keep the rest), and every ``Pending`` of the block raises when read. A block left by an
exception sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

from djogi.algebra.compile import compile
from djogi.algebra.dml import Delete, Insert, InsertFrom, Update
from djogi.algebra.query import CountOf, ExistsOf, Select, count_of, exists_of
from djogi.algebra.results import NoResult, RowCount, ScalarRow, Statement
from djogi.errors import MultipleObjectsReturned, NotFound, ValidationError
from djogi.executor.pool import Connection
from djogi.executor.prepared import single
from djogi.executor.rows import RowFactory, row_factory
from djogi.executor.session import Session
from djogi.executor.transaction import Atomic
from djogi.executor.writes import refuse_hooks
from djogi.model import Model, descriptor

__all__ = ["Pending", "Pipeline", "Plan"]

T = TypeVar("T")
R = TypeVar("R")
M = TypeVar("M", bound=Model)

_UNSET: Any = object()  # no value yet


class Pending(Generic[T]):
    """The result of one pipelined statement, set when its ``async with db.pipeline()`` block exits."""

    __slots__ = ("_error", "_value", "label")

    def __init__(self, label: str) -> None:
        self.label = label
        self._value: T = _UNSET
        self._error: BaseException | None = None

    @property
    def value(self) -> T:
        """The statement's result. Raises what the statement's terminal raises (NotFound for a ``get`` of
        a missing key ...), or ValidationError when the pipeline has not run or failed."""
        if self._error is not None:
            raise self._error
        if self._value is _UNSET:
            raise ValidationError(f"{self.label} has not run: read .value after the `async with db.pipeline()` block")
        return self._value


Plan = tuple[str, Sequence[object], RowFactory | None]
"""A statement ready to send: its SQL, its parameters and the row factory of its result."""


class _Entry:
    __slots__ = ("finish", "pending", "plan")

    def __init__(self, plan: Plan, pending: Pending[Any], finish: Callable[[list[Any], int], Any]) -> None:
        self.plan, self.pending, self.finish = plan, pending, finish

    def settle(self, rows: list[Any], count: int) -> None:
        """Set the pending value from the statement's rows; a missing or extra row (``get``, ``one``) is
        kept as the error ``value`` raises."""
        try:
            self.pending._value = self.finish(rows, count)
        except (NotFound, MultipleObjectsReturned) as exc:
            self.pending._error = exc


class Pipeline:
    """The statements of one ``async with db.pipeline() as p:`` block; see the module docstring."""

    __slots__ = ("_entries", "_get_plan", "_session")

    def __init__(self, session: Session, get_plan: Callable[[type[Model], object], Plan]) -> None:
        self._session = session
        self._get_plan = get_plan  # Database.get's statement per model and key type
        self._entries: list[_Entry] = []

    def _add(
        self, model: type[Any], label: str, stmt: Statement | Plan, finish: Callable[[list[Any], int], T]
    ) -> Pending[T]:
        if isinstance(stmt, Statement):
            self._session.require_tenants(stmt.tenants)
        else:
            self._session.require_tenant(model)
        pending: Pending[T] = Pending(f"pipeline statement {len(self._entries) + 1} ({label})")
        if isinstance(stmt, Statement):
            entry = _Entry((stmt.sql, stmt.params, row_factory(stmt.result)), pending, finish)
            if stmt.empty:  # none(): answered without SQL
                entry.settle([], 0)
                return pending
        else:
            entry = _Entry(stmt, pending, finish)
        self._entries.append(entry)
        return pending

    def all(self, query: Select[R]) -> Pending[list[R]]:
        """Every row ``query`` selects, as ``db.all``; a query with ``prefetch()`` is refused (ValidationError):
        loading relations needs the rows first."""
        if not isinstance(query, Select):
            raise ValidationError(f"pipeline.all() takes a query such as Book.objects.where(...), not {query!r}")
        if query.prefetches:
            raise ValidationError(
                "pipeline.all() does not load relations (prefetch() needs the rows first); use db.all()"
            )
        return self._add(query.model, f"all({query.model.__name__})", compile(query), lambda rows, n: rows)

    def one(self, query: Select[R]) -> Pending[R]:
        """The single row ``query`` selects (at most 2 fetched); ``value`` raises NotFound /
        MultipleObjectsReturned as ``db.one``."""
        limited = query if query.row_limit is not None and query.row_limit <= 2 else query.limit(2)
        return self._add(query.model, f"one({query.model.__name__})", compile(limited),
                         lambda rows, n: single(rows, query))  # fmt: skip

    def first(self, query: Select[R]) -> Pending[R | None]:
        """The first row (``LIMIT 1``) or ``None``, as ``db.first``."""
        return self._add(query.model, f"first({query.model.__name__})", compile(query.limit(1)),
                         lambda rows, n: rows[0] if rows else None)  # fmt: skip

    def get(self, model: type[M], pk: object) -> Pending[M]:
        """The ``model`` row whose key is ``pk``, as ``db.get``; ``value`` raises NotFound when there is none."""
        desc = descriptor(model)

        def found(rows: list[Any], n: int) -> M:
            if not rows:
                raise NotFound(f"{desc.name} with {desc.pk_field.name}={pk!r} does not exist")
            return rows[0]  # type: ignore[no-any-return]

        return self._add(model, f"get({desc.name}, {pk!r})", self._get_plan(model, pk), found)

    def count(self, query: Select[Any]) -> Pending[int]:
        """The number of rows ``query`` selects, as ``db.count``."""
        return self._scalar("count", count_of(query), int)

    def exists(self, query: Select[Any]) -> Pending[bool]:
        """Whether ``query`` selects any row, as ``db.exists``."""
        return self._scalar("exists", exists_of(query), bool)

    def _scalar(self, verb: str, value: CountOf | ExistsOf, cast: Callable[[Any], T]) -> Pending[T]:
        return self._add(value.query.model, f"{verb}({value.query.model.__name__})", compile(value),
                         lambda rows, n: cast(rows[0][0] if rows else 0))  # fmt: skip

    def execute(self, mutation: Insert[Any] | InsertFrom[Any] | Update[Any] | Delete[Any]) -> Pending[Any]:
        """A mutation, as ``db.execute``: its row count, or its returned rows when it has RETURNING.
        ValidationError, as there, for a model with lifecycle hooks."""
        refuse_hooks(self._session, mutation.model, "pipeline execute()")
        stmt = compile(mutation)
        label = f"execute({type(mutation).__name__} {mutation.model.__name__})"
        if isinstance(stmt.result, RowCount | NoResult):
            return self._add(mutation.model, label, stmt, lambda rows, n: n)
        if isinstance(stmt.result, ScalarRow):
            return self._add(mutation.model, label, stmt, lambda rows, n: rows[0][0] if rows else None)
        return self._add(mutation.model, label, stmt, lambda rows, n: rows)

    async def run(self) -> None:
        """Send every statement in one round trip and set each ``Pending``; see the module docstring."""
        entries, self._entries = self._entries, []
        if entries:
            await self._send(entries)

    async def _send(self, entries: list[_Entry]) -> None:
        session = self._session
        if session.scoped and session.current_transaction() is None:  # a transaction-local tenant needs one
            async with Atomic(session, None, False, False):
                return await self._send(entries)
        batch = [e.plan for e in entries]

        async def work(conn: Connection) -> list[tuple[list[Any], int]]:
            return await session.pipelined(conn, batch)

        state = session.current_transaction()
        if state is not None:
            await session.enter(state, "; ".join(e.pending.label for e in entries))
        try:
            results = await work(state.conn) if state is not None else await session.unpinned(work)
        except BaseException as exc:
            failed = ValidationError(f"not run: the pipeline failed ({exc})")
            for entry in entries:
                entry.pending._error = failed
            raise
        for entry, (rows, count) in zip(entries, results, strict=True):
            entry.settle(rows, count)

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            await self.run()
        else:
            self._entries.clear()
