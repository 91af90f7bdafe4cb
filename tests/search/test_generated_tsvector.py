"""A generated full-text column (``field(generated=tsvector_of(...))``): golden DDL, refused declarations, the
database filling it on every write while djogi refuses a value for it, ``@@`` / ``ts_rank`` against it, verify
clean after migrations, and ``db inspect`` writing it back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from msgspec import UNSET, UnsetType
from psycopg.rows import TupleRow

from djogi import Field, Index, Model, TsVector, field, tsvector_of
from djogi.algebra import coalesce, insert_many, update_many
from djogi.algebra.search import to_tsvector, ts_match, ts_rank, websearch_to_tsquery
from djogi.errors import ModelDefinitionError, ValidationError
from djogi.executor import Database
from djogi.migrate import Bucket, apply, compose, introspect, verify
from djogi.migrate.diff import diff
from djogi.migrate.introspect import server_spelled
from djogi.migrate.modelsource import model_source
from djogi.migrate.project import project
from djogi.migrate.snapshot import Snapshot
from djogi.model import descriptor, models, registry_scope
from tests.migrate.helpers import declared_by

from .models import Post, schema_sql

pytestmark = pytest.mark.anyio

DOCUMENT = "to_tsvector('english', title || ' ' || COALESCE(body, ''))"


def test_golden_ddl() -> None:
    assert descriptor(Post).field("search").generated == (
        """to_tsvector('english'::regconfig, "title" || ' ' || COALESCE("body", ''))"""
    )
    assert [s for s in schema_sql() if '"search_posts"' in s] == [
        'CREATE TABLE "search_posts" (\n'
        '    "id" BIGINT DEFAULT heerid_next_desc() NOT NULL,\n'
        '    "created_at" TIMESTAMPTZ DEFAULT now() NOT NULL,\n'
        '    "updated_at" TIMESTAMPTZ DEFAULT now() NOT NULL,\n'
        '    "title" TEXT NOT NULL,\n'
        '    "body" TEXT,\n'
        f'    "search" TSVECTOR GENERATED ALWAYS AS ({DOCUMENT}) STORED NOT NULL,\n'
        '    CONSTRAINT "search_posts_pkey" PRIMARY KEY ("id")\n'
        ");",
        'CREATE INDEX "search_posts_gin" ON "search_posts" USING gin ("search");',
    ]


def test_columns_are_named_by_field() -> None:
    with registry_scope(isolated=True):

        class Note(Model, table="notes"):
            heading: Field[str] = field(column="head_line", max_length=80)
            search: Field[TsVector | UnsetType] = field(generated=tsvector_of("simple", "heading"), default=UNSET)

        assert descriptor(Note).field("search").generated == """to_tsvector('simple'::regconfig, "head_line")"""


def _declare(*args: str) -> Callable[[], None]:
    def declare() -> None:
        class Bad(Model, table="g_bad"):
            title: Field[str]
            count: Field[int]
            secret: Field[TsVector | UnsetType] = field(generated=tsvector_of("simple", "title"), default=UNSET)
            search: Field[TsVector | UnsetType] = field(generated=tsvector_of(*args), default=UNSET)

    return declare


def _text_document() -> None:
    class Bad(Model, table="g_bad"):
        title: Field[str]
        search: Field[str | UnsetType] = field(generated=tsvector_of("english", "title"), default=UNSET)


def _virtual_indexed() -> None:
    class Bad(Model, table="g_bad", indexes=(Index(columns=("search",), method="gin"),)):
        title: Field[str]
        search: Field[TsVector | UnsetType] = field(generated=tsvector_of("english", "title"), virtual=True,
                                                    default=UNSET)  # fmt: skip


def _virtual_field_index() -> None:
    class Bad(Model, table="g_bad"):
        title: Field[str]
        search: Field[str | UnsetType] = field(generated="upper(title)", virtual=True, unique=True, default=UNSET)


@pytest.mark.parametrize(("declare", "message"), [
    (_declare("english", "nope"), r"Bad\.search: tsvector_of\(\): the model has no field 'nope'; name its str"),
    (_declare("english", "count"), r"Bad\.search: tsvector_of\(\): the model field 'count' is not a text field"),
    (_declare("english", "secret"), r"Bad\.search: tsvector_of\(\): the model field 'secret' is not a text field"),
    (_declare("english; DROP", "title"), r"Bad\.search: tsvector_of\(\): 'english; DROP' is not a text search co"),
    (_declare("english"), r"Bad\.search: tsvector_of\(\) takes the configuration and one or more field names"),
    (_virtual_indexed, r"Bad\.search: PostgreSQL cannot index a VIRTUAL generated column; drop virtual=True"),
    (_virtual_field_index, r"Bad\.search: PostgreSQL cannot index a VIRTUAL generated column"),
    (_text_document, r"Bad\.search: tsvector_of\(\.\.\.\) generates a TsVector field, not a str one"),
])  # fmt: skip
def test_refused_declarations(declare: Callable[[], None], message: str) -> None:
    with registry_scope(isolated=True), pytest.raises(ModelDefinitionError, match=message):
        declare()


def test_the_server_refuses_an_index_on_a_virtual_generated_column(pg_sync: psycopg.Connection[TupleRow]) -> None:
    """Why the declarations above are refused: PostgreSQL 18 does not index VIRTUAL generated columns."""
    pg_sync.execute("CREATE TABLE g_virtual (t text, v text GENERATED ALWAYS AS (upper(t)) VIRTUAL)")
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="virtual generated column"):
        pg_sync.execute("CREATE INDEX ON g_virtual (v)")


@pytest.fixture
async def posts(db: Database) -> Database:
    for statement in schema_sql():
        if '"search_posts"' in statement:
            await db.raw(statement)
    return db


async def test_the_database_keeps_the_document_and_search_ranks_against_it(posts: Database) -> None:
    cats = await posts.create(Post(title="Cats", body="The quick cats jumped over sleeping kittens."))
    assert isinstance(cats.search, TsVector) and cats.search.words() == ("cat", "jump", "kitten", "quick", "sleep")
    await posts.bulk_create([Post(title="Dogs and a cat"), Post(title="Birds", body="Birds sing at dawn.")])
    dogs = await posts.one(Post.objects.filter(Post.title == "Dogs and a cat"))
    await posts.save(dogs, body="dogs love bones")  # a write of the other fields recomputes it
    query = websearch_to_tsquery("english", "cat or dog")
    found = Post.objects.filter(ts_match(Post.search, query)).order_by(ts_rank(Post.search, query).desc())
    assert found.sql().sql == (
        'SELECT "search_posts"."id", "search_posts"."created_at", "search_posts"."updated_at", '
        '"search_posts"."title", "search_posts"."body", "search_posts"."search" FROM "search_posts" '
        'WHERE "search_posts"."search" @@ websearch_to_tsquery($1::regconfig, $2::text) '
        'ORDER BY ts_rank("search_posts"."search", websearch_to_tsquery($3::regconfig, $4::text), $5::integer) DESC'
    )
    assert [p.title for p in await posts.all(found)] == ["Dogs and a cat", "Cats"]
    same = to_tsvector("english", Post.title.concat(" ").concat(coalesce(Post.body, "")))
    assert await posts.count(Post.objects.filter(Post.search == same)) == 3  # the document, as declared


async def test_every_write_of_the_document_is_refused_by_name(posts: Database) -> None:
    refused = r"Post\.search \(TSVECTOR\): a generated column \(GENERATED ALWAYS AS \(to_tsvector\("
    row = Post(title="x", search=TsVector(()))
    for write in (posts.create, lambda r: posts.bulk_create([r]), lambda r: posts.execute(insert_many(Post, [r]))):
        with pytest.raises(ValidationError, match=refused):
            await write(row)
    made = await posts.create(Post(title="x"))
    with pytest.raises(ValidationError, match=refused):
        await posts.save(made, search=TsVector(()))
    with pytest.raises(ValidationError, match=refused):
        await posts.execute(Post.objects.update(search=to_tsvector("simple", Post.title)))
    with pytest.raises(ValidationError, match=refused):
        await posts.execute(update_many(Post, [made], ["search"]))
    assert await posts.count(Post.objects) == 1


def _declare_posts() -> None:
    class Post(Model, table="posts"):
        title: Field[str]
        body: Field[str | None] = field(default=None)
        search: Field[TsVector | UnsetType] = field(generated=tsvector_of("english", "title", "body"), default=UNSET)


def test_verify_is_clean_after_apply_and_inspect_writes_the_column_back(db_url: str, tmp_path: Path) -> None:
    with registry_scope(isolated=True):
        _declare_posts()
        declared = project(models(), "main", None).unwrap()
        compose(tmp_path, models(), dt.datetime(2026, 1, 1, tzinfo=dt.UTC), slug="posts").unwrap()
        apply(db_url, tmp_path)
        report = verify(db_url, tmp_path, Bucket("main"), models=models())
        assert report.ok and report.diagnostics == (), report.diagnostics
    with psycopg.connect(db_url, autocommit=True) as conn:
        live = introspect(conn, tables=["posts"])
        assert server_spelled(conn, declared, live).structure() == live.structure()
    source = model_source(live)
    assert ("    search: Field[djogi.TsVector | msgspec.UnsetType] = field(generated=\"to_tsvector('english', "
            "title || ' ' || COALESCE(body, ''))\", default=msgspec.UNSET)") in source
    assert declared_by(source) == live.structure()


def _structure(declare: Callable[[], None]) -> Snapshot:
    with registry_scope(isolated=True):
        declare()
        return project(models(), "main", None).unwrap()


def test_a_document_added_to_an_existing_table_is_computed_for_its_rows() -> None:
    """No backfill: ADD COLUMN computes a STORED generated column for every row (rewriting the table)."""

    def before() -> None:
        class Post(Model, table="posts"):
            title: Field[str]
            body: Field[str | None] = field(default=None)

    plan = diff(_structure(before), _structure(_declare_posts)).unwrap()
    assert [(op.label, op.effect, op.safety) for op in plan.operations] == [
        ("AddColumn posts.search", "additive", "OfflineOnly")
    ]
    assert [s.up for s in plan.steps] == [
        f'ALTER TABLE "posts" ADD COLUMN "search" TSVECTOR GENERATED ALWAYS AS ({DOCUMENT}) STORED NOT NULL;'
    ]
    assert plan.unfillable_columns == []


def test_the_plan_of_a_new_document_is_one_set_expression() -> None:
    def wider() -> None:
        class Post(Model, table="posts"):
            title: Field[str]
            body: Field[str | None] = field(default=None)
            search: Field[TsVector | UnsetType] = field(generated=tsvector_of("simple", "title", "body"),
                                                        default=UNSET)  # fmt: skip

    plan = diff(_structure(_declare_posts), _structure(wider)).unwrap()
    assert [s.up for s in plan.steps] == [
        'ALTER TABLE "posts" ALTER COLUMN "search" SET EXPRESSION AS '
        "(to_tsvector('simple', title || ' ' || COALESCE(body, '')));"
    ]
