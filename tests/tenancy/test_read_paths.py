"""TenantRequired for every tenant-keyed model a statement reads or writes, not only its base model.

Without a tenant, row-level security hides a tenant-keyed table's rows: a join returns fewer rows, an
EXISTS is false, an UPDATE filtered by a subquery touches nothing. Each statement here has a plain base
model (``Org``) and reads the tenant-keyed ``Project`` somewhere else; each must raise ``TenantRequired``
naming ``Project`` rather than answer from the hidden rows, and must answer with a tenant or the bypass.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from djogi import TenantRequired, param
from djogi.algebra import derived, exists, insert_from, merge, with_
from djogi.algebra.compile import compile
from djogi.algebra.outputs import lateral
from djogi.algebra.query import Select, count_of
from djogi.algebra.subquery import outer
from djogi.executor import Database
from tests.tenancy.helpers import Org, Project, Task, migrate

pytestmark = pytest.mark.anyio

NEEDS = "Project is tenant-keyed"


@pytest.fixture
async def app(db_url: str, app_db: Database, tmp_path: Path) -> Database:
    migrate(db_url, tmp_path)
    admin = app_db.insecurely()
    org = await admin.create(Org(name="o"))
    await admin.create(Org(name="lonely"))
    await admin.create(Project(tenant_id=1, name="o", org=org.id))
    return app_db


def _joined() -> Select[Any]:
    return Org.objects.join(Project, Project.org == Org.id)


def _exists() -> Select[Org]:
    return Org.objects.where(exists(Project.objects.where(Project.org == outer(Org.id))))


def _in() -> Select[Org]:
    return Org.objects.where(Org.id.in_(Project.objects.values(Project.org)))


def _cte() -> Select[Any]:
    src = with_("ps", Project.objects.values(Project.org))
    return Org.objects.join(src, src.col("org_id") == Org.id, fetch=False)


def _derived() -> Select[Any]:
    src = derived(Project.objects.values(Project.org), "d")
    return Org.objects.join(src, src.col("org_id") == Org.id, fetch=False)


def _lateral() -> Select[Any]:
    src = lateral(Project.objects.where(Project.org == outer(Org.id)).values(Project.name), "l")
    return Org.objects.join(src, fetch=False, kind="CROSS")


QUERIES: dict[str, Callable[[], Select[Any]]] = {
    "join": _joined, "exists": _exists, "in": _in, "cte": _cte, "derived": _derived, "lateral": _lateral,
}  # fmt: skip


@pytest.mark.parametrize("shape", list(QUERIES))
async def test_every_terminal_refuses_a_query_reading_a_tenant_keyed_model_without_a_tenant(
    app: Database, shape: str
) -> None:
    q = QUERIES[shape]()
    one_value = q.values(Org.id)
    reads: list[Callable[[], Awaitable[object]]] = [
        lambda: app.all(q), lambda: app.count(q), lambda: app.exists(q), lambda: app.first(q),
        lambda: app.values(one_value), lambda: app.scalar(one_value),
    ]  # fmt: skip
    for read in reads:
        with pytest.raises(TenantRequired, match=NEEDS):
            await read()
    assert await app.with_tenant(1).count(q) == 1
    assert await app.insecurely().count(q) == 1


async def test_a_set_operation_with_a_tenant_keyed_arm_needs_a_tenant(app: Database) -> None:
    union = Org.objects.values(Org.name).union(Project.objects.values(Project.name))
    union_all = Project.objects.values(Project.name).union_all(Org.objects.values(Org.name))
    for q, rows in ((union, 2), (union_all, 3)):  # union_all: the project's row "o" and the orgs' "o", "lonely"
        for read in (app.all, app.count, app.exists, app.values):
            with pytest.raises(TenantRequired, match=NEEDS):
                await read(q)
        assert await app.with_tenant(1).count(q) == rows


async def test_a_plain_query_needs_no_tenant(app: Database) -> None:
    assert await app.count(Org.objects) == 2
    assert await app.count(Org.objects.values(Org.name).union(Org.objects.values(Org.name))) == 2


async def test_a_stream_of_a_join_needs_a_tenant(app: Database) -> None:
    async with app.atomic():
        with pytest.raises(TenantRequired, match=NEEDS):
            app.stream(_joined())


async def test_a_pipeline_refuses_a_join_and_a_subquery_write_without_a_tenant(app: Database) -> None:
    with pytest.raises(TenantRequired, match=NEEDS):
        async with app.pipeline() as p:
            p.all(_joined())
    with pytest.raises(TenantRequired, match=NEEDS):
        async with app.pipeline() as p:
            p.count(_exists())
    with pytest.raises(TenantRequired, match=NEEDS):
        async with app.pipeline() as p:
            p.execute(_in().update(name="renamed"))
    async with app.with_tenant(1).pipeline() as p:
        counted = p.count(_exists())
    assert counted.value == 1


async def test_a_prepared_query_needs_a_tenant(app: Database) -> None:
    own = app.prepare(Project.objects.where(Project.name == param("name")))
    joined = app.prepare(_joined().where(Org.name == param("name")))
    for run in (own.all, own.first, joined.all, joined.one):
        with pytest.raises(TenantRequired, match=NEEDS):
            await run(name="o")
    assert [p.name for p in await app.with_tenant(1).prepare(own.query).all(name="o")] == ["o"]
    assert len(await app.with_tenant(1).prepare(joined.query).all(name="o")) == 1
    assert len(await app.insecurely().prepare(joined.query).all(name="o")) == 1


async def test_a_write_reading_a_tenant_keyed_model_needs_a_tenant(app: Database) -> None:
    src = derived(Project.objects.values(Project.name), "src")
    writes = [
        _in().update(name="renamed"),
        _in().delete(),
        insert_from(Org, Project.objects.values(Project.name), [Org.name]),
        merge(Org, src, Org.name == src.col("name")).when_not_matched_insert({"name": src.col("name")}),
    ]
    for mutation in writes:
        with pytest.raises(TenantRequired, match=NEEDS):
            await app.execute(mutation)
    assert sorted(o.name for o in await app.all(Org.objects)) == ["lonely", "o"]  # nothing was written
    assert await app.with_tenant(1).execute(writes[0]) == 1


async def test_a_write_to_a_tenant_keyed_target_needs_a_tenant(app: Database) -> None:
    with pytest.raises(TenantRequired, match="Task is tenant-keyed"):
        await app.execute(insert_from(Task, Project.objects.values(Project.tenant_id, Project.id, Project.name),
                                      [Task.tenant_id, Task.project, Task.title]))  # fmt: skip


def test_a_statement_carries_the_tenant_keyed_models_it_reads_through_the_compile_cache() -> None:
    for make in (*QUERIES.values(), lambda: count_of(_exists())):
        for _ in range(2):  # cold, then the cache hit
            assert compile(make()).tenants == (Project,)
    assert compile(Org.objects.where(Org.name == "x")).tenants == ()
    assert compile(Task.objects.join(Project, Project.id == Task.project)).tenants == (Task, Project)
