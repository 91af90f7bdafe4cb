"""Correlated subqueries (``outer()``) in UPDATE / DELETE / MERGE / ON CONFLICT DO UPDATE / INSERT ... SELECT:
golden SQL and parameters, the refusals of an ``outer()`` with no enclosing query, the compile cache, and
the rows changed on the server."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from djogi import Field, ForeignKey, Model, Reverse, ValidationError, field
from djogi.algebra import (
    aliased,
    derived,
    excluded,
    exists,
    in_query,
    insert,
    insert_from,
    merge,
    outer,
    scalar,
    select,
    select_from,
    with_,
)
from djogi.algebra.compile import cache_clear, cache_size, compile
from djogi.executor import Database

pytestmark = pytest.mark.anyio


class COrg(Model, table="cd_orgs"):
    name: Field[str] = field(unique=True)
    note: Field[str | None] = field(default=None)


class CProject(Model, table="cd_projects"):
    org: Field[int]
    name: Field[str]


class CTask(Model, table="cd_tasks"):
    project: Field[int]
    title: Field[str]


ORG, PRJ, TSK = '"cd_orgs"', '"cd_projects"', '"cd_tasks"'
HAS_PROJECT = f'EXISTS (SELECT 1 FROM {PRJ} WHERE {PRJ}."org" = {ORG}."id")'


def has_project() -> Any:
    return exists(CProject.objects.where(CProject.org == outer(COrg.id)))


def has_task_named_like_org(project_name: str) -> Any:
    """Orgs with a project called ``project_name`` holding a task titled as the org: two levels deep."""
    tasks = CTask.objects.where(CTask.project == outer(CProject.id), CTask.title == outer(outer(COrg.name)))
    return exists(CProject.objects.where(CProject.org == outer(COrg.id), CProject.name == project_name, exists(tasks)))


NESTED = (
    f'EXISTS (SELECT 1 FROM {PRJ} WHERE ({PRJ}."org" = {ORG}."id" AND {PRJ}."name" = $2::text AND '
    f'EXISTS (SELECT 1 FROM {TSK} WHERE ({TSK}."project" = {PRJ}."id" AND {TSK}."title" = {ORG}."name"))))'
)

GOLDEN: list[tuple[str, Any, str, tuple[object, ...]]] = [
    (
        "update where exists",
        lambda: COrg.objects.where(has_project()).update(note="busy"),
        f'UPDATE {ORG} SET "note" = $1::text, "updated_at" = now() WHERE {HAS_PROJECT}',
        ("busy",),
    ),
    (
        "delete where not exists",
        lambda: COrg.objects.where(~has_project()).delete(),
        f"DELETE FROM {ORG} WHERE NOT {HAS_PROJECT}",
        (),
    ),
    (
        "update where in (correlated subquery), returning",
        lambda: (
            COrg.objects.where(
                COrg.id.in_(CProject.objects.where(CProject.name == outer(COrg.name)).values(CProject.org))
            )
            .update(note="self-named")
            .with_returning(COrg.name)
        ),
        f'UPDATE {ORG} SET "note" = $1::text, "updated_at" = now() WHERE {ORG}."id" IN '
        f'(SELECT {PRJ}."org" FROM {PRJ} WHERE {PRJ}."name" = {ORG}."name") RETURNING {ORG}."name"',
        ("self-named",),
    ),
    (
        "delete where in_query, negated",
        lambda: COrg.objects.where(
            ~in_query(COrg.id, CProject.objects.where(CProject.name == outer(COrg.name)).values(CProject.org))
        ).delete(),
        f'DELETE FROM {ORG} WHERE ({ORG}."id" IN (SELECT {PRJ}."org" FROM {PRJ} WHERE {PRJ}."name" = {ORG}."name")) '
        "IS NOT TRUE",
        (),
    ),
    (
        "update, two levels deep",
        lambda: COrg.objects.where(has_task_named_like_org("main")).update(note="nested"),
        f'UPDATE {ORG} SET "note" = $1::text, "updated_at" = now() WHERE {NESTED}',
        ("nested", "main"),
    ),
    (
        "delete, two levels deep, with a plain filter after",
        lambda: COrg.objects.where(has_task_named_like_org("main"), COrg.note != "keep").delete(),
        f'DELETE FROM {ORG} WHERE ({NESTED.replace("$2", "$1")} AND {ORG}."note" <> $2::text)',
        ("main", "keep"),
    ),
    (
        "update set from a correlated scalar subquery",
        lambda: COrg.objects.where(has_project()).update(
            note=scalar(
                CProject.objects.where(CProject.org == outer(COrg.id))
                .order_by(CProject.name)
                .limit(1)
                .values(CProject.name)
            )
        ),
        f'UPDATE {ORG} SET "note" = (SELECT {PRJ}."name" FROM {PRJ} WHERE {PRJ}."org" = {ORG}."id" '
        f'ORDER BY {PRJ}."name" ASC LIMIT 1), "updated_at" = now() WHERE {HAS_PROJECT}',
        (),
    ),
    (
        "delete correlated to an aliased copy of the target (keep the first of each name)",
        lambda: COrg.objects.where(exists(dupes())).delete(),
        f'DELETE FROM {ORG} WHERE EXISTS (SELECT 1 FROM {ORG} AS "o2" WHERE ("o2"."note" = {ORG}."note" AND '
        f'"o2"."id" < {ORG}."id"))',
        (),
    ),
    (
        "insert_from whose source has a correlated subquery (correlated to the source)",
        lambda: insert_from(
            CTask,
            CProject.objects.where(~exists(CTask.objects.where(CTask.project == outer(CProject.id)))).values(
                CProject.id, CProject.name
            ),
            [CTask.project, CTask.title],
        ),
        f'INSERT INTO {TSK} ("project", "title") SELECT {PRJ}."id", {PRJ}."name" FROM {PRJ} '
        f'WHERE NOT EXISTS (SELECT 1 FROM {TSK} WHERE {TSK}."project" = {PRJ}."id")',
        (),
    ),
]


def dupes() -> Any:
    o2 = aliased(COrg, "o2")
    return select_from(o2).where(o2.note == outer(COrg.note), o2.id < outer(COrg.id))


@pytest.mark.parametrize(("label", "build", "sql", "params"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_sql(label: str, build: Any, sql: str, params: tuple[object, ...]) -> None:
    stmt = compile(build())
    assert stmt.sql == sql
    assert stmt.params == params


def restock_notes() -> Any:
    """MERGE whose ON and WHEN conditions hold subqueries correlated on the target row."""
    src = derived(CProject.objects.values(org=CProject.org, name=CProject.name), "src")
    tasks_of_org = exists(
        CTask.objects.where(CTask.project.in_(CProject.objects.where(CProject.org == outer(outer(COrg.id)))
                                              .values(CProject.id)))
    )  # fmt: skip
    return (
        merge(COrg, src, (src.col("org") == COrg.id) & has_project())
        .when_matched_update({"note": src.col("name")}, where=tasks_of_org)
        .when_matched_do_nothing()
    )


def test_merge_golden_sql() -> None:
    stmt = restock_notes().sql()
    assert stmt.sql == (
        f'MERGE INTO {ORG} USING (SELECT {PRJ}."org" AS "org", {PRJ}."name" AS "name" FROM {PRJ}) AS "src" '
        f'ON ("src"."org" = {ORG}."id" AND {HAS_PROJECT}) '
        f'WHEN MATCHED AND EXISTS (SELECT 1 FROM {TSK} WHERE {TSK}."project" IN '
        f'(SELECT {PRJ}."id" FROM {PRJ} WHERE {PRJ}."org" = {ORG}."id")) '
        f'THEN UPDATE SET "note" = "src"."name", "updated_at" = now() '
        f"WHEN MATCHED THEN DO NOTHING"
    )
    assert stmt.params == ()


def upsert_org(name: str, note: str) -> Any:
    """``ON CONFLICT (name) DO UPDATE SET note = excluded.note WHERE <the existing org has a project>``."""
    return (
        insert(COrg, [COrg(name=name, note=note)])
        .on_conflict(COrg.name)
        .do_update({"note": excluded(COrg.note)}, where=has_project())
    )


def test_on_conflict_do_update_golden_sql() -> None:
    stmt = upsert_org("a", "n").without_returning().sql()
    assert stmt.sql == (
        f'INSERT INTO {ORG} ("name", "note") VALUES ($1::text, $2::text) ON CONFLICT ("name") '
        f'DO UPDATE SET "note" = "excluded"."note" WHERE {HAS_PROJECT}'
    )
    assert stmt.params == ("a", "n")


def upsert_org_with_main_project(name: str, note: str) -> Any:
    """As ``upsert_org``, the subquery reading a CTE: the CTE is hoisted to the statement's WITH."""
    main = with_("main", CProject.objects.where(CProject.name == "main"))
    return (
        insert(COrg, [COrg(name=name, note=note)])
        .on_conflict(COrg.name)
        .do_update(
            {"note": excluded(COrg.note)}, where=exists(select_from(main).where(main.col("org") == outer(COrg.id)))
        )
        .without_returning()
    )


