"""The pure algebra: expressions, predicates, queries and their SQL rendering (no I/O)."""

# --- algebra-expr: expressions, predicates, rendering, in-memory evaluation, programmatic filters
from djogi.algebra.evaluate import compile_python, is_portable, matches
from djogi.algebra.expr import (
    Column,
    Expr,
    OrderBy,
    abs_,
    cast,
    coalesce,
    column_ref,
    func,
    length,
    lower,
    node_key,
    now,
    nullif,
    same,
    upper,
)
from djogi.algebra.filters import predicate_from_filters
from djogi.algebra.predicate import FALSE, TRUE, Pred, and_, not_, or_, xor
from djogi.algebra.render import RenderContext, render_expr, render_order, render_predicate

__all__ = [
    "FALSE",
    "TRUE",
    "Column",
    "Expr",
    "OrderBy",
    "Pred",
    "RenderContext",
    "abs_",
    "and_",
    "cast",
    "coalesce",
    "column_ref",
    "compile_python",
    "func",
    "is_portable",
    "length",
    "lower",
    "matches",
    "node_key",
    "not_",
    "now",
    "nullif",
    "or_",
    "predicate_from_filters",
    "render_expr",
    "render_order",
    "render_predicate",
    "same",
    "upper",
    "xor",
]

# --- algebra-query: add query/dml/compile re-exports below this line (extend __all__ with +=)
# ``compile`` itself is not re-exported: it would shadow the ``djogi.algebra.compile`` module.
from djogi.algebra.compile import (
    ModelRows,
    NoResult,
    ResultShape,
    RowCount,
    ScalarRow,
    Statement,
    StructRows,
    TupleRows,
)
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
    insert_one,
    update,
    update_one,
)
from djogi.algebra.query import (
    Select,
    after,
    defer,
    distinct,
    distinct_on,
    exclude,
    filter,
    for_key_share,
    for_no_key_update,
    for_share,
    for_update,
    limit,
    none,
    offset,
    only,
    order_by,
    select,
    values,
    where,
)

__all__ += [
    "Delete",
    "Insert",
    "InsertFrom",
    "ModelRows",
    "NoResult",
    "ResultShape",
    "RowCount",
    "ScalarRow",
    "Select",
    "Statement",
    "StructRows",
    "TupleRows",
    "Update",
    "after",
    "defer",
    "delete",
    "delete_one",
    "distinct",
    "distinct_on",
    "exclude",
    "excluded",
    "filter",
    "for_key_share",
    "for_no_key_update",
    "for_share",
    "for_update",
    "get_by_pk",
    "insert",
    "insert_from",
    "insert_one",
    "limit",
    "none",
    "offset",
    "only",
    "order_by",
    "select",
    "update",
    "update_one",
    "values",
    "where",
]

# --- advanced SQL (issue 5): aggregates, windows, CASE, subqueries, CTEs, set operations, joins
from djogi.algebra.aggregate import (  # noqa: E402
    Agg,
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
from djogi.algebra.compile import JoinedRows  # noqa: E402
from djogi.algebra.conditional import Case, case  # noqa: E402
from djogi.algebra.cte import with_, with_recursive  # noqa: E402
from djogi.algebra.query import (  # noqa: E402
    CountOf,
    ExistsOf,
    annotate,
    count_of,
    cube,
    exists_of,
    group_by,
    grouping_sets,
    having,
    join,
    rollup,
    select_from,
)
from djogi.algebra.setops import SetOp, except_, except_all, intersect, intersect_all, union, union_all  # noqa: E402
from djogi.algebra.sources import Source, aliased, derived, lateral  # noqa: E402
from djogi.algebra.subquery import exists, in_query, outer, scalar  # noqa: E402
from djogi.algebra.window import (  # noqa: E402
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

__all__ += [
    "Agg", "Case", "CountOf", "ExistsOf", "JoinedRows", "SetOp", "Source", "aliased", "annotate", "array_agg",
    "avg", "bool_and", "bool_or", "case", "count", "count_of", "cube", "cume_dist", "dense_rank", "derived",
    "except_", "except_all", "exists", "exists_of", "first_value", "following", "group_by", "grouping", "grouping_sets",
    "groups", "having", "in_query", "intersect", "intersect_all", "join", "jsonb_agg", "lag",
    "last_value", "lateral", "lead", "max_", "min_", "nth_value", "ntile", "outer", "over", "percent_rank",
    "preceding", "range_", "rank", "rollup", "row_number", "rows", "scalar", "select_from", "string_agg", "sum_",
    "union", "union_all", "with_", "with_recursive",
]  # fmt: skip

# --- relations (issue 7): relation paths, reverse / many-to-many accessors, eager loading
from djogi.algebra.relations import Prefetch, Related, m2m, prefetch, reverse, select_related  # noqa: E402

__all__ += ["Prefetch", "Related", "m2m", "prefetch", "reverse", "select_related"]
