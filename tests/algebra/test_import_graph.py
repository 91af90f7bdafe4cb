"""The algebra's modules stand in one order, and every import against it is a documented exception.

``LAYERS`` lists the modules from the bottom up: a module imports only modules listed before it. The
imports (function-local ones included, ``TYPE_CHECKING`` ones not) that go up the list are the import
cycles left, each in ``UPWARD`` with its reason. The check fails on a new upward import (a new cycle) and
on an exception that no longer exists (so the list only shrinks). Apart from the expr/predicate pair,
the exceptions are fluent methods of values (``q.sql()``, ``q.update()``, ``q.union()``,
``q.select_related()``, ``Column.to()``, ``p.matches()``, ``agg.over()``) calling operations defined above
the value's module, and the row-source helpers that read a ``Select``.
"""

from __future__ import annotations

import grimp

LAYERS = (
    "traverse", "depth", "expr", "predicate", "rowtype", "results", "conditional", "aggregate", "window",
    "subquery", "sources", "query", "setops", "cte", "relations", "dml", "nullability", "evaluate", "filters",
    "render", "compile",
)  # fmt: skip

UPWARD = {
    ("expr", "predicate"): "the documented pair: operators on expressions build predicates",
    ("expr", "query"): "x.in_(query) tells a query from a list of values",
    ("expr", "setops"): "x.in_(set operation) likewise",
    ("expr", "subquery"): "x.in_(query) builds in_query(x, query)",
    ("expr", "relations"): "Column.to() / Book.author.email follow a relation",
    ("predicate", "evaluate"): "Pred.matches() / compile_python() / is_portable()",
    ("aggregate", "window"): "Agg.over(); an aggregate refuses a window inside it",
    ("subquery", "query"): "exists(q) drops an ordering that cannot change the answer",
    ("subquery", "sources"): "scalar() / in_query() read the query's output columns",
    ("sources", "query"): "output_columns() reads a Select's projection",
    ("query", "compile"): "Select.sql(), CountOf.sql(), ExistsOf.sql()",
    ("query", "dml"): "Select.update() / delete(); check_model() admits excluded() columns",
    ("query", "nullability"): "values(name=...) types its row Struct",
    ("query", "relations"): "select_related(), prefetch(), relation paths in where() / order_by()",
    ("query", "setops"): "Select.union() and the other set operations",
    ("setops", "compile"): "SetOp.sql()",
    ("dml", "compile"): "Insert/Update/Delete.sql()",
}


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("djogi", exclude_type_checking_imports=True)


def test_every_algebra_module_has_a_layer() -> None:
    modules = {m.rsplit(".", 1)[1] for m in _graph().modules if m.startswith("djogi.algebra.")}
    assert modules == set(LAYERS)


def test_upward_imports_are_the_documented_ones() -> None:
    graph = _graph()
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = set()
    for name in LAYERS:
        for imported in graph.find_modules_directly_imported_by(f"djogi.algebra.{name}"):
            target = imported.rsplit(".", 1)[1] if imported.startswith("djogi.algebra.") else None
            if target is not None and rank[target] > rank[name]:
                upward.add((name, target))
    assert upward - UPWARD.keys() == set(), "new import cycles: import downward, or restructure"
    assert UPWARD.keys() - upward == set(), "an import cycle is gone: remove it from UPWARD"
