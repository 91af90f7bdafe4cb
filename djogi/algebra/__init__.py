"""The pure algebra: expressions, predicates, queries and mutations as values, compiled to SQL (no I/O).

``__all__`` is the public API users write queries with (documented in docs/queries.md,
docs/advanced-queries.md, docs/mutations.md and docs/relations.md). Internals (node classes, the renderer
and its contexts, result shapes, the traversal) stay importable from their modules, e.g.
``djogi.algebra.render``, ``djogi.algebra.compile``, ``djogi.algebra.traverse``. ``compile`` itself is not
re-exported: it would shadow the ``djogi.algebra.compile`` module; call ``value.sql()``.
"""

from djogi.algebra.aggregate import (
    array_agg,
    avg,
    bool_and,
    bool_or,
    count,
    grouping,
    jsonb_agg,
    max_,
    min_,
    string_agg,
    sum_,
)
from djogi.algebra.conditional import case
from djogi.algebra.cte import with_, with_recursive
from djogi.algebra.dml import (
    Delete,
    Insert,
    InsertFrom,
    Update,
    delete,
    delete_one,
    excluded,
    get_by_pk,
    insert,
    insert_from,
    insert_many,
    insert_one,
    update,
    update_many,
    update_one,
)
from djogi.algebra.evaluate import compile_python, is_portable, matches
from djogi.algebra.expr import (
    Column,
    Expr,
    OrderBy,
    abs_,
    cast,
    coalesce,
    func,
    length,
    lower,
    now,
    nullif,
    param,
    upper,
)
from djogi.algebra.filters import predicate_from_filters
from djogi.algebra.outputs import derived, lateral
from djogi.algebra.predicate import FALSE, TRUE, Pred, and_, not_, or_, xor
from djogi.algebra.query import (
    Select,
    after,
    annotate,
    count_of,
    cube,
    defer,
    distinct,
    distinct_on,
    exclude,
    exists_of,
    filter,
    for_key_share,
    for_no_key_update,
    for_share,
    for_update,
    group_by,
    grouping_sets,
    having,
    join,
    limit,
    none,
    offset,
    only,
    order_by,
    rollup,
    select,
    select_from,
    values,
    where,
)
from djogi.algebra.relations import Prefetch, Related, m2m, prefetch, reverse, select_related
from djogi.algebra.results import Statement
from djogi.algebra.setops import SetOp, except_, except_all, intersect, intersect_all, union, union_all
from djogi.algebra.sources import Source, aliased
from djogi.algebra.subquery import exists, in_query, outer, scalar
from djogi.algebra.template import Template, template
from djogi.algebra.traverse import node_key, same
from djogi.algebra.window import (
    cume_dist,
    dense_rank,
    first_value,
    following,
    groups,
    lag,
    last_value,
    lead,
    nth_value,
    ntile,
    over,
    percent_rank,
    preceding,
    range_,
    rank,
    row_number,
    rows,
)

__all__ = [  # noqa: RUF022  (grouped by topic)
    # expressions and predicates
    "FALSE", "TRUE", "Column", "Expr", "OrderBy", "Pred", "abs_", "and_", "cast", "coalesce", "func", "length",
    "lower", "node_key", "not_", "now", "nullif", "or_", "same", "upper", "xor",
    # in-memory evaluation, programmatic filters
    "compile_python", "is_portable", "matches", "predicate_from_filters",
    # queries and their step forms
    "Select", "Statement", "after", "annotate", "count_of", "cube", "defer", "distinct", "distinct_on", "exclude",
    "exists_of", "filter", "for_key_share", "for_no_key_update", "for_share", "for_update", "group_by",
    "grouping_sets", "having", "join", "limit", "none", "offset", "only", "order_by", "rollup", "select",
    "select_from", "values", "where",
    # compiled once, run with new values of named parameters
    "Template", "param", "template",
    # mutations
    "Delete", "Insert", "InsertFrom", "Update", "delete", "delete_one", "excluded", "get_by_pk", "insert",
    "insert_from", "insert_many", "insert_one", "update", "update_many", "update_one",
    # aggregates, windows, CASE, subqueries, CTEs, set operations, sources
    "array_agg", "avg", "bool_and", "bool_or", "count", "grouping", "jsonb_agg", "max_", "min_", "string_agg", "sum_",
    "cume_dist", "dense_rank", "first_value", "following", "groups", "lag", "last_value", "lead", "nth_value",
    "ntile", "over", "percent_rank", "preceding", "range_", "rank", "row_number", "rows",
    "case", "exists", "in_query", "outer", "scalar", "with_", "with_recursive",
    "SetOp", "except_", "except_all", "intersect", "intersect_all", "union", "union_all",
    "Source", "aliased", "derived", "lateral",
    # relations
    "Prefetch", "Related", "m2m", "prefetch", "reverse", "select_related",
]  # fmt: skip
