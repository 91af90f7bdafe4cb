"""Golden fixtures keyed by node class: every expression / predicate node type renders to known SQL + params.

``test_every_node_class_has_a_fixture`` reflects over the algebra modules and fails when a node class
(a subclass of ``Expr``, ``Pred`` or ``OrderBy``) has no entry in ``FIXTURES``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

import djogi
from djogi import Model
from djogi.algebra import aggregate as agg
from djogi.algebra import conditional as cs
from djogi.algebra import expr as e
from djogi.algebra import predicate as p
from djogi.algebra import subquery as sq
from djogi.algebra import window as w
from djogi.algebra.query import select
from djogi.algebra.render import RenderContext, render_expr, render_order, render_predicate


class Shade(djogi.Enum):
    DARK = "dark"
    LIGHT = "light"


class Gadget(Model, table="fixture_gadgets"):
    name: str
    price: Decimal = Decimal(0)
    weight: float | None = None
    shade: Shade = Shade.DARK
    tags: list[str] = []
    spec: djogi.Jsonb[dict[str, Any]] | None = None
    made: dt.datetime | None = None


Node = e.Expr[Any] | p.Pred | e.OrderBy
G = '"fixture_gadgets".'

FIXTURES: dict[type, list[tuple[Callable[[], Node], str, list[object]]]] = {
    e.Column: [(lambda: Gadget.name, f'{G}"name"', [])],
    e.Param: [(lambda: e.Param(Decimal("1.5"), e.ValueType("decimal", "numeric")), "$1::numeric", [Decimal("1.5")])],
    e.Const: [(lambda: e.Const(None), "NULL", []), (lambda: e.Const(True), "TRUE", [])],
    e.BinOp: [
        (lambda: Gadget.price * 2, f'({G}"price" * $1::numeric)', [Decimal(2)]),
        (lambda: Gadget.name.concat("!"), f'({G}"name" || $1::text)', ["!"]),
    ],
    e.Func: [
        (lambda: e.coalesce(Gadget.weight, 0), f'coalesce({G}"weight", $1::double precision)', [0.0]),
        (lambda: e.lower(Gadget.name), f'lower({G}"name")', []),
        (lambda: e.now(), "now()", []),
    ],
    e.Cast: [(lambda: e.cast(Gadget.price, "numeric(10, 2)"), f'CAST({G}"price" AS numeric(10, 2))', [])],
    e.Collate: [(lambda: Gadget.name.collate("C"), f'{G}"name" COLLATE "C"', [])],
    e.JsonPath: [(lambda: Gadget.spec.path("a.b"), f'({G}"spec" #> $1::text[])', [["a", "b"]])],
    e.OrderBy: [
        (lambda: Gadget.price.desc(), f'{G}"price" DESC', []),
        (lambda: Gadget.weight.asc().nulls_first(), f'{G}"weight" ASC NULLS FIRST', []),
    ],
    p.Truth: [(lambda: p.TRUE, "TRUE", []), (lambda: p.FALSE, "FALSE", [])],
    p.And: [
        (lambda: (Gadget.price < 3) & (Gadget.shade == Shade.DARK),
         f'({G}"price" < $1::numeric AND {G}"shade" = $2::"shade")', [Decimal(3), Shade.DARK]),
    ],
    p.Or: [
        (lambda: (Gadget.price < 3) | Gadget.weight.is_null(),
         f'({G}"price" < $1::numeric OR {G}"weight" IS NULL)', [Decimal(3)]),
    ],
    p.Not: [(lambda: ~(Gadget.weight > 1.0), f'({G}"weight" <= $1::double precision OR {G}"weight" IS NULL)', [1.0])],
    p.Xor: [
        (lambda: (Gadget.price > 1) ^ Gadget.weight.is_null(),
         f'((({G}"price" > $1::numeric) IS TRUE) <> (({G}"weight" IS NULL) IS TRUE))', [Decimal(1)]),
    ],
    p.Compare: [
        (lambda: Gadget.name == "x", f'{G}"name" = $1::text', ["x"]),
        (lambda: Gadget.weight.is_distinct_from(None), f'{G}"weight" IS DISTINCT FROM NULL', []),
    ],
    p.IsNull: [(lambda: Gadget.made == None, f'{G}"made" IS NULL', [])],  # noqa: E711
    p.Between: [(lambda: Gadget.price.between(1, 2), f'{G}"price" BETWEEN $1::numeric AND $2::numeric',
                 [Decimal(1), Decimal(2)])],
    p.In: [
        (lambda: Gadget.shade.in_(["dark"]), f'{G}"shade" = ANY($1::"shade"[])', [[Shade.DARK]]),
        (lambda: Gadget.price.not_in([1]), f'{G}"price" <> ALL($1::numeric[])', [[Decimal(1)]]),
    ],
    p.Like: [
        (lambda: Gadget.name.contains("5%_\\"), f'{G}"name" LIKE $1::text', ["%5\\%\\_\\\\%"]),
        (lambda: Gadget.name.iexact("Ab"), f'{G}"name" COLLATE "C" ILIKE $1::text', ["Ab"]),
    ],
    p.Regex: [(lambda: Gadget.name.iregex("^a+"), f'{G}"name" ~* $1::text', ["^a+"])],
    p.ArrayOp: [
        (lambda: Gadget.tags.contains(["a"]), f'{G}"tags" @> $1::text[]', [["a"]]),
        (lambda: Gadget.tags.overlap(["a", "b"]), f'{G}"tags" && $1::text[]', [["a", "b"]]),
    ],
    # advanced SQL (issue 5)
    agg.Agg: [
        (lambda: agg.count(), "count(*)", []),
        (lambda: agg.sum_(Gadget.price, distinct=True).filter(Gadget.weight > 1.0),
         f'sum(DISTINCT {G}"price") FILTER (WHERE {G}"weight" > $1::double precision)', [1.0]),
        (lambda: agg.string_agg(Gadget.name, ", ").order_by(Gadget.name.desc()),
         f'string_agg({G}"name", $1::text ORDER BY {G}"name" DESC)', [", "]),
    ],
    w.WindowFunc: [(lambda: w.lag(Gadget.price, 2), f'lag({G}"price", $1::integer)', [2])],
    w.Over: [
        (lambda: w.row_number().over(partition_by=Gadget.shade, order_by=Gadget.price.desc()),
         f'row_number() OVER (PARTITION BY {G}"shade" ORDER BY {G}"price" DESC)', []),
        (lambda: agg.avg(Gadget.weight).over(order_by=Gadget.made, frame=w.rows(-3, w.following(None), exclude="TIES")),
         f'avg({G}"weight") OVER (ORDER BY {G}"made" ASC ROWS BETWEEN $1::bigint PRECEDING AND UNBOUNDED FOLLOWING '
         "EXCLUDE TIES)", [3]),
    ],
    cs.Case: [
        (lambda: cs.case(Gadget.price > 5, "dear").otherwise("cheap"),
         f'CASE WHEN {G}"price" > $1::numeric THEN $2::text ELSE $3::text END', [Decimal(5), "dear", "cheap"]),
    ],
    sq.Subquery: [
        (lambda: sq.scalar(select(Gadget).values(agg.max_(Gadget.price))),
         f'(SELECT max({G}"price") FROM "fixture_gadgets")', []),
    ],
    sq.Exists: [
        (lambda: sq.exists(select(Gadget).where(Gadget.name == "x")),
         f'EXISTS (SELECT 1 FROM "fixture_gadgets" WHERE {G}"name" = $1::text)', ["x"]),
    ],
    sq.InQuery: [
        (lambda: sq.in_query(Gadget.price, select(Gadget).values(Gadget.price)),
         f'{G}"price" IN (SELECT {G}"price" FROM "fixture_gadgets")', []),
    ],
    sq.OuterRef: [(lambda: sq.outer(Gadget.name), f'{G}"name"', [])],
}  # fmt: skip


def render(node: Node) -> tuple[str, list[object]]:
    ctx = RenderContext()
    if isinstance(node, p.Pred):
        sql = render_predicate(node, ctx)
    elif isinstance(node, e.OrderBy):
        sql = render_order(node, ctx)
    else:
        sql = render_expr(node, ctx)
    return sql, ctx.params


CASES = [(cls.__name__, build, sql, params) for cls, cases in FIXTURES.items() for build, sql, params in cases]


@pytest.mark.parametrize(("cls", "build", "sql", "params"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_fixture_renders(cls: str, build: Callable[[], Node], sql: str, params: list[object]) -> None:
    node = build()
    assert type(node).__name__ == cls
    assert render(node) == (sql, params)


NODE_MODULES = (
    "expr", "predicate", "query", "dml", "compile", "aggregate", "window", "conditional", "subquery", "setops",
    "cte", "sources", "rowtype",
)  # fmt: skip


def node_classes() -> set[type]:
    found: set[type] = set()
    for name in NODE_MODULES:
        try:
            module = importlib.import_module(f"djogi.algebra.{name}")
        except ImportError:
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, e.Expr | p.Pred | e.OrderBy):
                found.add(cls)
    return found - {e.Expr, p.Pred}


def test_every_node_class_has_a_fixture() -> None:
    missing = sorted(cls.__qualname__ for cls in node_classes() - FIXTURES.keys())
    assert not missing, f"node classes without a golden fixture in FIXTURES: {missing}"
