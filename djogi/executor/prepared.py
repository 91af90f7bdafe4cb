"""``Prepared``: a query compiled once (``db.prepare(query)``) and run with new values of its named
parameters (``param("title")``): no build, compile or shape-cache lookup per run, only the values' checks
(``djogi.algebra.template``), the round trip and the decoding. The SQL text is the same on every run, so
psycopg prepares it on the server from its second run on a connection (``connect(prepare=...)``)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Generic, TypeVar

from djogi.algebra.query import Select
from djogi.algebra.template import Template, template
from djogi.errors import MultipleObjectsReturned, NotFound
from djogi.executor import prefetch
from djogi.executor.rows import RowFactory, row_factory
from djogi.executor.session import Session

__all__ = ["Prepared", "single"]

R = TypeVar("R")


def single(found: list[R], query: Select[Any]) -> R:
    """The one row of ``found``; NotFound (naming the model) for none, MultipleObjectsReturned for more."""
    if len(found) == 1:
        return found[0]
    name = query.model.__name__
    if not found:
        raise NotFound(f"{name} matching the query does not exist")
    raise MultipleObjectsReturned(f"more than one {name} matches the query (expected exactly one)")


class _Plan(Generic[R]):
    __slots__ = ("factory", "template")

    def __init__(self, query: Select[R]) -> None:
        self.template = template(query)
        self.factory: RowFactory | None = row_factory(self.template.result)


class Prepared(Generic[R]):
    """``query`` compiled once; ``all`` / ``one`` / ``first`` take its named parameters as keyword
    arguments. ``one()`` and ``first()`` compile ``LIMIT 2`` / ``LIMIT 1`` forms on their first call.

    Each run raises TenantRequired when the query reads a tenant-keyed model and no tenant is in force,
    ValidationError naming the parameter for a missing, unknown or ill-typed value (both before anything is
    sent), and the translated server error as the other terminals do.
    """

    __slots__ = ("_all", "_first", "_one", "_session", "query")

    def __init__(self, session: Session, query: Select[R]) -> None:
        self._session = session
        self.query = query
        self._all = _Plan(query)
        self._one: _Plan[R] | None = None
        self._first: _Plan[R] | None = None

    @property
    def sql(self) -> str:
        """The SQL text every ``all()`` run sends (``$n`` placeholders)."""
        return self._all.template.sql

    @property
    def names(self) -> frozenset[str]:
        """The named parameters each run takes."""
        return self._all.template.names

    def all(self, **values: object) -> Awaitable[list[R]]:
        """Every row the query selects with ``values`` bound (``[]`` without SQL for ``none()``). (A plain
        method returning the awaitable: one coroutine fewer per run.)"""
        return self._run(self._all, values)

    async def one(self, **values: object) -> R:
        """The single row selected (fetching at most 2); NotFound for none, MultipleObjectsReturned for more."""
        plan = self._one
        if plan is None:
            limit = self.query.row_limit
            plan = self._one = self._all if limit is not None and limit <= 2 else _Plan(self.query.limit(2))
        return single(await self._run(plan, values), self.query)

    async def first(self, **values: object) -> R | None:
        """The first row (``LIMIT 1``), or ``None``; order the query for a stable answer."""
        plan = self._first
        if plan is None:
            plan = self._first = _Plan(self.query.limit(1))
        found = await self._run(plan, values)
        return found[0] if found else None

    async def _run(self, plan: _Plan[R], values: dict[str, object]) -> list[R]:
        tpl: Template[R] = plan.template
        if tpl.tenants:  # (the check's call only when the query reads a tenant-keyed model)
            self._session.require_tenants(tpl.tenants)
        params = tpl.bind(values)
        if tpl.empty:
            return []
        rows, _ = await self._session.run(tpl.sql, params, plan.factory)
        if self.query.prefetches:
            return await prefetch.load(self._session, rows, self.query.prefetches)  # type: ignore[return-value]  # R is Loaded[M] here
        return rows
