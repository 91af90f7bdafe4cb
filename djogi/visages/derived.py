"""Derived visage fields: a value a visage shows that no column stores, computed from the row.

::

    class BookPublic(Visage[Book], audience="public"):
        ...
        shout: str = derived(upper(Book.title.collate("C")))

A derived field has two forms that must agree: its SQL (an algebra expression, what ``visage_query``
selects) and its Python form (what ``to_visage`` computes): by default the same expression evaluated in
memory by the algebra's evaluator (``djogi.algebra.evaluate``), or ``python=`` for an expression without an
in-memory twin. ``djogi.visages.parity.check_parity`` fetches both forms and names every row where they differ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from djogi.algebra.evaluate import compile_expr
from djogi.algebra.expr import Expr
from djogi.errors import ArgumentTypeError, NotPortable, VisageError

__all__ = ["Derived", "derived", "derived_python"]

T = TypeVar("T")


class Derived:
    """A derived field: ``sql`` (the expression a visage query selects) and ``python`` (``instance ->
    value``; None: ``sql`` evaluated in memory)."""

    __slots__ = ("_getter", "python", "sql")

    def __init__(self, sql: Expr[Any], python: Callable[[Any], Any] | None) -> None:
        self.sql, self.python = sql, python
        self._getter: Callable[[Any], Any] | None = python

    def getter(self) -> Callable[[Any], Any]:
        """The Python form (compiled once); ``NotPortable`` when ``sql`` has no in-memory twin."""
        if self._getter is None:
            self._getter = compile_expr(self.sql)
        return self._getter

    def __repr__(self) -> str:
        return f"derived({self.sql.describe()})"


def derived(sql: Expr[T], python: Callable[[Any], T] | None = None) -> T:
    """A derived field of a declared visage: ``name: T = derived(expr)``. ``ArgumentTypeError`` when ``sql``
    is not an expression or ``python`` is not callable."""
    if not isinstance(cast(object, sql), Expr):  # checked at run time: not every caller is type-checked
        raise ArgumentTypeError(f"derived() takes an expression such as upper(Book.title), not {sql!r}")
    if python is not None and not callable(python):
        raise ArgumentTypeError(f"derived(python=...) takes a function of the model instance, not {python!r}")
    return cast("T", Derived(sql, python))  # read by the visage's metaclass; never a field default


def derived_python(d: Derived, instance: object, where: str) -> Any:
    """``d``'s Python form for ``instance``; ``VisageError`` naming ``where`` when it has none."""
    try:
        return d.getter()(instance)
    except NotPortable as exc:
        raise VisageError(f"{where}: the derived expression has no in-memory form ({exc}); give "
                          "derived(..., python=lambda row: ...)") from None  # fmt: skip
