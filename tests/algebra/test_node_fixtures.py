"""Golden fixtures keyed by node class: every node type renders to known SQL + params.

The node classes are those that declare their children (``djogi.algebra.traverse.node_classes``), so a
new node type is found without a hand list. ``test_every_node_class_has_a_fixture`` fails when one has no
entry in ``FIXTURES``; the coverage tests fail when one lacks a compiler case (``renderer.EXPRESSIONS`` /
``PREDICATES`` / ``STATEMENTS``, or, for the parts of a node, a fixture exercising its parent), an
evaluator case (``evaluate.EXPRESSIONS`` / ``PREDICATES``, where a refusal with ``NotPortable`` is an
explicit entry) or nullability rules (``nullability.MAY_BE_NULL`` / ``ROW_NULLABLE``).

A fixture builds a value containing a node of its class: an expression, predicate or ordering is rendered
on its own, a statement compiled; ``ValidationError`` in place of SQL pins a refusal to render.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

import pytest

import djogi
from djogi import ForeignKey, Model, field
from djogi.algebra import aggregate as agg
from djogi.algebra import conditional as cs
from djogi.algebra import dml, evaluate, nullability, relations, traverse
from djogi.algebra import expr as e
from djogi.algebra import predicate as p
from djogi.algebra import render as renderer
from djogi.algebra import subquery as sq
from djogi.algebra import window as w
from djogi.algebra.compile import compile
from djogi.algebra.cte import Cte, with_
from djogi.algebra.query import CountOf, ExistsOf, Grouping, Keyset, Select, count_of, exists_of, select
from djogi.algebra.render import RenderContext, render_expr, render_order, render_predicate
from djogi.algebra.setops import SetOp
from djogi.algebra.sources import Join, Source, aliased
from djogi.errors import NotPortable, ValidationError


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


class Maker(Model, table="fixture_makers"):
    label: str


class Part(Model, table="fixture_parts"):
    maker: Annotated[ForeignKey[Maker], field(related_name="parts")]


Node = Any
G = '"fixture_gadgets".'
P = '"fixture_parts"'
M = '"fixture_makers"'
GADGET_COLS = ", ".join(
    f'{G}"{c}"' for c in ("id", "created_at", "updated_at", "name", "price", "weight", "shade", "tags", "spec", "made")
)

FIXTURES: dict[type, list[tuple[Callable[[], Node], str | type[Exception], list[object]]]] = {
    e.Column: [(lambda: Gadget.name, f'{G}"name"', [])],
    e.Param: [(lambda: e.Param(Decimal("1.5"), e.ValueType("decimal", "numeric")), "$1::numeric", [Decimal("1.5")])],
    e.Named: [
        (lambda: e.param("n", "bigint"), "$1::bigint", [e.Slot("n", e.value_type("bigint"))]),
        (lambda: Gadget.name == e.param("name"), f'{G}"name" = $1::text', [e.Slot("name", Gadget.name.type)]),
    ],
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
    # relations (issue 7)
    relations.PathColumn: [(lambda: Part.maker.to(Maker.label), ValidationError, [])],
    relations.RelatedCount: [
        (lambda: relations.reverse(Part.maker).count(),
         f'(SELECT count(*) FROM {P} WHERE {P}."maker_id" = {M}."id")', []),
    ],
    # parts of nodes, each inside the node that renders it
    w.Bound: [
        (lambda: agg.sum_(Gadget.price).over(order_by=Gadget.made, frame=w.rows(w.preceding(2), 0)),
         f'sum({G}"price") OVER (ORDER BY {G}"made" ASC ROWS BETWEEN $1::bigint PRECEDING AND CURRENT ROW)', [2]),
    ],
    w.Frame: [
        (lambda: agg.count().over(frame=w.rows(None, None)),
         "count(*) OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)", []),
    ],
    cs.When: [
        (lambda: cs.case(Gadget.weight.is_null(), 0.0),
         f'CASE WHEN {G}"weight" IS NULL THEN $1::double precision END', [0.0]),
    ],
    # statements and their parts
    Select: [
        (lambda: select(Gadget).where(Gadget.name == "x").order_by(Gadget.price).limit(3).offset(1),
         f'SELECT {GADGET_COLS} FROM "fixture_gadgets" WHERE {G}"name" = $1::text ORDER BY {G}"price" ASC '
         "LIMIT 3 OFFSET $2::bigint", ["x", 1]),
    ],
    Keyset: [
        (lambda: select(Gadget).order_by(Gadget.id).after((5,)).values(Gadget.id),
         f'SELECT {G}"id" FROM "fixture_gadgets" WHERE {G}"id" > $1::bigint ORDER BY {G}"id" ASC', [5]),
    ],
    Grouping: [
        (lambda: select(Gadget).group_by(Gadget.shade).values(Gadget.shade, agg.count()),
         f'SELECT {G}"shade", count(*) FROM "fixture_gadgets" GROUP BY {G}"shade"', []),
    ],
    Join: [
        (lambda: select(Part).join(Maker, Maker.id == Part.maker, fetch=False).values(Maker.label),
         f'SELECT {M}."label" FROM {P} INNER JOIN {M} ON {M}."id" = {P}."maker_id"', []),
    ],
    Source: [
        (lambda: select(Gadget).join(g2 := aliased(Gadget, "g2"), g2.col("name") == Gadget.name, fetch=False)
         .values(g2.id),
         f'SELECT "g2"."id" FROM "fixture_gadgets" INNER JOIN "fixture_gadgets" AS "g2" ON "g2"."name" = {G}"name"',
         []),
    ],
    Cte: [
        (lambda: select(Gadget).join(c := with_("c", select(Gadget).values(n=Gadget.name)), c.col("n") == Gadget.name,
                                     fetch=False).values(c.col("n")),
         'WITH "c" AS (SELECT "fixture_gadgets"."name" AS "n" FROM "fixture_gadgets") SELECT "c"."n" FROM '
         '"fixture_gadgets" INNER JOIN "c" ON "c"."n" = "fixture_gadgets"."name"', []),
    ],
    SetOp: [
        (lambda: select(Gadget).values(Gadget.name).union(select(Gadget).values(Gadget.name)),
         f'(SELECT {G}"name" FROM "fixture_gadgets") UNION (SELECT {G}"name" FROM "fixture_gadgets")', []),
    ],
    CountOf: [(lambda: count_of(select(Gadget)), 'SELECT count(*) FROM "fixture_gadgets"', [])],
    ExistsOf: [(lambda: exists_of(select(Gadget)), 'SELECT EXISTS (SELECT 1 FROM "fixture_gadgets" LIMIT 1)', [])],
    dml.Insert: [
        (lambda: dml.insert(Maker, [Maker(label="a")]).without_returning(),
         f'INSERT INTO {M} ("label") VALUES ($1::text)', ["a"]),
    ],
    dml.OnConflict: [
        (lambda: dml.insert(Maker, [Maker(label="a")]).without_returning().on_conflict(Maker.id).do_nothing(),
         f'INSERT INTO {M} ("label") VALUES ($1::text) ON CONFLICT ("id") DO NOTHING', ["a"]),
    ],
    dml.Unnest: [
        (lambda: dml.insert_many(Maker, [Maker(label="a"), Maker(label="b")]).without_returning(),
         f'INSERT INTO {M} ("label") SELECT "__djogi_v"."label" FROM unnest($1::TEXT[]) AS "__djogi_v"("label")',
         [["a", "b"]]),
    ],
    dml.InsertFrom: [
        (lambda: dml.insert_from(Maker, select(Gadget).values(Gadget.name), [Maker.label]),
         f'INSERT INTO {M} ("label") SELECT {G}"name" FROM "fixture_gadgets"', []),
    ],
    dml.Update: [
        (lambda: dml.update(select(Maker).where(Maker.id == 1), label="b"),
         f'UPDATE {M} SET "label" = $1::text, "updated_at" = now() WHERE {M}."id" = $2::bigint', ["b", 1]),
    ],
    dml.Delete: [
        (lambda: dml.delete(select(Maker).where(Maker.id == 1)), f'DELETE FROM {M} WHERE {M}."id" = $1::bigint', [1]),
    ],
}  # fmt: skip


def render(node: Node) -> tuple[str, list[object]]:
    if type(node) in renderer.STATEMENTS:
        stmt = compile(node)
        return stmt.sql, list(stmt.params)
    ctx = RenderContext()
    if isinstance(node, p.Pred):
        sql = render_predicate(node, ctx)
    elif isinstance(node, e.OrderBy):
        sql = render_order(node, ctx)
    else:
        sql = render_expr(node, ctx)
    return sql, ctx.params


CASES = [(cls, build, sql, params) for cls, cases in FIXTURES.items() for build, sql, params in cases]


@pytest.mark.parametrize(
    ("cls", "build", "sql", "params"), CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)]
)
def test_fixture_renders(
    cls: type, build: Callable[[], Node], sql: str | type[Exception], params: list[object]
) -> None:
    node = build()
    assert any(type(x) is cls for x in traverse.walk(node, into_scopes=True))
    if isinstance(sql, str):
        assert render(node) == (sql, params)
    else:
        with pytest.raises(sql):
            render(node)


def node_classes() -> set[type]:
    return set(traverse.node_classes())


def test_node_classes_are_found_through_the_declarations() -> None:
    found = node_classes()
    assert {e.Column, p.Compare, agg.Agg, sq.Exists, relations.PathColumn, Select, dml.Insert, w.Frame} <= found
    assert not {e.Expr, p.Pred, e.ValueType} & found


def test_every_node_class_has_a_fixture() -> None:
    missing = sorted(cls.__qualname__ for cls in node_classes() - FIXTURES.keys())
    assert not missing, f"node classes without a golden fixture in FIXTURES: {missing}"


def _expressions() -> set[type]:
    return {c for c in node_classes() if issubclass(c, e.Expr)}


def _predicates() -> set[type]:
    return {c for c in node_classes() if issubclass(c, p.Pred)}


def test_every_node_class_has_a_compiler_case() -> None:
    assert _expressions() == renderer.EXPRESSIONS.keys()
    assert _predicates() == renderer.PREDICATES.keys()
    assert renderer.STATEMENTS.keys() <= node_classes()
    # the other node classes are parts rendered by the node holding them (an ordering by render_order):
    # their fixtures (checked by test_fixture_renders) render such a node
    parts = node_classes() - _expressions() - _predicates() - renderer.STATEMENTS.keys() - {e.OrderBy}
    assert all(type(build()) is not cls for cls in parts for build, _, _ in FIXTURES.get(cls, ()))


def test_every_node_class_has_an_evaluator_case_or_refusal() -> None:
    assert _expressions() == evaluate.EXPRESSIONS.keys()
    assert _predicates() == evaluate.PREDICATES.keys()


def test_every_expression_class_has_nullability_rules() -> None:
    assert _expressions() == nullability.MAY_BE_NULL.keys() == nullability.ROW_NULLABLE.keys()


@pytest.mark.parametrize(
    ("cls", "build"), [(c[0], c[1]) for c in CASES if issubclass(c[0], e.Expr | p.Pred)],
    ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES) if issubclass(c[0], e.Expr | p.Pred)],
)
def test_evaluator_answers_or_refuses_every_fixture(cls: type, build: Callable[[], Node]) -> None:
    """Each expression / predicate fixture either evaluates in memory or raises ``NotPortable`` (never a
    missing-case error)."""
    node = build()
    pred = node if isinstance(node, p.Pred) else node.is_null()
    with contextlib.suppress(NotPortable):
        evaluate.compile_python(pred)
