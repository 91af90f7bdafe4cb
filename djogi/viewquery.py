"""A view defined by a query value: ``view=select(...)`` compiled to the SQL of ``CREATE VIEW`` (pure).

The query compiles with the one compiler (``djogi.algebra.compile``); a view has no bind parameters, so
each ``$n`` becomes the SQL literal of its value (psycopg's quoting: ``'it''s'``, ``'2024-01-01'::date``),
found by PostgreSQL's own scanner (pglast), never by text search. The result columns and their types come
from the compiled result shape, so the model's fields are checked against them when it is declared.
"""

from __future__ import annotations

from typing import Any, get_args

import msgspec
import pglast
import psycopg
from psycopg import sql

from djogi.algebra.compile import compile
from djogi.algebra.query import Select
from djogi.algebra.results import ModelRows, StructRows
from djogi.algebra.setops import SetOp
from djogi.errors import DjogiError, ModelDefinitionError
from djogi.schema import descriptor
from djogi.schema.views import ViewSql, canonical_query

__all__ = ["view_sql"]


def view_sql(model: str, query: object) -> object:
    """``query`` as ``ViewSql`` when it is a query value (``Select``/``SetOp``), else ``query`` unchanged.
    ``ModelDefinitionError`` naming ``model`` when it does not compile, a parameter has no SQL literal,
    or its rows are not named columns (a ``values(...)`` query returning tuples)."""
    if not isinstance(query, Select | SetOp):
        return query
    try:
        stmt = compile(query)
    except DjogiError as exc:
        raise ModelDefinitionError(f"{model}: view= query does not compile: {exc}") from None
    text = stmt.sql
    for token in reversed(pglast.parser.scan(text)):
        if token.name == "PARAM":
            value = stmt.params[int(text[token.start + 1 : token.end + 1]) - 1]
            text = text[: token.start] + _literal(model, value) + text[token.end + 1 :]
    return ViewSql(canonical_query(text), _output(model, stmt.result))


def _literal(model: str, value: object) -> str:
    try:
        return sql.Literal(value).as_string(None)
    except (psycopg.Error, TypeError, ValueError) as exc:
        raise ModelDefinitionError(
            f"{model}: view= query has the parameter {value!r}, which has no SQL literal a view can hold ({exc}); "
            "write the view with djogi.sql('SELECT ...')"
        ) from None


def _output(model: str, shape: object) -> tuple[tuple[str, Any, bool], ...]:
    """The query's result columns as ``(name, python type, nullable)``."""
    if isinstance(shape, ModelRows):
        desc = descriptor(shape.model)
        by_column = {fd.column: fd for fd in desc.fields}
        return tuple((c, by_column[c].python_type, by_column[c].nullable) for c in shape.columns)
    if isinstance(shape, StructRows):
        out = []
        for info in msgspec.structs.fields(shape.struct_type):
            args = get_args(info.type)
            nullable = type(None) in args
            base = next((a for a in args if a is not type(None)), info.type) if nullable else info.type
            out.append((info.name, base, nullable))
        return tuple(out)
    raise ModelDefinitionError(f"{model}: view= query must return named columns (a model, or .values(name=...)), "
                               "so that each field of the view model matches one")  # fmt: skip
