"""``template``: a query compiled once, with named parameters (``param("title")``) bound per run.

``template(query)`` renders the query once (no shape cache: the SQL is kept by the template) and records
where each named parameter sits among the statement's ``$n`` parameters. ``bind({"title": "Dune"})``
returns the parameters of one run: each value checked and normalised for its slot's type as ``where()``
checks a plain value (``coerce``; the kind's check is chosen once per slot, ``codecs.values.kind_check``),
the other parameters as compiled. The executor's ``db.prepare(query)`` runs a
template; this module does no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import msgspec

from djogi.algebra.compile import compile_named
from djogi.algebra.expr import CONVERTED_KINDS, Slot, ValueType, param_value
from djogi.algebra.query import Select
from djogi.algebra.render import like_text
from djogi.algebra.results import ResultShape
from djogi.codecs.values import Check, Refused, kind_check
from djogi.errors import ArgumentTypeError, ValidationError

__all__ = ["Template", "template"]

R = TypeVar("R")


class Template(Generic[R]):
    """A compiled ``Select[R]`` whose named parameters are filled per run: ``sql`` (``$n`` placeholders),
    ``result`` (how rows decode), ``names`` (the parameters a run takes), ``empty`` (a ``none()`` query:
    nothing to send), ``tenants`` (the tenant-keyed models it reads: ``Statement.tenants``)."""

    __slots__ = ("_count", "_params", "_slots", "empty", "names", "query", "result", "sql", "tenants")

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
        self._slots = tuple(_slot(i, v) for i, v in enumerate(params) if type(v) is Slot)
        self.names = frozenset(slot[1] for slot in self._slots)
        self._count = len(self.names)

    def bind(self, values: Mapping[str, object]) -> list[object]:
        """The statement's parameters with ``values`` in their slots.

        Raises ``ValidationError`` naming the parameter for a missing or unknown name, ``None`` (compare
        with ``is_null()`` instead: ``= NULL`` is never true), or a value that does not fit its slot's type.
        """
        if len(values) != self._count:  # (with every name found below: the same names)
            raise self._mismatch(values)
        params = list(self._params)
        for i, name, check, sql, enum, finish in self._slots:
            value = values.get(name)
            if value is None:
                if name not in values:
                    raise self._mismatch(values)
                raise ValidationError(
                    f"param({name!r}) is None: a comparison with NULL is never true; build the query with is_null()"
                )
            try:
                bound = check(value, sql, enum)
            except Refused as refused:
                raise ValidationError(f"param({name!r}): {refused.problem}") from None
            params[i] = bound if finish is None else finish(bound)
        return params

    def _mismatch(self, values: Mapping[str, object]) -> ValidationError:
        missing = sorted(self.names - values.keys())
        unknown = sorted(values.keys() - self.names)
        takes = ", ".join(sorted(self.names)) or "no parameters"
        parts = [f"missing parameter {', '.join(map(repr, missing))}"] if missing else []
        parts += [f"unknown parameter {', '.join(map(repr, unknown))}"] if unknown else []
        return ValidationError(f"{'; '.join(parts)}: this prepared query takes {takes}")


_Binder = tuple[int, str, Check, str | None, object, Callable[[Any], object] | None]


def _slot(index: int, slot: Slot) -> _Binder:
    """How a run binds ``slot`` (the statement's parameter ``index``): its kind's check chosen once, the type's
    SQL and enum for it, and what makes the bound value of the checked one, if anything does: the LIKE
    pattern of a pattern match's text (``like_text``), ``param_value`` for the kinds it converts."""
    vtype = slot.vtype
    check = kind_check(vtype.kind, vtype.element, vtype.element_nullable)
    finish: Callable[[Any], object] | None = None
    if slot.like is not None:
        finish = functools.partial(like_text, slot.like)
    elif vtype.kind in CONVERTED_KINDS:
        finish = functools.partial(_converted, vtype)
    return index, slot.name, check, vtype.sql, vtype.enum, finish


def _converted(vtype: ValueType, value: object) -> object:
    bound = param_value(vtype, value)
    return list(bound) if type(bound) is tuple else bound  # (bound as an array)


def template(query: Select[R]) -> Template[R]:
    """Compile ``query`` once for runs with new values of its named parameters (``param()``).

    Raises ``ArgumentTypeError`` for a value that is not a ``Select``, ``ValidationError`` for a query that
    cannot compile or whose named parameter has no type (``param("n", "bigint")`` gives one).
    """
    if not isinstance(query, Select):
        what = f"{type(query).__name__}(...)" if isinstance(query, msgspec.Struct) else repr(query)
        raise ArgumentTypeError(
            f"template() and db.prepare() take a select query such as Book.objects.where(...), not {what}"
        )
    stmt = compile_named(query)
    untyped = sorted({v.name for v in stmt.params if type(v) is Slot and v.vtype.sql is None})
    if untyped:
        raise ValidationError(
            f"param({untyped[0]!r}) has no type here: compare it with a column (Book.title == param('title')) "
            "or give its SQL type, param('n', 'bigint')"
        )
    return Template(query, stmt.sql, stmt.params, stmt.result, stmt.empty, stmt.tenants)