def test_on_conflict_do_update_subquery_keeps_its_cte() -> None:
    stmt = upsert_org_with_main_project("a", "n").sql()
    assert stmt.sql == (
        f'WITH "main" AS (SELECT {PRJ}."id", {PRJ}."created_at", {PRJ}."updated_at", {PRJ}."org", {PRJ}."name" '
        f'FROM {PRJ} WHERE {PRJ}."name" = $3::text) '
        f'INSERT INTO {ORG} ("name", "note") VALUES ($1::text, $2::text) ON CONFLICT ("name") '
        f'DO UPDATE SET "note" = "excluded"."note" WHERE EXISTS (SELECT 1 FROM "main" WHERE "main"."org" = {ORG}."id")'
    )
    assert stmt.params == ("a", "n", "main")


REFUSED: list[tuple[str, Any]] = [
    ("update where", lambda: COrg.objects.where(COrg.name == outer(COrg.name)).update(note="x")),
    ("delete where", lambda: COrg.objects.where(COrg.id == outer(COrg.id)).delete()),
    ("update set", lambda: COrg.objects.update(note=outer(COrg.name))),
    ("subquery of an update, two levels up",
     lambda: COrg.objects.where(exists(CProject.objects.where(CProject.org == outer(outer(COrg.id))))).delete()),
    ("merge on", lambda: merge(COrg, derived(CProject.objects.values(org=CProject.org), "s"),
                               outer(COrg.id) == 1).when_matched_delete()),
    ("merge using", lambda: merge(COrg, derived(CProject.objects.where(CProject.org == outer(COrg.id))
                                                .values(org=CProject.org), "s"), COrg.id == 1).when_matched_delete()),
    ("insert_from source", lambda: insert_from(CTask, CProject.objects.where(CProject.id == outer(CTask.project))
                                               .values(CProject.id, CProject.name), [CTask.project, CTask.title])),
    ("cte body", lambda: select_from(with_("c", COrg.objects.where(COrg.id == outer(CProject.org))))),
    ("update in a cte body", lambda: select_from(with_("c", COrg.objects.where(COrg.id == outer(COrg.id))
                                                       .update(note="x").with_returning()))),
]  # fmt: skip


