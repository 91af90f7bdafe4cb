"""Row sources beyond a model's own table: aliases, derived tables, LATERAL subqueries, CTE references, joins.

A ``Source`` is a named FROM item. Its columns are ordinary ``Column`` nodes whose ``model`` is a ``Ref``
(``source.title`` for a model-backed source, ``source.col("n")`` for any output column), rendered
``"name"."column"`` wherever they appear, so they stay unambiguous inside subqueries:

- ``aliased(Book, "parent")``: ``"books" AS "parent"`` (self-joins, same-table correlation);
- ``derived(query, "d")``: ``(SELECT ...) AS "d"``; ``lateral(query, "d")``: ``LATERAL (SELECT ...) AS "d"``
  (built in ``djogi.algebra.outputs``, which reads the query's output columns);
- a CTE's source (``djogi.algebra.cte``): ``"name"``, its ``WITH`` clause emitted by the compiler.

``Join`` is one ``INNER | LEFT | RIGHT | FULL | CROSS JOIN <source> ON <predicate>`` of a ``Select``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from djogi.algebra.expr import Column, ValueType
from djogi.algebra.predicate import TRUE, Pred
from djogi.algebra.rowtype import check_name
from djogi.errors import ValidationError
from djogi.schema import descriptor

__all__ = ["Join", "JoinKind", "Output", "Ref", "Source", "aliased"]

JoinKind = Literal["INNER", "LEFT", "RIGHT", "FULL", "CROSS"]


class Ref(msgspec.Struct, frozen=True, gc=False):
    """What the columns of a named source belong to: rendered ``"name"."column"``."""

    model: Any
    name: str

    @property
    def __name__(self) -> str:  # how Column.describe() names it
        return self.name


class Output(msgspec.Struct, frozen=True, gc=False):
    """The columns a query outputs: names, types, and the model (or Struct) its rows decode into."""

    names: tuple[str, ...]
    types: tuple[ValueType, ...]
    model: Any = None
    row: Any = None


class Source(msgspec.Struct, frozen=True, gc=False):
    """A FROM item: a model's table (``name``: alias), a CTE (``cte``: its definition) or a derived table
    (``query``, optionally ``lateral``). ``model`` is the model its rows are (``None``: rows of ``output``)."""

    __scopes__ = ("query", "cte")

    kind: Literal["table", "cte", "derived"]
    model: Any
    name: str | None
    query: Any = None
    cte: Any = None
    lateral: bool = False
    output: Output | None = None

    @property
    def ref(self) -> Any:
        """What this source's columns belong to: the model class itself for an unaliased table."""
        return self.model if self.name is None else Ref(self.model, self.name)

    def __getattr__(self, attr: str) -> Column[Any, Any]:
        if attr.startswith("_"):
            raise AttributeError(attr)
        if self.model is None:
            return self.col(attr)
        col = getattr(self.model, attr)
        if not isinstance(col, Column):
            raise AttributeError(attr)
        return msgspec.structs.replace(col, model=self.ref)

    def col(self, name: str) -> Column[Any, Any]:
        """The output column ``name`` of this source; ``ValidationError`` if there is none."""
        for extra, vtype in getattr(self.cte, "extra_columns", ()):  # a recursive CTE's SEARCH / CYCLE columns
            if extra == name:
                return Column(self.ref, name, name, vtype, False)
        if self.output is not None and name in self.output.names:
            vtype = self.output.types[self.output.names.index(name)]
            return Column(self.ref, name, name, vtype, True)
        if self.model is not None:
            fd = next((f for f in descriptor(self.model).fields if f.column == name or f.name == name), None)
            if fd is not None:
                return msgspec.structs.replace(getattr(self.model, fd.name), model=self.ref)
        raise ValidationError(f"{self.name or self.model.__name__} has no column {name!r}")


class Join(msgspec.Struct, frozen=True, gc=False):
    """``<kind> JOIN <source> ON <on>`` (``CROSS JOIN`` has no ON); ``fetch``: its columns are selected
    (the rows become tuples) when the query has no ``values()`` projection."""

    __children__ = ("source", "on")

    kind: JoinKind
    source: Source
    on: Pred = TRUE
    fetch: bool = True


def aliased(model: type[Any], name: str) -> Source:
    """``"table" AS "name"``: a second, independently named occurrence of ``model``'s table."""
    descriptor(model)
    return Source("table", model, check_name(name, "alias"))
