"""``template``: a query compiled once, with named parameters (``param("title")``) bound per run.

``template(query)`` renders the query once (no shape cache: the SQL is kept by the template) and records
where each named parameter sits among the statement's ``$n`` parameters. ``bind({"title": "Dune"})``
returns the parameters of one run: each value checked and normalised for its slot's type as ``where()``
checks a plain value, the other parameters as compiled. The executor's ``db.prepare(query)`` runs a
template; this module does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from djogi.algebra.compile import compile_named
from djogi.algebra.expr import Slot, ValueType, coerce
from djogi.algebra.query import Select
from djogi.algebra.results import ResultShape
from djogi.errors import ArgumentTypeError, ValidationError

__all__ = ["Template", "template"]

R = TypeVar("R")


class Template(Generic[R]):
    """A compiled ``Select[R]`` whose named parameters are filled per run: ``sql`` (``$n`` placeholders),
    ``result`` (how rows decode), ``names`` (the parameters a run takes), ``empty`` (a ``none()`` query:
    nothing to send), ``tenants`` (the tenant-keyed models it reads: ``Statement.tenants``)."""

    __slots__ = ("_params", "_slots", "empty", "names", "query", "result", "sql", "tenants")

    def __init__(
        self, query: Select[R], sql: str, params: tuple[object, ...], result: ResultShape, empty: bool,
        tenants: tuple[Any, ...],
    ):  # fmt: skip
        self.query = query
        self.sql = sql
        self.result = result
        self.empty = empty
        self.tenants = tenants
        self._params = params
        self._slots = tuple((i, v.name, v.vtype) for i, v in enumerate(params) if type(v) is Slot)
        self.names = frozenset(name for _, name, _ in self._slots)

    def bind(self, values: Mapping[str, object]) -> list[object]:
        """The statement's parameters with ``values`` in their slots.

        Raises ``ValidationError`` naming the parameter for a missing or unknown name, ``None`` (compare
        with ``is_null()`` instead: ``= NULL`` is never true), or a value that does not fit its slot's type.
        """
        if values.keys() != self.names:
            raise self._mismatch(values)
        params = list(self._params)
        for i, name, vtype in self._slots:
            params[i] = _bound(name, vtype, values[name])
        return params

    def _mismatch(self, values: Mapping[str, object]) -> ValidationError:
        missing = sorted(self.names - values.keys())
        unknown = sorted(values.keys() - self.names)
        takes = ", ".join(sorted(self.names)) or "no parameters"
        parts = [f"missing parameter {', '.join(map(repr, missing))}"] if missing else []
        parts += [f"unknown parameter {', '.join(map(repr, unknown))}"] if unknown else []
        return ValidationError(f"{'; '.join(parts)}: this prepared query takes {takes}")


def _bound(name: str, vtype: ValueType, value: object) -> object:
    if value is None:
        raise ValidationError(
            f"param({name!r}) is None: a comparison with NULL is never true; build the query with is_null()"
        )
    bound = coerce(vtype, value, f"param({name!r})")
    return list(bound) if type(bound) is tuple else bound


def template(query: Select[R]) -> Template[R]:
    """Compile ``query`` once for runs with new values of its named parameters (``param()``).

    Raises ``ArgumentTypeError`` for a value that is not a ``Select``, ``ValidationError`` for a query that
    cannot compile or whose named parameter has no type (``param("n", "bigint")`` gives one).
    """
    if not isinstance(query, Select):
        raise ArgumentTypeError(f"template() takes a query such as Book.objects.where(...), not {query!r}")
    stmt = compile_named(query)
    untyped = sorted({v.name for v in stmt.params if type(v) is Slot and v.vtype.sql is None})
    if untyped:
        raise ValidationError(
            f"param({untyped[0]!r}) has no type here: compare it with a column (Book.title == param('title')) "
            "or give its SQL type, param('n', 'bigint')"
        )
    return Template(query, stmt.sql, stmt.params, stmt.result, stmt.empty, stmt.tenants)
