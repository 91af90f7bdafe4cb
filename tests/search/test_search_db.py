"""Full-text, trigram and vector search against the real server (extensions created by the composed DDL)."""

from __future__ import annotations

import math

import pytest

from djogi import TsLexeme, TsVector, ValidationError, Vector
from djogi.algebra import search
from djogi.algebra.search import (
    cosine_distance,
    inner_product_distance,
    l2_distance,
    plainto_tsquery,
    similarity,
    to_tsquery,
    to_tsvector,
    trigram_distance,
    trigram_match,
    ts_headline,
    ts_match,
    ts_rank,
    ts_rank_cd,
    websearch_to_tsquery,
    word_match,
    word_similarity,
)
from djogi.executor import Database

from .models import Article, Item, schema_sql

pytestmark = pytest.mark.anyio

TEXTS = (
    ("Cats and kittens", "The quick cats jumped over sleeping kittens."),
    ("Dogs", "A lazy dog sleeps all day; dogs love bones."),
    ("Birds", "Birds sing at dawn, cats watch the birds."),
)


@pytest.fixture
async def shop(db: Database) -> Database:
    for statement in schema_sql():
        await db.raw(statement)
    await db.reload_types()
    return db


async def _articles(db: Database) -> list[Article]:
    for title, body in TEXTS:
        await db.create(Article(title=title, body=body))
    document = Article.title.concat(" ").concat(Article.body)
    await db.execute(Article.objects.update(words=to_tsvector("english", document)))
    return await db.all(Article.objects.order_by(Article.title))


# ------------------------------------------------------------------------------------------ tsvector values


async def test_tsvector_decodes_to_lexemes_with_positions(shop: Database) -> None:
    await shop.create(Article(title="t", body="The quick cats"))
    await shop.execute(Article.objects.update(words=to_tsvector("english", Article.body)))
    (article,) = await shop.all(Article.objects)
    assert article.words == TsVector((TsLexeme("cat", ((3, "D"),)), TsLexeme("quick", ((2, "D"),))))
    assert article.words.words() == ("cat", "quick")


async def test_tsvector_round_trips_weights_positions_and_text(shop: Database) -> None:
    value = TsVector((
        TsLexeme("a:b", ((1, "A"), (7, "B"))), TsLexeme("plain"), TsLexeme("zürich", ((16383, "C"), (2, "D"))),
    ))  # fmt: skip
    created = await shop.create(Article(title="t", body="b", words=value))
    stored = await shop.get(Article, created.id)
    assert stored.words == TsVector((
        TsLexeme("a:b", ((1, "A"), (7, "B"))), TsLexeme("plain"), TsLexeme("zürich", ((2, "D"), (16383, "C"))),
    ))  # fmt: skip
    (text,) = await shop.raw("SELECT words::text FROM search_articles")
    assert text == ("'a:b':1A,7B 'plain' 'zürich':2,16383C",)


async def test_tsvector_field_refuses_other_values(shop: Database) -> None:
    with pytest.raises(ValidationError, match=r"Article\.words.*TsVector"):
        await shop.create(Article(title="t", body="b", words="cat dog"))  # type: ignore[arg-type]
    assert await shop.count(Article.objects) == 0


# ------------------------------------------------------------------------------------------ full text


async def test_match_rank_and_headline(shop: Database) -> None:
    await _articles(shop)
    query = websearch_to_tsquery("english", "cat")
    found = await shop.all(Article.objects.filter(ts_match(Article.words, query)).order_by(
        ts_rank(Article.words, query).desc(), Article.title))  # fmt: skip
    assert [a.title for a in found] == ["Cats and kittens", "Birds"]  # "cat" twice ranks above once
    ranks = await shop.values(
        Article.objects.filter(ts_match(Article.words, query))
        .order_by(Article.title)
        .values(Article.title, ts_rank(Article.words, query), ts_rank_cd(Article.words, query, 1))
    )
    assert [r[0] for r in ranks] == ["Birds", "Cats and kittens"]
    assert all(isinstance(r[1], float) and r[1] > 0 and r[2] > 0 for r in ranks)
    headline = await shop.values(
        Article.objects.filter(Article.title == "Dogs").values(
            ts_headline("english", Article.body, plainto_tsquery("english", "dog bones"), "StartSel=[, StopSel=]")
        )
    )
    assert headline == [("A lazy [dog] sleeps all day; [dogs] love [bones].",)]


async def test_query_forms_and_negation(shop: Database) -> None:
    await _articles(shop)
    await shop.create(Article(title="Empty", body="nothing indexed"))  # words stays NULL

    async def titles(pred: search.Pred) -> list[str]:
        return [a.title for a in await shop.all(Article.objects.filter(pred).order_by(Article.title))]

    assert await titles(ts_match(Article.words, websearch_to_tsquery("english", '"lazy dog" -cat'))) == ["Dogs"]
    assert await titles(ts_match(Article.words, to_tsquery("english", "bird & !dog"))) == ["Birds"]
    assert await titles(ts_match(Article.words, plainto_tsquery("english", "sleeping kittens"))) == [
        "Cats and kittens"]  # fmt: skip
    # ~ keeps exactly the rows the match does not: the NULL document included
    assert await titles(~ts_match(Article.words, plainto_tsquery("english", "cats"))) == ["Dogs", "Empty"]


