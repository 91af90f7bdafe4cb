"""Row sources beyond a model's own table: aliases, derived tables, LATERAL subqueries, CTE references, joins.

A ``Source`` is a named FROM item. Its columns are ordinary ``Column`` nodes whose ``model`` is a ``Ref``
(``source.title`` for a model-backed source, ``source.col("n")`` for any output column), rendered
``"name"."column"`` wherever they appear, so they stay unambiguous inside subqueries:

- ``aliased(Book, "parent")``: ``"books" AS "parent"`` (self-joins, same-table correlation);
- ``derived(query, "d")``: ``(SELECT ...) AS "d"``; ``lateral(query, "d")``: ``LATERAL (SELECT ...) AS "d"``;
- a CTE's source (``djogi.algebra.cte``): ``"name"``, its ``WITH`` clause emitted by the compiler.

``Join`` is one ``INNER | LEFT | RIGHT | FULL | CROSS JOIN <source> ON <predicate>`` of a ``Select``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from djogi.algebra.expr import Column, ValueType
from djogi.algebra.predicate import TRUE, Pred
from djogi.algebra.rowtype import check_name, python_type, row_type
from djogi.errors import ValidationError
from djogi.schema import descriptor

__all__ = ["Join", "JoinKind", "Ref", "Source", "aliased", "derived", "lateral", "output_columns"]

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


def output_columns(query: Any, *, named: bool = True) -> Output:
    """The output columns of a query or ``RETURNING`` mutation; ``ValidationError`` when one has no name
    (with ``named=False`` unnamed columns are called ``column1``, ``column2`` ...)."""
    from djogi.algebra.query import Select

    if isinstance(query, Select):
        if query.projection is None and (query.annotations or any(j.fetch for j in query.joins)):
            raise ValidationError("a query returning joined or annotated rows cannot be a row source; use values()")
        if query.projection is None:
            if query.source is not None and query.source.model is None:
                return query.source.output  # type: ignore[return-value]
            cols = query.selected if query.selected is not None else descriptor(query.model).columns
            return _model_output(query.model, cols)
        names = tuple(query.into.__struct_fields__) if query.into is not None else None
        if names is None:
            maybe = [getattr(x, "column", None) for x in query.projection]
            if not named:
                maybe = [n or f"column{i + 1}" for i, n in enumerate(maybe)]
            elif any(n is None for n in maybe) or len(set(maybe)) != len(maybe):
                raise ValidationError("name the projected values (values(name=expr, ...)) to use them as a source")
            names = tuple(maybe)  # type: ignore[arg-type]
        return Output(names, tuple(x.type for x in query.projection), row=query.into)
    left = getattr(query, "left", None)
    if left is not None:  # a set operation: its left arm names the columns
        return output_columns(left, named=named)
    returning = getattr(query, "returning", None)
    if returning is not None:
        return _model_output(query.model, returning)
    body = getattr(query, "body", None)
    if body is not None:
        return output_columns(body, named=named)
    raise ValidationError(f"{type(query).__name__} returns no rows (add with_returning())")


def _model_output(model: Any, columns: tuple[str, ...]) -> Output:
    by_column = {fd.column: fd for fd in descriptor(model).fields}
    types = tuple(getattr(model, by_column[c].name).vtype for c in columns)
    return Output(columns, types, model=model)


def _source(query: Any, name: str, lateral_: bool) -> Source:
    out = output_columns(query)
    if out.model is None and out.row is None:
        out = msgspec.structs.replace(
            out, row=row_type([(n, python_type(t, True)) for n, t in zip(out.names, out.types, strict=True)])
        )
    return Source("derived", out.model, check_name(name, "derived table"), query=query, lateral=lateral_, output=out)


def derived(query: Any, name: str) -> Source:
    """``(<query>) AS "name"``: a subquery in FROM / JOIN. Its columns: ``d.col("n")`` (or model fields).

    ``ValidationError`` when a projected value has no name (use ``values(name=expr)``).
    """
    return _source(query, name, False)


def lateral(query: Any, name: str) -> Source:
    """``LATERAL (<query>) AS "name"``: a derived table that may refer to the FROM items before it."""
    return _source(query, name, True)