@pytest.mark.parametrize(("label", "build"), REFUSED, ids=[r[0] for r in REFUSED])
def test_outer_with_no_enclosing_query_is_refused(label: str, build: Any) -> None:
    with pytest.raises(ValidationError, match=r"is used outside a subquery.*without outer\(\)"):
        compile(build())


def test_compile_cache_keys_on_correlation_not_values() -> None:
    cache_clear()
    a = compile(COrg.objects.where(has_project()).update(note="a"))
    b = compile(COrg.objects.where(has_project()).update(note="b"))
    assert cache_size() == 1
    assert (b.sql, b.params) == (a.sql, ("b",))
    by_id = exists(CProject.objects.where(CProject.id == outer(COrg.id)))
    c = compile(COrg.objects.where(by_id).update(note="a"))
    assert cache_size() == 2
    assert c.sql == a.sql.replace(f'{PRJ}."org" = {ORG}."id"', f'{PRJ}."id" = {ORG}."id"') != a.sql
    d = compile(COrg.objects.where(has_task_named_like_org("x")).delete())
    e = compile(COrg.objects.where(has_task_named_like_org("y")).delete())
    assert cache_size() == 3
    assert (e.sql, d.params, e.params) == (d.sql, ("x",), ("y",))
    cache_clear()


# ------------------------------------------------------------------------------------------ on the server

