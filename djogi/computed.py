"""Computed fields: a named SQL expression over a model's columns, declared on the model.

::

    class Line(Model, table="lines"):
        price: Field[Decimal]
        quantity: Field[int]
        total: ClassVar[Computed[Decimal]] = computed(lambda: Line.price * Line.quantity)

At class level ``Line.total`` is the expression (``Expr``), usable wherever a column is: ``filter(Line.total
> 100)`` compiles to ``WHERE ("lines"."price" * "lines"."quantity") > $1``, ``order_by``, ``values``,
``annotate``. It is no column: nothing is stored, inserted, updated or migrated. On an instance,
``line.total`` is the expression evaluated in memory by the algebra's evaluator, with the SQL's meaning
(NULL is ``None``, PostgreSQL's arithmetic); an expression without an in-memory twin raises ``NotPortable``
there (read it from the database with ``values(Line.total)`` / ``annotate(total=Line.total)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from djogi.algebra.evaluate import compile_expr
from djogi.algebra.expr import Column, Expr
from djogi.algebra.traverse import walk
from djogi.errors import ArgumentTypeError, ModelDefinitionError

__all__ = ["Computed", "computed"]

T = TypeVar("T")


class Computed(Generic[T]):
    """A computed field: ``build()`` (called once, on first use) gives the expression (see the module)."""

    __slots__ = ("_build", "_evaluate", "_expr", "name", "owner")

    def __init__(self, build: Callable[[], Expr[T]]) -> None:
        self._build = build
        self._expr: Expr[T] | None = None
        self._evaluate: Callable[[Any], T] | None = None
        self.name = ""
        self.owner: type[Any] | None = None

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.owner, self.name = owner, name

    @property
    def expr(self) -> Expr[T]:
        """The expression; ``ModelDefinitionError`` naming the field when ``build`` gives none, or one over
        another model's columns."""
        if self._expr is None:
            where = f"{getattr(self.owner, '__name__', '?')}.{self.name}"
            built = self._build()
            if not isinstance(built, Expr):
                raise ModelDefinitionError(f"{where}: computed() builds an expression such as Line.price * 2, "
                                           f"not {built!r}")  # fmt: skip
            strangers = {c.model.__name__ for c in walk(built) if isinstance(c, Column) and c.model is not self.owner}
            if strangers:
                raise ModelDefinitionError(f"{where}: a computed field reads its own model's columns, not "
                                           f"{sorted(strangers)}'s")  # fmt: skip
            self._expr = built
        return self._expr

    def evaluate(self, instance: Any) -> T:
        """The value for ``instance``, computed in memory with the SQL's meaning (``NotPortable`` if none)."""
        if self._evaluate is None:
            self._evaluate = compile_expr(self.expr)
        return self._evaluate(instance)

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Expr[T]: ...
    @overload
    def __get__(self, instance: object, owner: type[Any]) -> T: ...
    def __get__(self, instance: object, owner: type[Any]) -> Expr[T] | T:
        return self.expr if instance is None else self.evaluate(instance)


def computed(build: Callable[[], Expr[T]]) -> Computed[T]:
    """A computed field whose expression ``build()`` returns (a lambda: the model's columns exist only once
    the class does). ``ArgumentTypeError`` for a ``build`` that is not callable."""
    if not callable(build):
        raise ArgumentTypeError(f"computed() takes a function returning an expression, such as "
                                f"lambda: Line.price * Line.quantity, not {build!r}")  # fmt: skip
    return Computed(build)

