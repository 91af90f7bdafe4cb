"""Views and materialized views as read-only models: declaration, golden DDL, the plan around table changes,
reads and refused writes, refresh, and verify comparing the server's text of each view."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import TupleRow

from djogi import Field, ForeignKey, Index, Model, field, sql
from djogi.algebra import insert_many, update_many
from djogi.algebra.aggregate import count
from djogi.errors import ModelDefinitionError, ValidationError
from djogi.executor import Database
from djogi.migrate import Bucket, apply, compose, introspect, rollback, verify
from djogi.migrate.introspect import server_spelled
from djogi.migrate.lint import lint_sql
from djogi.migrate.modelsource import model_source
from djogi.migrate.project import project
from djogi.migrate.snapshot import Snapshot
from djogi.model import descriptor, models, registry_scope
from tests.migrate.helpers import creating, declared_by, drift_after, plan, projected, snap, steps

pytestmark = pytest.mark.anyio


class VAuthor(Model, table="v_author", timestamps=False):
    author_id: Field[int] = field(primary_key=True)
    name: Field[str]
    born: Field[int | None] = field(default=None)


class VBook(Model, table="v_book", timestamps=False):
    book_id: Field[int] = field(primary_key=True)
    author_id: Field[int]
    title: Field[str]


class VNames(Model, table="v_names", view=sql("SELECT author_id, upper(name) AS shout FROM v_author"),
             primary_key="author_id"):  # fmt: skip
    author_id: Field[int]
    shout: Field[str]


class VCounts(Model, table="v_counts", view=VBook.objects.values(author_id=VBook.author_id, n=count())
              .group_by(VBook.author_id), materialized=True, with_data=False, primary_key="author_id",
              indexes=(Index(columns=("author_id",), unique=True, name="v_counts_author"),)):  # fmt: skip
    author_id: Field[int]
    n: Field[int]


class VShelf(Model, table="v_shelf", view=sql("SELECT author_id, count(*) AS books FROM v_book GROUP BY 1"),
             primary_key="author"):  # fmt: skip
    author: ForeignKey[VAuthor]
    books: Field[int]


def authors(extra: str = "", *, text: bool = False) -> Callable[[], None]:
    def declare() -> None:
        class Author(Model, table="author", timestamps=False):
            author_id: Field[int] = field(primary_key=True)
            name: Field[str]
            if text:
                born: Field[str | None] = field(default=None)
            else:
                born: Field[int | None] = field(default=None)  # type: ignore[no-redef]

        class Names(Model, table="names", view=sql(f"SELECT author_id, name{extra}, born FROM author"),
                    primary_key="author_id"):  # fmt: skip
            author_id: Field[int]
            name: Field[str]
            if extra:
                initial: Field[str]
            if text:
                born: Field[str | None]
            else:
                born: Field[int | None]  # type: ignore[no-redef]

        class Top(Model, table="top", view=sql("SELECT name FROM names"), materialized=True, with_data=False,
                  indexes=(Index(columns=("name",), unique=True, name="top_name"),)):  # fmt: skip
            name: Field[str]

    return declare


def test_golden_ddl_creates_views_after_tables_and_drops_them_first() -> None:
    created = steps(plan(None, authors()))
    assert [label for label, *_ in created] == ["AddTable author", "CreateView names", "CreateView top"]
    assert created[1][1:3] == (
        'CREATE VIEW "names" AS\nSELECT author_id, name, born FROM author;',
        'DROP VIEW "names";',
    )
    assert created[2][1:3] == (
        'CREATE MATERIALIZED VIEW "top" AS\nSELECT name FROM names WITH NO DATA;\n'
        'CREATE UNIQUE INDEX "top_name" ON "top" ("name");',
        'DROP MATERIALIZED VIEW "top";',
    )
    dropped = steps(plan(authors(), None))
    assert [label for label, *_ in dropped] == ["DropView top", "DropView names", "DropTable author"]
    assert snap(authors()).views["top"].with_data is False


def test_a_compatible_change_replaces_the_view_and_a_column_change_rebuilds_it() -> None:
    def alone(extra: str) -> Callable[[], None]:
        def declare() -> None:
            class Author(Model, table="author", timestamps=False):
                author_id: Field[int] = field(primary_key=True)
                name: Field[str]

            class Names(Model, table="names", view=sql(f"SELECT author_id{extra} FROM author"),
                        primary_key="author_id"):  # fmt: skip
                author_id: Field[int]
                if extra:
                    name: Field[str]

        return declare

    replaced = steps(plan(alone(""), alone(", name")))
    assert replaced == [(
        "ReplaceView names", 'CREATE OR REPLACE VIEW "names" AS\nSELECT author_id, name FROM author;',
        'DROP VIEW "names";\nCREATE VIEW "names" AS\nSELECT author_id FROM author;', True,
    )]  # fmt: skip
    # names is read by top: replacing it could not be rolled back, so both are rebuilt, top first
    rebuilt = [label for label, *_ in steps(plan(authors(), authors(", name AS initial")))]
    assert rebuilt == ["DropView top", "DropView names", "CreateView names", "CreateView top"]
    # a column names reads changes type: the views go first and come back after the ALTER
    retyped = [label for label, *_ in steps(plan(authors(), authors(text=True)))]
    assert retyped == ["DropView top", "DropView names", "AlterColumn author.born ChangeType BIGINT -> TEXT",
                       "CreateView names", "CreateView top"]  # fmt: skip
    assert steps(plan(authors(), authors())) == []


def test_a_query_value_view_compiles_with_literals_and_checks_the_fields() -> None:
    assert descriptor(VCounts).view is not None
    assert descriptor(VCounts).view.query == (  # type: ignore[union-attr]
        'SELECT "v_book"."author_id" AS "author_id", count(*) AS "n" FROM "v_book" GROUP BY "v_book"."author_id"'
    )
    with registry_scope(isolated=True):

        class VAuthor(Model, table="v_author", timestamps=False):
            author_id: Field[int] = field(primary_key=True)
            name: Field[str]
            born: Field[int | None] = field(default=None)

        class Old(Model, table="old", view=VAuthor.objects.filter(VAuthor.name != "it's").values(
                name=VAuthor.name, born=VAuthor.born)):  # fmt: skip
            name: Field[str]
            born: Field[int | None]

        query = descriptor(Old).view.query  # type: ignore[union-attr]
        assert query.endswith("""WHERE "v_author"."name" <> 'it''s'::text""")
        with pytest.raises(ModelDefinitionError, match=r"Bad\.born: the view's query may return NULL"):

            class Bad(Model, table="bad", view=VAuthor.objects.values(born=VAuthor.born)):
                born: Field[int]

        with pytest.raises(ModelDefinitionError, match=r"returns the columns \['name'\], but the model declares"):

            class Bad2(Model, table="bad2", view=VAuthor.objects.values(name=VAuthor.name)):
                title: Field[str]


@pytest.mark.parametrize(("options", "message"), [
    ({"view": "SELECT 1"}, "view= takes djogi.sql"),
    ({"materialized": True}, "materialized= applies to a view model"),
    ({"view": sql("SELECT 1 AS x"), "with_data": False}, "with_data= applies to a materialized view"),
    ({"view": sql("SELECT 1 AS x"), "outbox": True}, "outbox= does not apply to a view"),
    ({"view": sql("SELECT 1 AS x"), "indexes": (Index(columns=("x",)),)}, "indexes= does not apply to a view"),
])  # fmt: skip
def test_refused_declarations(options: dict[str, object], message: str) -> None:
    with registry_scope(isolated=True), pytest.raises(ModelDefinitionError, match=message):

        class X(Model, table="x", **options):  # type: ignore[misc]
            x: Field[int]


def test_sql_refuses_anything_but_one_query() -> None:
    for text, message in (
        ("SELECT 1; DROP TABLE x", "is not one query"),
        ("SELECT $1", "bind parameters"),
        ("DELETE FROM x", "is not one query"),
        ("SELECT * FROM x FOR UPDATE", "row locks"),
    ):
        with pytest.raises(ModelDefinitionError, match=message):
            sql(text)
    with registry_scope(isolated=True), pytest.raises(ModelDefinitionError, match="declares a table column"):

        class Y(Model, table="y", view=sql("SELECT 1 AS x")):
            x: Field[int] = field(unique=True)


@pytest.fixture
async def vdb(db: Database, pg: psycopg.AsyncConnection[TupleRow]) -> Database:
    for up in creating(projected(VAuthor, VBook, VNames, VCounts, VShelf)):
        await pg.execute(up.encode())
    return db


async def test_reads_through_a_view_and_refresh(vdb: Database) -> None:
    await vdb.execute(insert_many(VAuthor, [VAuthor(author_id=1, name="ann"), VAuthor(author_id=2, name="bo")]))
    await vdb.execute(insert_many(VBook, [VBook(book_id=i, author_id=1 + i % 2, title="t") for i in range(5)]))
    assert await vdb.all(VNames.objects.order_by(VNames.author_id)) == [VNames(author_id=1, shout="ANN"),
                                                                        VNames(author_id=2, shout="BO")]  # fmt: skip
    assert await vdb.get(VNames, 2) == VNames(author_id=2, shout="BO")
    assert await vdb.all(VNames.objects.filter(VNames.shout == "ANN")) == [VNames(author_id=1, shout="ANN")]
    await vdb.refresh_view(VCounts)  # created WITH NO DATA: the first refresh fills it
    await vdb.refresh_view(VCounts, concurrently=True)
    assert await vdb.all(VCounts.objects.order_by(VCounts.author_id)) == [VCounts(author_id=1, n=3),
                                                                          VCounts(author_id=2, n=2)]  # fmt: skip
    with pytest.raises(ValidationError, match="VNames is not a materialized view"):
        await vdb.refresh_view(VNames)
    # relations from a view model to a table: joined, prefetched both ways
    shelves = await vdb.all(VShelf.objects.select_related(VShelf.author).order_by(VShelf.author))
    assert [(author.name, shelf.books) for shelf, author in shelves] == [("ann", 3), ("bo", 2)]
    loaded = await vdb.all(VAuthor.objects.order_by(VAuthor.author_id).prefetch(VAuthor.v_shelf))
    assert [[s.books for s in a.v_shelf] for a in loaded] == [[3], [2]]


async def test_every_write_to_a_view_is_refused_by_name(vdb: Database) -> None:
    row = VNames(author_id=1, shout="X")
    writes = [
        lambda: vdb.create(row), lambda: vdb.save(row), lambda: vdb.delete(row), lambda: vdb.bulk_create([row]),
        lambda: vdb.execute(insert_many(VNames, [row])), lambda: vdb.execute(VNames.objects.update(shout="Y")),
        lambda: vdb.execute(VNames.objects.delete()), lambda: vdb.get_or_create(row, lookup=("author_id",)),
        lambda: vdb.create_or_find(row, lookup=("author_id",)), lambda: vdb.bulk_update([row], ["shout"]),
        lambda: vdb.bulk_insert([row], conflict_target=("author_id",)),
        lambda: vdb.bulk_upsert([row], ("author_id",), ("shout",)),
        lambda: vdb.update_or_create(row, lookup=("author_id",)),
        lambda: vdb.execute(update_many(VNames, [row], ["shout"])),
    ]  # fmt: skip
    for write in writes:
        with pytest.raises(ValidationError, match=r"VNames: .* refused: VNames is a view \(v_names\), which is read"):
            await write()
    with pytest.raises(ValidationError, match="refresh it"):
        await vdb.create(VCounts(author_id=1, n=1))


def test_concurrent_refresh_needs_a_unique_index() -> None:
    with registry_scope(isolated=True):

        class Plain(Model, table="plain", view=sql("SELECT 1 AS x"), materialized=True):
            x: Field[int]

        assert "needs a unique index" in (descriptor(Plain).refresh_problem(concurrently=True) or "")
        assert descriptor(Plain).refresh_problem(concurrently=False) is None


def test_the_catalog_reads_views_back_in_the_servers_spelling(pg_sync: psycopg.Connection[TupleRow]) -> None:
    with registry_scope(isolated=True):
        authors()()
        declared = project(models(), "main", None).unwrap()
    for up in creating(declared):
        pg_sync.execute(up.encode())
    live = introspect(pg_sync, tables=["author", "names", "top"])
    assert live.views["names"].definition == "SELECT author_id,\n    name,\n    born\n   FROM author"
    assert live.views["top"].indexes == declared.views["top"].indexes
    assert server_spelled(pg_sync, declared, live).structure() == live.structure()


def test_verify_reports_a_view_changed_by_hand(db_url: str, tmp_path: Path) -> None:
    with registry_scope(isolated=True):
        authors()()
        changed = drift_after(db_url, tmp_path,
                              "CREATE OR REPLACE VIEW names AS SELECT author_id, lower(name) AS name, born FROM author")
    assert changed == [("D647", "names")]


def test_inspect_writes_sql_views_that_project_to_what_the_catalog_has(pg_sync: psycopg.Connection[TupleRow]) -> None:
    with registry_scope(isolated=True):
        authors()()
        declared = project(models(), "main", None).unwrap()
    for up in creating(declared):
        pg_sync.execute(up.encode())
    live = introspect(pg_sync, tables=["author", "names", "top"])
    source = model_source(live)
    assert (
        'class Top(\n    Model,\n    table="top",\n    view=djogi.sql("SELECT name\\n   FROM names"),\n'
        '    materialized=True,\n    with_data=False,\n    indexes=(\n        Index(columns=("name",), '
        'name="top_name", unique=True),\n    ),\n):\n    name: Field[str | None] = field(default=None)'
    ) in source
    assert declared_by(source) == live.structure()


def test_indexes_and_with_data_of_a_kept_materialized_view_change_in_place() -> None:
    def top(with_data: bool, unique: bool) -> Callable[[], None]:
        def declare() -> None:
            class Top(Model, table="top", view=sql("SELECT 1 AS n"), materialized=True, with_data=with_data,
                      indexes=(Index(columns=("n",), unique=unique, name="top_n"),)):  # fmt: skip
                n: Field[int]

        return declare

    changed = steps(plan(top(False, True), top(True, False)))
    assert changed == [
        ("DropIndex top_n", 'DROP INDEX CONCURRENTLY IF EXISTS "top_n";', 'CREATE UNIQUE INDEX "top_n" ON "top" ("n");',
         False),
        ("AddIndex top_n", 'CREATE INDEX CONCURRENTLY "top_n" ON "top" ("n");', 'DROP INDEX IF EXISTS "top_n";', False),
        ("RefreshView top", 'REFRESH MATERIALIZED VIEW "top";', 'REFRESH MATERIALIZED VIEW "top" WITH NO DATA;',
         True),
    ]  # fmt: skip
    assert lint_sql((label, up, transactional) for label, up, _, transactional in changed) == []
    created = steps(plan(None, authors()))
    assert lint_sql((label, up, transactional) for label, up, _, transactional in created) == []


def test_an_unmanaged_view_model_is_read_but_never_migrated() -> None:
    def declare() -> None:
        class Outside(Model, table="outside", view=sql("SELECT 1 AS x"), managed=False):
            x: Field[int]

    assert snap(declare).views == {}


def test_views_are_rebuilt_around_a_table_change_and_rolled_back(db_url: str, tmp_path: Path) -> None:
    def converged(expected: Snapshot) -> bool:
        with psycopg.connect(db_url, autocommit=True) as conn:
            live = introspect(conn, tables=["author", "names", "top"])
            return server_spelled(conn, expected, live).structure() == live.structure()

    history = []
    for step, declare in enumerate((authors(), authors(text=True))):
        with registry_scope(isolated=True):
            declare()
            when = dt.datetime(2026, 1, 1 + step, tzinfo=dt.UTC)
            plan = compose(tmp_path, models(), when, allow_destructive=True).unwrap()
        apply(db_url, tmp_path)
        history.append(plan.buckets[0].snapshot)
        assert converged(history[-1])
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("REFRESH MATERIALIZED VIEW top")
        conn.execute("INSERT INTO author VALUES (1, 'ann', '1900')")
        assert conn.execute("SELECT born FROM names").fetchall() == [("1900",)]
    report = rollback(db_url, tmp_path, Bucket("main"), allow_data_loss=True, reason="test")
    assert report.ok, report.diagnostics
    assert converged(history[0])
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("SELECT born FROM names").fetchall() == [(1900,)]


def test_verify_reports_a_sql_view_whose_columns_differ_from_its_model(db_url: str, tmp_path: Path) -> None:
    with registry_scope(isolated=True):

        class Odd(Model, table="odd", view=sql("SELECT 1::bigint AS n, 'x' AS label")):
            n: Field[str]
            label: Field[str]

        compose(tmp_path, models(), dt.datetime(2026, 1, 1, tzinfo=dt.UTC), slug="odd").unwrap()
        apply(db_url, tmp_path)
        report = verify(db_url, tmp_path, Bucket("main"), models=models())
    assert [(d.code, d.subject) for d in report.diagnostics] == [("D647", "odd")]
    assert "columns [('n', 'BIGINT'), ('label', 'TEXT')]; snapshot: [('n', 'TEXT'), ('label', 'TEXT')]" in (
        report.diagnostics[0].message)  # fmt: skip