async def test_simple_configuration_does_not_stem(shop: Database) -> None:
    await _articles(shop)
    rows = await shop.values(
        Article.objects.filter(ts_match(to_tsvector("simple", Article.body), plainto_tsquery("simple", "cat"))).values(
            Article.title
        )
    )
    assert rows == []


# ------------------------------------------------------------------------------------------ trigram


async def test_trigram_similarity_match_and_distance_order(shop: Database) -> None:
    await _articles(shop)
    rows = await shop.values(Article.objects.values(Article.title, similarity(Article.title, "Dogz")))
    scores = dict(rows)
    assert scores["Dogs"] == max(scores.values()) and 0 < scores["Dogs"] < 1
    assert [a.title for a in await shop.all(Article.objects.filter(trigram_match(Article.title, "Dogz")))] == ["Dogs"]
    nearest = await shop.all(Article.objects.order_by(trigram_distance(Article.body, "birds sing").asc()).limit(1))
    assert [a.title for a in nearest] == ["Birds"]
    words = await shop.values(
        Article.objects.filter(word_match("kitten", Article.body)).values(
            Article.title, word_similarity("kitten", Article.body)
        )
    )
    assert [w[0] for w in words] == ["Cats and kittens"] and words[0][1] > 0.6


# ------------------------------------------------------------------------------------------ vectors


async def _items(db: Database) -> None:
    for name, vec in (("x", [1, 0, 0]), ("y", [0, 1, 0]), ("z", [0, 0, 1]), ("xy", [0.7, 0.7, 0])):
        await db.create(Item(name=name, embedding=vec))  # type: ignore[arg-type]


async def test_vector_values_decode_to_vectors(shop: Database) -> None:
    created = await shop.create(Item(name="a", embedding=[0.5, 1, -2.25], spare=None))  # type: ignore[arg-type]
    assert created.embedding == Vector([0.5, 1.0, -2.25])
    stored = await shop.get(Item, created.id)
    assert isinstance(stored.embedding, Vector) and stored.embedding.to_list() == [0.5, 1.0, -2.25]
    assert stored.spare is None
    # a value rounded to single precision is stored (and returned) as the column holds it
    tenth = await shop.create(Item(name="b", embedding=[0.1, 0, 0]))  # type: ignore[arg-type]
    assert tenth.embedding.to_list()[0] == (await shop.get(Item, tenth.id)).embedding.to_list()[0] != 0.1


async def test_vector_refusals_name_the_field_and_write_nothing(shop: Database) -> None:
    with pytest.raises(ValidationError, match=r"Item\.embedding \(VECTOR\(3\)\): 2 dimensions, not 3"):
        await shop.create(Item(name="a", embedding=[1, 2]))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"Item\.embedding.*NaN"):
        await shop.create(Item(name="a", embedding=[1, math.nan, 2]))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"Item\.embedding.*beyond single precision"):
        await shop.create(Item(name="a", embedding=[1, 1e39, 2]))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"Item\.embedding"):
        await shop.create(Item(name="a", embedding="[1,2,3]"))  # type: ignore[arg-type]
    assert await shop.count(Item.objects) == 0


async def test_nearest_neighbours_by_each_distance(shop: Database) -> None:
    await _items(shop)

    async def nearest(distance: search.Distance, k: int = 2) -> list[str]:
        return [i.name for i in await shop.all(Item.objects.order_by(distance.asc()).limit(k))]

    assert await nearest(l2_distance(Item.embedding, [0.9, 0.1, 0])) == ["x", "xy"]
    async with shop.atomic():  # IVFFlat is approximate: with the default single probe it may miss rows
        await shop.raw("SET LOCAL ivfflat.probes = 10")
        assert (await nearest(cosine_distance(Item.embedding, [1, 1, 0.1]), 3))[0] == "xy"
    assert await nearest(inner_product_distance(Item.embedding, Vector([0, 0, 2])), 1) == ["z"]
    rows = await shop.values(Item.objects.filter(Item.name == "x").values(l2_distance(Item.embedding, [0, 0, 0])))
    assert rows == [(1.0,)]
    with pytest.raises(ValidationError, match="l2_distance"):
        l2_distance(Item.name, [1, 2, 3])


async def test_bulk_create_copies_vectors_and_tsvectors(shop: Database) -> None:
    items = [Item(name=str(i), embedding=[i, i, i]) for i in range(3)]  # type: ignore[arg-type]
    await shop.bulk_create(items)
    assert [i.embedding.to_list() for i in await shop.all(Item.objects.order_by(Item.name))] == [
        [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]  # fmt: skip
    words = TsVector((TsLexeme("cat", ((1, "A"),)),))
    await shop.bulk_create([Article(title="t", body="b", words=words)])
    assert (await shop.one(Article.objects)).words == words
