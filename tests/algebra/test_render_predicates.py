"""Golden SQL for predicate rendering: negation normal form, null-safe leaf complements, casts, qualification."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from djogi import Field, Model, field
from djogi.algebra.predicate import FALSE, TRUE, Pred
from djogi.algebra.render import RenderContext, render_predicate


class Shelf(Model, table="render_shelves"):
    label: Field[str]
    code: Field[str | None] = field(default=None)
    rows: Field[int] = field(default=0)
    depth: Field[int | None] = field(default=None)
    cost: Field[Decimal | None] = field(default=None)


S = '"render_shelves".'

CASES: list[tuple[str, Pred, str, list[Any]]] = [
    # complements of comparisons: nullable columns get "OR x IS NULL", non-nullable ones do not
    ("not eq nullable", ~(Shelf.depth == 5), f'({S}"depth" <> $1::bigint OR {S}"depth" IS NULL)', [5]),
    ("not eq not null", ~(Shelf.rows == 5), f'{S}"rows" <> $1::bigint', [5]),
    ("not lt", ~(Shelf.depth < 5), f'({S}"depth" >= $1::bigint OR {S}"depth" IS NULL)', [5]),
    ("not le", ~(Shelf.rows <= 5), f'{S}"rows" > $1::bigint', [5]),
    ("not ne", ~(Shelf.depth != 5), f'({S}"depth" = $1::bigint OR {S}"depth" IS NULL)', [5]),
    ("field vs field", ~(Shelf.depth > Shelf.rows), f'({S}"depth" <= {S}"rows" OR {S}"depth" IS NULL)', []),
    ("both nullable", ~(Shelf.depth == Shelf.cost),
     f'({S}"depth" <> {S}"cost" OR {S}"depth" IS NULL OR {S}"cost" IS NULL)', []),
    ("distinct", ~Shelf.depth.is_distinct_from(3), f'{S}"depth" IS NOT DISTINCT FROM $1::bigint', [3]),
    ("eq none", Shelf.code == None, f'{S}"code" IS NULL', []),  # noqa: E711
    ("ne none", Shelf.code != None, f'{S}"code" IS NOT NULL', []),  # noqa: E711
    ("not is null", ~Shelf.code.is_null(), f'{S}"code" IS NOT NULL', []),
    ("not between", ~Shelf.depth.between(1, 2),
     f'({S}"depth" NOT BETWEEN $1::bigint AND $2::bigint OR {S}"depth" IS NULL)', [1, 2]),
    # IN: one array parameter; empty lists fold
    ("in", Shelf.rows.in_([1, 2]), f'{S}"rows" = ANY($1::bigint[])', [[1, 2]]),
    ("not in", Shelf.depth.not_in([1]), f'{S}"depth" <> ALL($1::bigint[])', [[1]]),
    ("negated in", ~Shelf.depth.in_([1]), f'({S}"depth" <> ALL($1::bigint[]) OR {S}"depth" IS NULL)', [[1]]),
    ("negated not in", ~Shelf.depth.not_in([1]), f'({S}"depth" = ANY($1::bigint[]) OR {S}"depth" IS NULL)', [[1]]),
    ("empty in", Shelf.rows.in_([]), "FALSE", []),
    ("empty not in", Shelf.rows.not_in([]), "TRUE", []),
    # LIKE family
    ("startswith", Shelf.label.startswith("a_b"), f'{S}"label" LIKE $1::text', ["a\\_b%"]),
    ("endswith", Shelf.label.endswith("%"), f'{S}"label" LIKE $1::text', ["%\\%"]),
    ("istartswith", Shelf.label.istartswith("Ab"), f'{S}"label" COLLATE "C" ILIKE $1::text', ["Ab%"]),
    ("iendswith collated", Shelf.label.collate("C").iendswith("x"), f'{S}"label" COLLATE "C" ILIKE $1::text',
     ["%x"]),
    ("not icontains", ~Shelf.code.icontains("q"),
     f'({S}"code" COLLATE "C" NOT ILIKE $1::text OR {S}"code" IS NULL)', ["%q%"]),
    ("not contains", ~Shelf.label.contains("q"), f'{S}"label" NOT LIKE $1::text', ["%q%"]),
    ("not regex", ~Shelf.code.regex("^a"), f'({S}"code" !~ $1::text OR {S}"code" IS NULL)', ["^a"]),
    # De Morgan down to the leaves; positive formulas untouched
    ("and", (Shelf.rows > 1) & (Shelf.label == "a"), f'({S}"rows" > $1::bigint AND {S}"label" = $2::text)',
     [1, "a"]),
    ("not and", ~((Shelf.rows > 1) & (Shelf.label == "a")),
     f'({S}"rows" <= $1::bigint OR {S}"label" <> $2::text)', [1, "a"]),
    ("not or", ~((Shelf.rows > 1) | Shelf.code.is_null()), f'({S}"rows" <= $1::bigint AND {S}"code" IS NOT NULL)',
     [1]),
    ("not not", ~~(Shelf.rows > 1), f'{S}"rows" > $1::bigint', [1]),
    ("not xor", ~((Shelf.rows > 1) ^ (Shelf.rows < 5)),
     f'((({S}"rows" > $1::bigint) IS TRUE) = (({S}"rows" < $2::bigint) IS TRUE))', [1, 5]),
    ("true", TRUE, "TRUE", []),
    ("not false", ~FALSE, "TRUE", []),
]  # fmt: skip


@pytest.mark.parametrize(("name", "pred", "sql", "params"), CASES, ids=[c[0] for c in CASES])
def test_golden(name: str, pred: Pred, sql: str, params: list[Any]) -> None:
    ctx = RenderContext()
    assert (render_predicate(pred, ctx), ctx.params) == (sql, params)


def test_numbering_continues_and_aliases() -> None:
    ctx = RenderContext(["earlier"], aliases={Shelf: "s"})
    assert render_predicate(Shelf.rows == 1, ctx) == '"s"."rows" = $2::bigint'
    assert ctx.params == ["earlier", 1]


def test_unqualified_and_outer_join_nullability() -> None:
    assert render_predicate(~(Shelf.rows == 1), RenderContext(qualify=False)) == '"rows" <> $1::bigint'
    outer = RenderContext(nullable_models=frozenset({Shelf}))
    assert render_predicate(~(Shelf.rows == 1), outer) == f'({S}"rows" <> $1::bigint OR {S}"rows" IS NULL)'
