"""Golden SQL of the search builders (full-text, trigram, vectors), their refusals and their typing."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import pytest

from djogi import (
    ArgumentTypeError,
    Field,
    Model,
    NotPortable,
    SqlType,
    TsLexeme,
    TsVector,
    ValidationError,
    Vector,
    field,
)
from djogi.algebra import search as s
from djogi.algebra.nullability import nullable
from djogi.algebra.query import select
from djogi.algebra.render import RenderContext, render_expr, render_predicate
from djogi.errors import ModelDefinitionError


class Doc(Model, table="golden_docs"):
    title: Field[str]
    body: Field[str | None] = field(default=None)
    words: Field[TsVector | None] = field(default=None)
    embedding: Field[Annotated[Vector, SqlType("VECTOR(2)")]]


D = '"golden_docs".'


def sql(node: Any) -> tuple[str, list[object]]:
    ctx = RenderContext()
    text = render_predicate(node, ctx) if isinstance(node, s.Pred) else render_expr(node, ctx)
    return text, ctx.params


@pytest.mark.parametrize(
    ("build", "expected", "params"),
    [
        (lambda: s.to_tsvector("english", Doc.title), f'to_tsvector($1::regconfig, {D}"title")', ["english"]),
        (lambda: s.to_tsquery("simple", "a & !b"), "to_tsquery($1::regconfig, $2::text)", ["simple", "a & !b"]),
        (lambda: s.plainto_tsquery("english", Doc.body), f'plainto_tsquery($1::regconfig, {D}"body")', ["english"]),
        (lambda: s.websearch_to_tsquery("pg_catalog.english", "x"), "websearch_to_tsquery($1::regconfig, $2::text)",
         ["pg_catalog.english", "x"]),
        (lambda: s.ts_match(Doc.words, s.plainto_tsquery("english", "cat")),
         f'{D}"words" @@ plainto_tsquery($1::regconfig, $2::text)', ["english", "cat"]),
        (lambda: s.ts_match(s.to_tsvector("english", Doc.title), s.to_tsquery("english", "cat")),
         f'to_tsvector($1::regconfig, {D}"title") @@ to_tsquery($2::regconfig, $3::text)',
         ["english", "english", "cat"]),
        (lambda: ~s.ts_match(Doc.words, s.plainto_tsquery("english", "cat")),
         f'(NOT ({D}"words" @@ plainto_tsquery($1::regconfig, $2::text)) OR {D}"words" IS NULL)', ["english", "cat"]),
        (lambda: s.ts_rank(Doc.words, s.plainto_tsquery("english", "cat"), 32),
         f'ts_rank({D}"words", plainto_tsquery($1::regconfig, $2::text), $3::integer)', ["english", "cat", 32]),
        (lambda: s.ts_rank_cd(Doc.words, s.plainto_tsquery("english", "cat")),
         f'ts_rank_cd({D}"words", plainto_tsquery($1::regconfig, $2::text), $3::integer)', ["english", "cat", 0]),
        (lambda: s.ts_headline("english", Doc.title, s.plainto_tsquery("english", "cat")),
         f'ts_headline($1::regconfig, {D}"title", plainto_tsquery($2::regconfig, $3::text))',
         ["english", "english", "cat"]),
        (lambda: s.ts_headline("english", Doc.title, s.plainto_tsquery("english", "cat"), "MaxWords=5"),
         f'ts_headline($1::regconfig, {D}"title", plainto_tsquery($2::regconfig, $3::text), $4::text)',
         ["english", "english", "cat", "MaxWords=5"]),
        (lambda: s.similarity(Doc.title, "cat"), f'similarity({D}"title", $1::text)', ["cat"]),
        (lambda: s.word_similarity("cat", Doc.title), f'word_similarity($1::text, {D}"title")', ["cat"]),
        (lambda: s.trigram_match(Doc.title, "cat"), f'{D}"title" % $1::text', ["cat"]),
        (lambda: s.word_match("cat", Doc.body), f'$1::text <% {D}"body"', ["cat"]),
        (lambda: ~s.word_match("cat", Doc.body), f'(NOT ($1::text <% {D}"body") OR {D}"body" IS NULL)', ["cat"]),
        (lambda: s.trigram_distance(Doc.title, "cat"), f'({D}"title" <-> $1::text)', ["cat"]),
        (lambda: s.l2_distance(Doc.embedding, (1, 2)), f'({D}"embedding" <-> $1::vector)', [Vector([1.0, 2.0])]),
        (lambda: s.cosine_distance(Doc.embedding, Vector([1, 2])), f'({D}"embedding" <=> $1::vector)',
         [Vector([1.0, 2.0])]),
        (lambda: s.inner_product_distance([0.5, 0], Doc.embedding), f'($1::vector <#> {D}"embedding")',
         [Vector([0.5, 0.0])]),
    ],
)  # fmt: skip
def test_golden_sql(build: Any, expected: str, params: list[object]) -> None:
    assert sql(build()) == (expected, params)


def test_order_by_distance_with_limit() -> None:
    q = select(Doc).order_by(s.l2_distance(Doc.embedding, [1, 0]).asc()).limit(5)
    stmt = q.sql()
    assert stmt.sql.endswith(f' FROM "golden_docs" ORDER BY ({D}"embedding" <-> $1::vector) ASC LIMIT 5')
    assert stmt.params == (Vector([1.0, 0.0]),)


def test_rank_projection_types() -> None:
    q = s.plainto_tsquery("english", "cat")
    assert s.ts_rank(Doc.words, q).type.kind == "float"
    assert s.to_tsvector("english", Doc.title).type.kind == "tsvector"
    assert q.type.kind == "tsquery"
    assert s.ts_headline("english", Doc.title, q).type.kind == "str"
    assert nullable(s.ts_rank(Doc.words, q)) and not nullable(s.similarity(Doc.title, "x"))
    assert nullable(s.l2_distance(Doc.embedding, [1, 2])) is False
    assert nullable(s.trigram_distance(Doc.body, "x"))


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: s.to_tsvector("english'; drop", Doc.title), ValidationError, "not a text search configuration"),
        (lambda: s.to_tsvector(5, Doc.title), ArgumentTypeError, "configuration takes a str"),
        (lambda: s.to_tsvector("english", 5), ValidationError, "expected str"),
        (lambda: s.ts_match(Doc.title, s.plainto_tsquery("english", "x")), ValidationError, "tsvector expression"),
        (lambda: s.ts_match(Doc.words, "cat"), ArgumentTypeError, "takes a tsquery"),
        (lambda: s.ts_rank(Doc.words, s.plainto_tsquery("english", "x"), 64), ArgumentTypeError, "0 to 63"),
        (lambda: s.similarity(Doc.embedding, "x"), ValidationError, "text expression"),
        (lambda: s.l2_distance(Doc.title, [1, 2]), ValidationError, "vector expression"),
        (lambda: s.l2_distance(Doc.embedding, [1, "x"]), ValidationError, "list of numbers"),
        (lambda: s.l2_distance(Doc.embedding, None), ValidationError, "None"),
        (lambda: s.ts_headline("english", Doc.title, s.plainto_tsquery("english", "x"), 5), ArgumentTypeError,
         "options takes a str"),
    ],
)  # fmt: skip
def test_refusals(build: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        build()


def test_search_is_sql_only_in_memory() -> None:
    pred = s.ts_match(Doc.words, s.plainto_tsquery("english", "cat"))
    with pytest.raises(NotPortable, match="full-text, trigram and vector"):
        pred.compile_python()
    with pytest.raises(NotPortable):
        (s.l2_distance(Doc.embedding, [1, 2]) < 1.0).compile_python()
    assert not s.trigram_match(Doc.title, "x").is_portable()


def test_vector_fields_declare_dimensions() -> None:
    with pytest.raises(ModelDefinitionError, match=r"Flat\.v: a Vector field declares its dimensions"):

        class Flat(Model, table="golden_flat"):
            v: Field[Vector]

    with pytest.raises(ModelDefinitionError, match="storage parameter"):
        from djogi import Index

        hostile = Index(columns=("v",), method="hnsw", storage_parameters=(("m", "16); drop"),))

        class Bad(Model, table="golden_bad", indexes=(hostile,)):
            v: Field[Annotated[Vector, SqlType("VECTOR(2)")]]


def test_interval_arithmetic_is_typed() -> None:
    class Span(Model, table="golden_spans"):
        day: Field[dt.date]
        n: Field[int]
        took: Field[dt.timedelta]
        at: Field[dt.datetime]
        clock: Field[dt.time]

    cases = [
        (Span.n * dt.timedelta(days=1), '("golden_spans"."n" * $1::interval)', "timedelta"),
        (dt.timedelta(hours=1) * Span.n, '($1::interval * "golden_spans"."n")', "timedelta"),
        (Span.took * 2, '("golden_spans"."took" * $1::bigint)', "timedelta"),
        (Span.took * 1.5, '("golden_spans"."took" * $1::double precision)', "timedelta"),
        (Span.took / 4, '("golden_spans"."took" / $1::bigint)', "timedelta"),
        (Span.at - Span.took, '("golden_spans"."at" - "golden_spans"."took")', "datetime"),
        (Span.day + Span.took, '("golden_spans"."day" + "golden_spans"."took")', "timestamp"),
        (Span.day - dt.timedelta(hours=6), '("golden_spans"."day" - $1::interval)', "timestamp"),
        (Span.day + 3, '("golden_spans"."day" + $1::integer)', "date"),
        (Span.day - Span.n, '("golden_spans"."day" - CAST("golden_spans"."n" AS integer))', "date"),
        (Span.clock + dt.timedelta(minutes=5), '("golden_spans"."clock" + $1::interval)', "time"),
        (Span.day - Span.day, '("golden_spans"."day" - "golden_spans"."day")', "int"),
    ]
    for expr, expected, kind in cases:
        assert render_expr(expr, RenderContext()) == expected
        assert expr.type.kind == kind
    ctx = RenderContext()
    assert render_predicate(Span.day + Span.took < dt.datetime(2026, 1, 1), ctx) == (
        '("golden_spans"."day" + "golden_spans"."took") < $1::timestamp'
    )
    with pytest.raises(ValidationError, match="timezone"):
        Span.day + Span.took < dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # noqa: B015
    for bad in (lambda: Span.day * Span.took, lambda: Span.at + Span.day, lambda: Span.took / 0,
                lambda: Span.day + 2**40, lambda: Span.took * Span.took):  # fmt: skip
        with pytest.raises(ValidationError):
            bad()


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (TsVector((TsLexeme("", ()),)), "1 to 2046 bytes"),
        (TsVector((TsLexeme("a\x00b"),)), "without NUL"),
        (TsVector((TsLexeme("a" * 2047),)), "1 to 2046 bytes"),
        (TsVector((TsLexeme("a", ((0, "A"),)),)), "from 1 to 16383"),
        (TsVector((TsLexeme("a", ((16384, "A"),)),)), "from 1 to 16383"),
        (TsVector((TsLexeme("a", ((2, "A"), (2, "B"))),)), "distinct"),
        (TsVector((TsLexeme("a", ((2, "E"),)),)), "weights"),  # type: ignore[arg-type]
        ("a b", "TsVector"),
    ],
)  # fmt: skip
def test_tsvector_values_the_server_would_change_are_refused(value: object, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        Doc.words == value  # noqa: B015
