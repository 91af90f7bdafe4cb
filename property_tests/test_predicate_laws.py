"""Boolean-algebra laws as semantic equivalences, over random rows with NULLs, in memory and in PostgreSQL.

For random predicates ``p, q, r`` each law ``lhs ≡ rhs`` must keep the same rows on both sides, in memory
(``compile_python``) and in SQL (``render_predicate``), and SQL must agree with memory. Both the folded
forms the operators build and raw, unfolded nodes (``Not(Not(p))``, ``And((p, TRUE))`` ...) are checked, so
the renderer's handling of every node shape is exercised.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from djogi import Field, Model, Serial, field
from djogi.algebra.predicate import FALSE, TRUE, And, Not, Or, Pred, Xor
from djogi.algebra.render import RenderContext, render_predicate

EXAMPLES = int(os.environ.get("DJOGI_PROPERTY_EXAMPLES", "500"))


class LawRow(Model[Serial], table="prop_law_rows"):
    n: Field[int | None] = field(default=None)
    x: Field[float | None] = field(default=None)
    s: Field[str | None] = field(default=None)
    flag: Field[bool | None] = field(default=None)


DDL = """
CREATE TABLE prop_law_rows (
    id integer PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    n bigint, x double precision, s text, flag boolean
)
"""

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "n": st.none() | st.integers(-2, 2),
            "x": st.none() | st.sampled_from([0.0, 1.0, -1.0, float("nan"), float("inf")]),
            "s": st.none() | st.sampled_from(["", "a", "A", "ab", "é"]),
            "flag": st.none() | st.booleans(),
        }
    ),
    max_size=10,
)


@st.composite
def leaves(draw: st.DrawFn) -> Pred:
    which = draw(st.integers(0, 6))
    if which == 0:
        return draw(st.sampled_from([LawRow.n < 1, LawRow.n == 0, LawRow.n != 1, LawRow.n.in_([0, 2])]))
    if which == 1:
        return draw(st.sampled_from([LawRow.x >= 0.0, LawRow.x == float("nan"), LawRow.x.between(-1, 1)]))
    if which == 2:
        return draw(st.sampled_from([LawRow.s == "a", LawRow.s.icontains("a"), LawRow.s.not_in(["", "é"])]))
    if which == 3:
        return draw(st.sampled_from([LawRow.flag == True, LawRow.flag.is_null(), LawRow.flag != False]))  # noqa: E712
    if which == 4:
        return draw(st.sampled_from([LawRow.n == LawRow.x, LawRow.n < LawRow.x, LawRow.n.is_distinct_from(LawRow.x)]))
    if which == 5:
        return draw(st.sampled_from([TRUE, FALSE]))
    return draw(st.sampled_from([LawRow.s.collate("C") > "a", LawRow.x.is_not_null()]))


predicates = st.recursive(
    leaves(),
    lambda c: st.one_of(
        st.tuples(c, c).map(lambda ab: ab[0] & ab[1]),
        st.tuples(c, c).map(lambda ab: ab[0] | ab[1]),
        st.tuples(c, c).map(lambda ab: ab[0] ^ ab[1]),
        c.map(lambda a: ~a),
    ),
    max_leaves=4,
)


def laws(p: Pred, q: Pred, r: Pred) -> list[tuple[str, Pred, Pred]]:
    """(name, lhs, rhs) for each law instantiated with ``p, q, r``."""
    return [
        ("de morgan and", ~(p & q), ~p | ~q),
        ("de morgan or", ~(p | q), ~p & ~q),
        ("de morgan raw", Not(And((p, q))), Or((Not(p), Not(q)))),
        ("double negation", Not(Not(p)), p),
        ("commutative and", p & q, q & p),
        ("commutative or", p | q, q | p),
        ("commutative xor", p ^ q, q ^ p),
        ("associative and", And((And((p, q)), r)), And((p, And((q, r))))),
        ("associative or", Or((Or((p, q)), r)), Or((p, Or((q, r))))),
        ("distributive and", p & (q | r), (p & q) | (p & r)),
        ("distributive or", p | (q & r), (p | q) & (p | r)),
        ("absorption and", p & (p | q), p),
        ("absorption or", p | (p & q), p),
        ("identity and", And((p, TRUE)), p),
        ("identity or", Or((p, FALSE)), p),
        ("annihilator and", And((p, FALSE)), FALSE),
        ("annihilator or", Or((p, TRUE)), TRUE),
        ("complement or", p | ~p, TRUE),
        ("complement and", p & ~p, FALSE),
        ("complement raw", Or((p, Not(p))), TRUE),
        ("xor", Xor(p, q), (p & ~q) | (~p & q)),
        ("xor negated", Not(Xor(p, q)), (p & q) | (~p & ~q)),
    ]


def load(conn: psycopg.Connection[Any], rows: list[dict[str, Any]]) -> list[LawRow]:
    conn.execute("TRUNCATE prop_law_rows")
    instances = [LawRow(id=i, **values) for i, values in enumerate(rows, 1)]
    with conn.cursor() as cur, cur.copy("COPY prop_law_rows (id, n, x, s, flag) FROM STDIN") as copy:
        for inst in instances:
            copy.write_row([inst.id, inst.n, inst.x, inst.s, inst.flag])
    return instances


def check(conn: psycopg.Connection[Any], rows: list[dict[str, Any]], p: Pred, q: Pred, r: Pred) -> None:
    instances = load(conn, rows)
    cases = laws(p, q, r)
    sides = [side for _, lhs, rhs in cases for side in (lhs, rhs)]
    ctx = RenderContext()
    # every side becomes one boolean column: one round trip per example; ``IS TRUE`` = WHERE semantics
    columns = ", ".join(f"({render_predicate(side, ctx)}) IS TRUE" for side in sides)
    result = psycopg.RawCursor(conn).execute(f"SELECT id, {columns} FROM prop_law_rows ORDER BY id", ctx.params)
    sql = {row[0]: row[1:] for row in result.fetchall()}
    compiled = [side.compile_python() for side in sides]
    for inst in instances:
        memory = [keep(inst) for keep in compiled]
        assert list(sql[inst.id]) == memory, (
            inst,
            [s for s, a, b in zip(sides, sql[inst.id], memory, strict=True) if a != b],
        )
        for k, (name, _, _) in enumerate(cases):
            assert memory[2 * k] == memory[2 * k + 1], (name, inst)


def test_boolean_laws(pg_sync: psycopg.Connection[Any]) -> None:
    pg_sync.execute(DDL)

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rows=rows_strategy, p=predicates, q=predicates, r=predicates)
    def run(rows: list[dict[str, Any]], p: Pred, q: Pred, r: Pred) -> None:
        check(pg_sync, rows, p, q, r)

    run()