FRAMEWORK = (
    "id bigint PRIMARY KEY DEFAULT heerid_next_desc(), created_at timestamptz NOT NULL DEFAULT now(), "
    "updated_at timestamptz NOT NULL DEFAULT now()"
)


@pytest.fixture
async def orgs(db: Database) -> Database:
    """Orgs a (projects p1 with task "a", p2), b (project q1 with task "x"), c (no project)."""
    await db.raw(f"CREATE TABLE cd_orgs ({FRAMEWORK}, name text NOT NULL UNIQUE, note text)")
    await db.raw(f"CREATE TABLE cd_projects ({FRAMEWORK}, org bigint NOT NULL, name text NOT NULL)")
    await db.raw(f"CREATE TABLE cd_tasks ({FRAMEWORK}, project bigint NOT NULL, title text NOT NULL)")
    a, b, _ = await db.bulk_create([COrg(name="a"), COrg(name="b"), COrg(name="c")])
    p1, _, q1 = await db.bulk_create(
        [CProject(org=a.id, name="main"), CProject(org=a.id, name="side"), CProject(org=b.id, name="main")]
    )
    await db.bulk_create([CTask(project=p1.id, title="a"), CTask(project=q1.id, title="x")])
    return db


async def notes(db: Database) -> dict[str, str | None]:
    return {o.name: o.note for o in await db.all(select(COrg))}


async def test_update_only_orgs_with_a_project(orgs: Database) -> None:
    assert await orgs.execute(COrg.objects.where(has_project()).update(note="busy")) == 2
    assert await notes(orgs) == {"a": "busy", "b": "busy", "c": None}


async def test_delete_only_orgs_without_a_project(orgs: Database) -> None:
    assert await orgs.execute(COrg.objects.where(~has_project()).delete()) == 1
    assert await notes(orgs) == {"a": None, "b": None}


async def test_update_set_from_a_correlated_scalar(orgs: Database) -> None:
    first = scalar(CProject.objects.where(CProject.org == outer(COrg.id)).order_by(CProject.name).limit(1)
                   .values(CProject.name))  # fmt: skip
    assert await orgs.execute(COrg.objects.where(has_project()).update(note=first)) == 2
    assert await notes(orgs) == {"a": "main", "b": "main", "c": None}


async def test_two_levels_deep(orgs: Database) -> None:
    # only a has a "main" project holding a task titled "a"; b's task is titled "x"
    assert await orgs.execute(COrg.objects.where(has_task_named_like_org("main")).update(note="nested")) == 1
    assert await notes(orgs) == {"a": "nested", "b": None, "c": None}
    assert await orgs.execute(COrg.objects.where(~has_task_named_like_org("main")).delete()) == 2
    assert await notes(orgs) == {"a": "nested"}


async def test_in_correlated_subquery(orgs: Database) -> None:
    await orgs.bulk_create([CProject(org=(await orgs.one(COrg.objects.where(COrg.name == "c"))).id, name="c")])
    self_named = CProject.objects.where(CProject.name == outer(COrg.name)).values(CProject.org)
    rows = await orgs.execute(COrg.objects.where(COrg.id.in_(self_named)).update(note="self").with_returning(COrg.name))
    assert [r.name for r in rows] == ["c"]
    assert await orgs.execute(COrg.objects.where(~in_query(COrg.id, self_named)).delete()) == 2
    assert await notes(orgs) == {"c": "self"}


async def test_delete_correlated_to_an_aliased_copy(orgs: Database) -> None:
    await orgs.execute(COrg.objects.update(note="same"))
    first = min(o.id for o in await orgs.all(select(COrg)))
    assert await orgs.execute(COrg.objects.where(exists(dupes())).delete()) == 2
    assert [o.id for o in await orgs.all(select(COrg))] == [first]


async def test_merge_with_correlated_on_and_when(orgs: Database) -> None:
    # one source row per org (PostgreSQL refuses to update a row twice): drop a's second project
    await orgs.execute(CProject.objects.where(CProject.name == "side").delete())
    stmt = restock_notes()
    assert await orgs.execute(stmt) == 2
    assert await notes(orgs) == {"a": "main", "b": "main", "c": None}
    await orgs.execute(CTask.objects.where(CTask.title == "x").delete())
    await orgs.execute(COrg.objects.update(note=None))
    assert await orgs.execute(stmt) == 1  # b has no task now: its arm is DO NOTHING (not counted)
    assert await notes(orgs) == {"a": "main", "b": None, "c": None}


