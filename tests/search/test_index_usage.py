"""Each search form, as djogi compiles it, is planned on its index once the table is large enough.

The tables are filled server-side and analysed; ``EXPLAIN (FORMAT JSON)`` runs the compiled SQL with its
parameters (a custom plan, as the first executions of a statement get) and the test asserts the index
named in the model's declaration appears in the plan. No planner setting is changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from djogi.algebra.search import (
    cosine_distance,
    inner_product_distance,
    l2_distance,
    to_tsvector,
    trigram_distance,
    trigram_match,
    ts_match,
    websearch_to_tsquery,
    word_match,
)
from djogi.executor import Database

from .models import Article, Item, Post, schema_sql

pytestmark = pytest.mark.anyio

ROWS = 10_000


async def _load(db: Database, table: str, fill: str) -> None:
    """Create ``table`` (and the extensions), fill it with ``fill``, then build its indexes and analyse it: a
    GIN index built before the rows would hold them in its pending list, which the planner costs high."""
    statements = [s for s in schema_sql() if f'"{table}"' in s or s.startswith("CREATE EXTENSION")]
    for statement in statements:
        if not statement.startswith("CREATE INDEX"):
            await db.raw(statement)
    await db.reload_types()
    await db.raw(fill)
    if table == "search_articles":
        await db.execute(Article.objects.update(words=to_tsvector("simple", Article.body)))
    for statement in statements:
        if statement.startswith("CREATE INDEX"):
            await db.raw(statement)
    await db.raw(f"VACUUM ANALYZE {table}")


@pytest.fixture
async def articles(db: Database) -> Database:
    await _load(db, "search_articles", (
        "INSERT INTO search_articles (title, body) SELECT md5(i::text), 'row ' || i || ' of many ' || "
        f"md5((-i)::text) FROM generate_series(1, {ROWS}) i"
    ))  # fmt: skip
    return db


@pytest.fixture
async def posts(db: Database) -> Database:
    await _load(db, "search_posts", (
        "INSERT INTO search_posts (title, body) SELECT md5(i::text), CASE WHEN i % 3 > 0 THEN 'row ' || i END "
        f"FROM generate_series(1, {ROWS}) i"
    ))  # fmt: skip
    return db


@pytest.fixture
async def items(db: Database) -> Database:
    await _load(db, "search_items", (
        "INSERT INTO search_items (name, embedding) SELECT i::text, ARRAY[sin(i), cos(i), sin(i * 7)]::vector "
        f"FROM generate_series(1, {ROWS}) i"
    ))  # fmt: skip
    return db


def _index_names(node: dict[str, Any]) -> Iterator[str]:
    if "Index Name" in node:
        yield node["Index Name"]
    for child in node.get("Plans", ()):
        yield from _index_names(child)


async def _indexes_used(db: Database, query: Any) -> set[str]:
    stmt = query.sql()
    ((plan,),) = await db.raw("EXPLAIN (FORMAT JSON) " + stmt.sql, stmt.params)
    document = msgspec.json.decode(plan) if isinstance(plan, str | bytes) else plan
    return set(_index_names(document[0]["Plan"]))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


async def test_full_text_match_uses_the_gin_index(articles: Database) -> None:
    query = Article.objects.filter(ts_match(Article.words, websearch_to_tsquery("simple", _md5("-4242"))))
    assert "search_articles_words_gin" in await _indexes_used(articles, query)
    assert len(await articles.all(query)) == 1


async def test_full_text_match_on_a_generated_column_uses_its_gin_index(posts: Database) -> None:
    query = Post.objects.filter(ts_match(Post.search, websearch_to_tsquery("english", _md5("4242"))))
    assert "search_posts_gin" in await _indexes_used(posts, query)
    assert [p.title for p in await posts.all(query)] == [_md5("4242")]


async def test_trigram_match_uses_the_gin_trigram_index(articles: Database) -> None:
    query = Article.objects.filter(trigram_match(Article.title, _md5("4242")))
    assert "search_articles_title_trgm" in await _indexes_used(articles, query)
    assert [a.title for a in await articles.all(query)] == [_md5("4242")]
    words = Article.objects.filter(word_match(_md5("77")[:12], Article.title))
    assert "search_articles_title_trgm" in await _indexes_used(articles, words)


async def test_trigram_distance_order_uses_the_gist_index(articles: Database) -> None:
    query = Article.objects.order_by(trigram_distance(Article.body, "row 4242 of many").asc()).limit(3)
    assert "search_articles_body_trgm" in await _indexes_used(articles, query)
    assert (await articles.all(query))[0].body.startswith("row 4242 of many")


async def test_nearest_neighbours_use_the_vector_indexes(items: Database) -> None:
    for distance, index in ((l2_distance, "search_items_hnsw"), (cosine_distance, "search_items_ivfflat"),
                            (inner_product_distance, "search_items_ip")):  # fmt: skip
        query = Item.objects.order_by(distance(Item.embedding, [0.1, 0.9, 0.2]).asc()).limit(5)
        assert index in await _indexes_used(items, query), distance.__name__
        assert len(await items.all(query)) == 5
