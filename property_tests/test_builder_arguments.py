"""Public algebra builders given random junk arguments (numbers, text, None, bytes, containers, classes,
plain objects, and algebra values in the wrong place) build a value or raise a djogi error, never a bare
``TypeError`` / ``AttributeError`` / ``KeyError`` / ``ValueError``. A built query is compiled too."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from djogi import Field, Model, field
from djogi.algebra import (
    Expr,
    Pred,
    Select,
    abs_,
    and_,
    cast,
    coalesce,
    compile_python,
    func,
    length,
    lower,
    matches,
    not_,
    nullif,
    or_,
    predicate_from_filters,
    search,
    select,
    xor,
)
from djogi.algebra.aggregate import array_agg, count, max_, string_agg, sum_
from djogi.algebra.compile import compile
from djogi.algebra.dml import delete, insert, insert_from, insert_many, merge, update, update_many
from djogi.algebra.outputs import derived
from djogi.algebra.render import RenderContext, render_predicate
from djogi.algebra.sources import aliased
from djogi.algebra.subquery import exists, in_query, scalar
from djogi.algebra.window import row_number, rows
from djogi.errors import DjogiError

EXAMPLES = int(os.environ.get("DJOGI_PROPERTY_EXAMPLES", "300"))


class JkItem(Model, table="jk_items"):
    name: Field[str]
    qty: Field[int] = field(default=0)
    price: Field[Decimal] = field(default=Decimal(0))


Q = JkItem.objects
_SRC = derived(Q.values(JkItem.name), "src")


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.decimals(), st.text(max_size=4), st.binary(max_size=2),
    st.sampled_from([object(), object, int, str, JkItem, JkItem.qty, JkItem.name, JkItem.qty > 1, Q,
                     Q.values(JkItem.qty), JkItem.qty.asc(), count(), row_number(), rows(), "numeric", "qty", "x y",
                     "", "C"]),
)  # fmt: skip
junk = st.one_of(
    scalars,
    st.lists(scalars, max_size=2),
    st.tuples(scalars),
    st.dictionaries(st.text(max_size=2), scalars, max_size=1),
)

Builder = Callable[[Any, Any], object]
BUILDERS: dict[str, Builder] = {
    "compile": lambda a, b: compile(a),
    "select": lambda a, b: select(a),
    "aliased": lambda a, b: aliased(a, b),
    "where": lambda a, b: Q.where(a, b),
    "filter": lambda a, b: Q.filter(a),
    "exclude": lambda a, b: Q.exclude(a),
    "having": lambda a, b: Q.values(JkItem.qty).group_by(JkItem.qty).having(a),
    "and_": lambda a, b: and_(a, b),
    "or_": lambda a, b: or_(a, b),
    "not_": lambda a, b: not_(a),
    "xor": lambda a, b: xor(a, b),
    "order_by": lambda a, b: Q.order_by(a, b),
    "values": lambda a, b: Q.values(a, v=b),
    "group_by": lambda a, b: Q.values(JkItem.qty).group_by(a),
    "annotate": lambda a, b: Q.annotate(v=a),
    "distinct_on": lambda a, b: Q.order_by(JkItem.qty).distinct_on(a),
    "only": lambda a, b: Q.only(a),
    "defer": lambda a, b: Q.defer(a),
    "limit": lambda a, b: Q.limit(a).offset(b),
    "join": lambda a, b: Q.join(a, b),
    "join aliased": lambda a, b: Q.join(aliased(JkItem, "other"), a),
    "for_update": lambda a, b: Q.for_update(of=a),
    "union": lambda a, b: Q.values(JkItem.qty).union(a),
    "cast": lambda a, b: cast(a, b),
    "func": lambda a, b: func(a, b, returns="int"),
    "func returns": lambda a, b: func("f", a, returns=b),
    "collate": lambda a, b: JkItem.name.collate(a),
    "lower": lambda a, b: lower(a),
    "length": lambda a, b: length(a),
    "abs_": lambda a, b: abs_(a),
    "coalesce": lambda a, b: coalesce(a, b),
    "nullif": lambda a, b: nullif(a, b),
    "compare": lambda a, b: JkItem.qty == a,
    "arith": lambda a, b: JkItem.qty + a,
    "in_": lambda a, b: JkItem.qty.in_(a),
    "between": lambda a, b: JkItem.price.between(a, b),
    "contains": lambda a, b: JkItem.name.contains(a),
    "count": lambda a, b: count(a),
    "sum_": lambda a, b: sum_(a),
    "max_": lambda a, b: max_(a),
    "array_agg": lambda a, b: array_agg(a),
    "string_agg": lambda a, b: string_agg(a, b),
    "over": lambda a, b: row_number().over(partition_by=a, order_by=b),
    "frame": lambda a, b: count().over(order_by=JkItem.qty, frame=rows(a, b)),
    "exists": lambda a, b: exists(a),
    "scalar": lambda a, b: scalar(a),
    "in_query": lambda a, b: in_query(a, b),
    "matches": lambda a, b: matches(a, JkItem(name="a")),
    "compile_python": lambda a, b: compile_python(a),
    "render_predicate": lambda a, b: render_predicate(a, RenderContext()),
    "predicate_from_filters": lambda a, b: predicate_from_filters(JkItem, a),
    "insert": lambda a, b: insert(JkItem, a),
    "insert model": lambda a, b: insert(a, [JkItem(name="a")]),
    "insert_from": lambda a, b: insert_from(JkItem, a, b),
    "insert_many": lambda a, b: insert_many(JkItem, a),
    "insert_many rows": lambda a, b: insert_many(JkItem, [JkItem(name="a"), JkItem(name=a)]),
    "update_many": lambda a, b: update_many(JkItem, a, b),
    "update_many fields": lambda a, b: update_many(JkItem, [JkItem(id=1, name="a")], a),
    "update": lambda a, b: update(a, qty=b),
    "delete": lambda a, b: delete(a),
    "merge": lambda a, b: merge(JkItem, a, b),
    "merge update": lambda a, b: merge(JkItem, _SRC, JkItem.name == _SRC.col("name")).when_matched_update(a, b),
    "merge insert": lambda a, b: merge(JkItem, _SRC, JkItem.name == _SRC.col("name")).when_not_matched_insert(a, b),
    "to_tsvector": lambda a, b: search.to_tsvector(a, b),
    "websearch_to_tsquery": lambda a, b: search.websearch_to_tsquery(a, b),
    "ts_match": lambda a, b: search.ts_match(a, b),
    "ts_rank": lambda a, b: search.ts_rank(a, search.plainto_tsquery("simple", "x"), b),
    "ts_headline": lambda a, b: search.ts_headline("simple", a, search.plainto_tsquery("simple", "x"), b),
    "similarity": lambda a, b: search.similarity(a, b),
    "trigram_match": lambda a, b: search.trigram_match(a, b),
    "trigram_distance": lambda a, b: search.trigram_distance(a, b),
    "l2_distance": lambda a, b: search.l2_distance(a, b),
    "cosine_distance": lambda a, b: search.cosine_distance(a, b),
}


def _compiled(value: object) -> None:
    """Compile what was built, as a query, a filter or a projection."""
    if isinstance(value, Select) or type(value).__module__ == "djogi.algebra.dml":
        compile(value)
    elif isinstance(value, Pred):
        compile(Q.where(value))
    elif isinstance(value, Expr):
        compile(Q.values(value))


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(st.sampled_from(sorted(BUILDERS)), junk, junk)
@example("compile", 42, None)
@example("where", 5.9, JkItem.qty > 1)
@example("select", object, None)
@example("cast", JkItem.qty, 5)
@example("for_update", JkItem, None)
@example("aliased", JkItem, 5)
@example("matches", 5, None)
@example("select", [], None)
def test_builders_raise_only_djogi_errors(name: str, a: Any, b: Any) -> None:
    with contextlib.suppress(DjogiError):
        _compiled(BUILDERS[name](a, b))
