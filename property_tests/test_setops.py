"""Property: UNION / INTERSECT / EXCEPT (and their ALL forms, nested) of random predicates over one model
return exactly the set (multiset) operations on the id sets each arm returns."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from djogi import Field, Model, Serial, field
from djogi.algebra import Select, select
from djogi.algebra.compile import compile
from djogi.algebra.predicate import Pred

EXAMPLES = int(os.environ.get("DJOGI_PROPERTY_EXAMPLES", "100"))


class SetRow(Model[Serial], table="prop_set_rows"):
    a: Field[int | None] = field(default=None)
    b: Field[int | None] = field(default=None)


DDL = """CREATE TABLE prop_set_rows (id integer PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(), a bigint, b bigint)"""
OPS = ("UNION", "UNION ALL", "INTERSECT", "INTERSECT ALL", "EXCEPT", "EXCEPT ALL")
METHOD = {"UNION": "union", "UNION ALL": "union_all", "INTERSECT": "intersect", "INTERSECT ALL": "intersect_all",
          "EXCEPT": "except_", "EXCEPT ALL": "except_all"}  # fmt: skip

leaves = st.builds(
    lambda col, op, v: getattr(getattr(SetRow, col), op)(v),
    st.sampled_from(["a", "b"]),
    st.sampled_from(["__eq__", "__ne__", "__lt__", "__ge__"]),
    st.integers(0, 4),
)
predicates = st.recursive(
    leaves,
    lambda kids: st.one_of(
        st.tuples(kids, kids).map(lambda t: t[0] & t[1]),
        st.tuples(kids, kids).map(lambda t: t[0] | t[1]),
        kids.map(lambda p: ~p),
    ),
    max_leaves=4,
)
rows_strategy = st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 4)), st.one_of(st.none(), st.integers(0, 4))),
                         max_size=25)  # fmt: skip


def arm(pred: Pred) -> Select[Any]:
    return select(SetRow).where(pred).values(SetRow.id)


def combine(op: str, left: Counter[int], right: Counter[int]) -> Counter[int]:
    if op == "UNION ALL":
        return left + right
    if op == "INTERSECT ALL":
        return left & right
    if op == "EXCEPT ALL":
        return left - right
    sl, sr = set(left), set(right)
    return Counter(sl | sr if op == "UNION" else sl & sr if op == "INTERSECT" else sl - sr)


def test_set_operations_match_python(pg_sync: psycopg.Connection[Any]) -> None:
    pg_sync.execute(DDL)
    cur = psycopg.RawCursor(pg_sync)

    def ids(query: Any) -> Counter[int]:
        stmt = compile(query)
        return Counter(r[0] for r in cur.execute(stmt.sql, stmt.params).fetchall())

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rows=rows_strategy, preds=st.lists(predicates, min_size=3, max_size=3), ops=st.lists(st.sampled_from(OPS),
           min_size=2, max_size=2))  # fmt: skip
    def run(rows: list[tuple[int | None, int | None]], preds: list[Pred], ops: list[str]) -> None:
        pg_sync.execute("TRUNCATE prop_set_rows")
        with pg_sync.cursor() as c, c.copy("COPY prop_set_rows (id, a, b) FROM STDIN") as copy:
            for n, (a, b) in enumerate(rows, 1):
                copy.write_row((n, a, b))
        x, y, z = (arm(p) for p in preds)
        first = getattr(x, METHOD[ops[0]])(y)
        assert ids(first) == combine(ops[0], ids(x), ids(y))
        nested = getattr(first, METHOD[ops[1]])(z)
        assert ids(nested) == combine(ops[1], combine(ops[0], ids(x), ids(y)), ids(z))

    run()
