"""Checks on SQL text a model declares (pure): a type, an expression, a folder-safe label.

djogi splices declared SQL types (``field(sql_type=...)``) and expressions (``check=``, ``db_default=``,
an index's ``where=`` and expression keys) into DDL. Each must be exactly one type or one expression as
PostgreSQL's own parser (pglast) reads it, so a declaration cannot close the statement and add another.
"""

from __future__ import annotations

import re

import pglast
from pglast import ast
from pglast.parser import ParseError
from pglast.visitors import referenced_relations

_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COLUMN_EXTRAS = ("constraints", "collClause", "raw_default", "compression", "storage_name", "fdwoptions")
_TABLE_EXTRAS = ("inhRelations", "partbound", "partspec", "ofTypename", "constraints", "options",
                 "tablespacename", "accessMethod")  # fmt: skip
_SELECT_EXTRAS = ("distinctClause", "intoClause", "fromClause", "whereClause", "groupClause", "havingClause",
                  "windowClause", "valuesLists", "sortClause", "limitOffset", "limitCount", "lockingClause",
                  "withClause", "larg", "rarg")  # fmt: skip


def _one_statement(text: object, template: str, what: str) -> ast.Node | str:
    """The single statement ``template`` makes of ``text`` (pglast), or why ``text`` is not one ``what``."""
    if not isinstance(text, str):
        return f"must be a str, not {type(text).__name__}"
    try:
        parsed = pglast.parse_sql(template.format(text))
    except ParseError as exc:
        return f"does not parse ({exc})"
    return parsed[0].stmt if len(parsed) == 1 and parsed[0].stmt is not None else f"is not one {what}"


def type_problem(sql_type: object) -> str | None:
    """Why ``sql_type`` is not one SQL type name (``TEXT``, ``VARCHAR(20)[]``, ``public.citext``), or None."""
    stmt = _one_statement(sql_type, "CREATE TABLE _t (_c {})", "type name")
    if isinstance(stmt, str):
        return stmt
    if not isinstance(stmt, ast.CreateStmt) or stmt.tableElts is None or len(stmt.tableElts) != 1:
        return "is not one type name"
    column = stmt.tableElts[0]
    if (not isinstance(column, ast.ColumnDef) or any(getattr(column, a, None) for a in _COLUMN_EXTRAS)
            or column.identity != "\x00" or column.generated != "\x00"
            or any(getattr(stmt, a, None) for a in _TABLE_EXTRAS)):  # fmt: skip
        return "is not one type name (it carries more than the type)"
    return None


def expression_problem(expr: object) -> str | None:
    """Why ``expr`` is not one SQL scalar expression, or None."""
    stmt = _one_statement(expr, "SELECT ({})", "SQL expression")
    if isinstance(stmt, str):
        return stmt
    if (not isinstance(stmt, ast.SelectStmt) or len(stmt.targetList or ()) != 1
            or any(getattr(stmt, a, None) for a in _SELECT_EXTRAS)):  # fmt: skip
        return "is not one SQL expression"
    return None


def label_problem(label: object) -> str | None:
    """Why ``label`` (an app label or database name: a folder under ``migrations/``) is unusable, or None."""
    if not isinstance(label, str):
        return f"must be a str, not {type(label).__name__}"
    if not _LABEL.match(label) or len(label.encode()) > 63:
        return "must be 1-63 ASCII letters, digits and underscores, not starting with a digit"
    if label.startswith("_") and label.endswith("_"):
        return "must not start and end with '_' (names like _global_ are djogi's folders)"
    return None


def opclass_problem(opclass: object) -> str | None:
    """Why ``opclass`` is not an operator class name (``text_pattern_ops``, ``public.gin_trgm_ops``), or None."""
    if not isinstance(opclass, str):
        return f"must be a str, not {type(opclass).__name__}"
    parts = opclass.split(".")
    if len(parts) > 2 or not all(_LABEL.match(p) and len(p.encode()) <= 63 for p in parts):
        return "must be an operator class name (ASCII letters, digits, underscores; optionally schema.name)"
    return None


def query_problem(query: object) -> str | None:
    """Why ``query`` is not one SQL query a view can be defined by (a ``SELECT``, ``VALUES`` or set
    operation, optionally with ``WITH``; no ``INTO``, no row locks, no ``$n`` parameters), or None."""
    stmt = _one_statement(query, "{}", "query")
    if isinstance(stmt, str):
        return stmt
    if not isinstance(stmt, ast.SelectStmt):
        return "is not one query (a view is defined by a SELECT)"
    if stmt.intoClause is not None or stmt.lockingClause:
        return "is not a plain query (SELECT INTO and row locks have no place in a view)"
    assert isinstance(query, str)
    if any(token.name == "PARAM" for token in pglast.parser.scan(query)):
        return "has $n parameters (a view cannot have bind parameters: write the values as literals)"
    return None


def query_relations(query: str) -> frozenset[str]:
    """The unqualified names of the tables and views ``query`` reads (CTE names left out; pglast)."""
    return frozenset(name.rsplit(".", 1)[-1].strip('"') for name in referenced_relations(query))