async def test_on_conflict_do_update_correlated(orgs: Database) -> None:
    assert await orgs.execute(upsert_org("a", "kept").without_returning()) == 1
    assert await orgs.execute(upsert_org("c", "ignored").without_returning()) == 0  # c has no project
    assert await notes(orgs) == {"a": "kept", "b": None, "c": None}
    await orgs.execute(CProject.objects.where(CProject.org == (await orgs.one(COrg.objects.where(COrg.name == "b"))).id)
                       .update(name="other"))  # fmt: skip
    assert await orgs.execute(upsert_org_with_main_project("a", "main")) == 1
    assert await orgs.execute(upsert_org_with_main_project("b", "no main project")) == 0
    assert await notes(orgs) == {"a": "main", "b": None, "c": None}


async def test_insert_from_with_a_correlated_source(orgs: Database) -> None:
    stmt = GOLDEN[-1][1]()
    assert await orgs.execute(stmt) == 1  # only "side" had no task
    titles = sorted(t.title for t in await orgs.all(select(CTask)))
    assert titles == ["a", "side", "x"]


# ------------------------------------------------------------------------------------------ relation paths


class RAuthor(Model, table="cd_authors"):
    name: Field[str]
    books: ClassVar[Reverse[RBook]]


class RBook(Model, table="cd_books"):
    title: Field[str]
    author: ForeignKey[RAuthor] = field(on_delete="cascade", related_name="books")


AUT, BK = '"cd_authors"', '"cd_books"'
BY_ANN = f'EXISTS (SELECT 1 FROM {AUT} WHERE ({AUT}."id" = {BK}."author_id" AND {AUT}."name" = $2::text))'
BOOKS_OF = f'FROM {BK} WHERE {BK}."author_id" = {AUT}."id"'


def test_relation_paths_in_updates_and_deletes_sql() -> None:
    """A relation path, ``.none()`` and ``.count()`` compile to subqueries correlated through ``outer()``."""
    up = RBook.objects.where(RBook.author.to(RAuthor.name) == "Ann").update(title="x").sql()
    assert (up.sql, up.params) == (
        f'UPDATE {BK} SET "title" = $1::text, "updated_at" = now() WHERE {BY_ANN}',
        ("x", "Ann"),
    )
    de = RAuthor.objects.where(RAuthor.books.none()).delete().sql()
    assert (de.sql, de.params) == (f"DELETE FROM {AUT} WHERE NOT EXISTS (SELECT 1 {BOOKS_OF})", ())
    busy = RAuthor.objects.where(RAuthor.books.count() > 1).update(name="busy").sql()
    assert busy.sql == (
        f'UPDATE {AUT} SET "name" = $1::text, "updated_at" = now() WHERE (SELECT count(*) {BOOKS_OF}) > $2::bigint'
    )
    assert busy.params == ("busy", 1)


async def test_relation_paths_in_updates_and_deletes(db: Database) -> None:
    await db.raw(f"CREATE TABLE cd_authors ({FRAMEWORK}, name text NOT NULL)")
    await db.raw(f"CREATE TABLE cd_books ({FRAMEWORK}, title text NOT NULL, author_id bigint NOT NULL)")
    ann, bob, _ = await db.bulk_create([RAuthor(name="Ann"), RAuthor(name="Bob"), RAuthor(name="Cy")])
    await db.bulk_create([RBook(title="a1", author=ann.id), RBook(title="a2", author=ann.id),
                          RBook(title="b1", author=bob.id)])  # fmt: skip
    assert await db.execute(RBook.objects.where(RBook.author.to(RAuthor.name) == "Ann").update(title="ann's")) == 2
    assert sorted(b.title for b in await db.all(select(RBook))) == ["ann's", "ann's", "b1"]
    assert await db.execute(RAuthor.objects.where(RAuthor.books.count() > 1).update(name="busy")) == 1
    assert await db.execute(RAuthor.objects.where(RAuthor.books.none()).delete()) == 1
    assert sorted(a.name for a in await db.all(select(RAuthor))) == ["Bob", "busy"]
