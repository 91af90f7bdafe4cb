"""Queries as row sources: a query's output columns, and the derived tables built from them.

- ``output_columns(q)``: the names and types of the columns a ``Select``, set operation, CTE body or
  ``RETURNING`` mutation outputs (``ValidationError`` when one has no name, or when the statement returns no
  rows);
- ``derived(query, "d")``: ``(SELECT ...) AS "d"``; ``lateral(query, "d")``: ``LATERAL (SELECT ...) AS "d"``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from djogi.algebra.query import Select
from djogi.algebra.rowtype import check_name, python_type, row_type
from djogi.algebra.sources import Output, Source
from djogi.errors import ValidationError
from djogi.schema import descriptor

__all__ = ["derived", "lateral", "output_columns"]


def output_columns(query: Any, *, named: bool = True) -> Output:
    """The output columns of a query or ``RETURNING`` mutation; ``ValidationError`` when one has no name
    (with ``named=False`` unnamed columns are called ``column1``, ``column2`` ...)."""
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
