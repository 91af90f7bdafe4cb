"""View models: ``view=`` declares that a model's rows come from a view, not a table (pure values).

``class BookSales(Model, table="book_sales", view=sql("SELECT ..."), primary_key="book_id")`` reads the
view ``book_sales``; ``materialized=True`` makes it a materialized view (``with_data=False``: created
``WITH NO DATA``, filled by the first refresh), whose ``indexes=`` migrations create on it. ``view=`` also
takes a query value (``select(...)``), which ``djogi.viewquery`` compiles to SQL before the schema sees it.
A view model has no generated key or timestamps; ``primary_key=`` (optional) names the field(s) that
identify a row, for ``get()``. Every write path asks ``ModelDescriptor.check_writable``: a view model refuses writes.
"""

from __future__ import annotations

from typing import Any

import msgspec

from djogi.errors import ModelDefinitionError
from djogi.identifiers import MAX_IDENTIFIER_BYTES, quote_ident
from djogi.sqltext import query_problem

__all__ = ["ViewDef", "ViewSql", "canonical_query", "refresh_sql", "sql", "view_column_problem", "view_option"]


class ViewSql(msgspec.Struct, frozen=True):
    """A view's defining query as SQL text (``djogi.sql("SELECT ...")``); ``output``: the query value's
    result columns as ``(name, python type, nullable)`` when it was compiled from one (checked against the
    model's fields), else empty."""

    text: str
    output: tuple[tuple[str, Any, bool], ...] = ()


def sql(text: str) -> ViewSql:
    """The view definition ``text``: one SQL query (``SELECT``/``VALUES``/set operation, optionally with
    ``WITH``), without ``$n`` parameters; ``ModelDefinitionError`` otherwise."""
    problem = query_problem(text)
    if problem is not None:
        raise ModelDefinitionError(f"djogi.sql({text!r}): {problem}")
    return ViewSql(canonical_query(text))


def view_column_problem(name: str) -> str | None:
    """Why ``name`` cannot be a view's column, or None: a view's columns are the names its query gives
    (``"zip code"``), always double-quoted, so any name PostgreSQL keeps whole (1-63 bytes, no NUL) is one."""
    if not name or len(name.encode()) > MAX_IDENTIFIER_BYTES or "\x00" in name:
        return f"must be 1-{MAX_IDENTIFIER_BYTES} bytes without NUL"
    return None


def canonical_query(text: str) -> str:
    """A view's query as stored: stripped, without a trailing ``;`` (as ``pg_get_viewdef`` prints it)."""
    return text.strip().removesuffix(";").rstrip()


class ViewDef(msgspec.Struct, frozen=True, kw_only=True):
    """What a view model's relation is: its query (``query``, canonical SQL), whether it is materialized
    and, if so, whether migrations fill it when they create it (``with_data``)."""

    query: str
    materialized: bool = False
    with_data: bool = True


def view_option(model: str, options: dict[str, Any]) -> ViewDef | None:
    """The ``view=`` / ``materialized=`` / ``with_data=`` options checked (None: the model has a table);
    ``ModelDefinitionError`` for a view given as anything but ``djogi.sql(...)`` or a query value, the
    other two without ``view=``, or table-only options on a view model."""
    given = options.get("view")
    if given is None:
        stray = [o for o in ("materialized", "with_data") if o in options]
        if stray:
            raise ModelDefinitionError(f"{model}: {stray[0]}= applies to a view model; add view=...")
        return None
    if not isinstance(given, ViewSql):
        raise ModelDefinitionError(f"{model}: view= takes djogi.sql('SELECT ...') or a query value "
                                   f"(select(...)), not {type(given).__name__}")  # fmt: skip
    for option in ("materialized", "with_data"):
        if not isinstance(options.get(option, True), bool):
            raise ModelDefinitionError(f"{model}: {option} must be True or False, not {options[option]!r}")
    materialized = options.get("materialized", False)
    if "with_data" in options and not materialized:
        raise ModelDefinitionError(f"{model}: with_data= applies to a materialized view; add materialized=True")
    table_only = ["indexes" if not materialized else "", "unique_together", "partition_by", "partitions", "through",
                  "renamed_from", "tenant_key", "outbox", "audit", "checks", "foreign_keys", "soft_delete",
                  "pk", "comment", "timestamps"]  # fmt: skip
    refused = [o for o in table_only if o in options]
    if refused:
        what = "a materialized view" if materialized else "a view"
        raise ModelDefinitionError(f"{model}: {refused[0]}= does not apply to {what} (view=...)")
    return ViewDef(query=given.text, materialized=materialized, with_data=options.get("with_data", True))


def refresh_sql(view: str, *, concurrently: bool = False, with_data: bool = True) -> str:
    """``REFRESH MATERIALIZED VIEW [CONCURRENTLY] "view" [WITH NO DATA]`` (``with_data=False``: emptied,
    unreadable until the next refresh)."""
    how = "CONCURRENTLY " if concurrently else ""
    return f"REFRESH MATERIALIZED VIEW {how}{quote_ident(view)}{'' if with_data else ' WITH NO DATA'}"
