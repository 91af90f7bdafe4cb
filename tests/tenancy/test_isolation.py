"""Tenant isolation enforced by PostgreSQL for the application role, and the executor's tenant scope."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import pytest
from msgspec import UNSET, UnsetType

from djogi import AuthContext, Field, Model, TenantRequired, descriptor, field, reverse
from djogi.errors import DatabaseError, NotFound, ValidationError
from djogi.executor import Database
from djogi.migrate import apply, compose
from djogi.model import registry_scope
from djogi.tenancy import current_tenant
from tests.tenancy.helpers import T0, Org, Project, Task, migrate

pytestmark = pytest.mark.anyio

SET_TENANT = "SELECT set_config('djogi.tenant', $1, true)"
SET_SCOPE = "SELECT set_config('djogi.tenant', $1, true), set_config('role', $2, true)"


@pytest.fixture
async def app(db_url: str, app_db: Database, tmp_path: Path) -> Database:
    migrate(db_url, tmp_path)
    return app_db


def _recorder(db: Database) -> list[tuple[str, tuple[object, ...]]]:
    seen: list[tuple[str, tuple[object, ...]]] = []
    db.add_listener(lambda e: seen.append((e.sql, e.params)))
    return seen


async def test_the_app_role_sees_nothing_and_writes_nothing_without_a_tenant(app: Database) -> None:
    admin = app.insecurely()
    await admin.create(Project(tenant_id=1, name="a"))
    assert await app.raw("SELECT count(*) FROM ten_projects") == [(0,)]
    with pytest.raises(DatabaseError) as caught:
        await app.raw("INSERT INTO ten_projects (tenant_id, name, budget) VALUES (1, 'x', 0)")
    assert caught.value.sqlstate == "42501" and "row-level security" in str(caught.value)
    assert await app.raw("UPDATE ten_projects SET name = 'y'") == []
    assert await admin.count(Project.objects) == 1


async def test_djogi_refuses_a_tenant_keyed_model_without_a_tenant(app: Database) -> None:
    with pytest.raises(TenantRequired, match=r"Project is tenant-keyed \(tenant_key='tenant_id'\) and no tenant"):
        await app.all(Project.objects)
    with pytest.raises(TenantRequired):
        await app.create(Project(tenant_id=1, name="a"))
    with pytest.raises(TenantRequired):
        await app.with_auth(AuthContext(user_id=7)).count(Project.objects)


async def test_each_tenant_sees_and_changes_only_its_rows(app: Database) -> None:
    one, two = app.with_tenant(1), app.with_tenant(2)
    p1 = await one.create(Project(tenant_id=1, name="one"))
    await two.create(Project(tenant_id=2, name="two"))
    assert [p.name for p in await one.all(Project.objects)] == ["one"]
    assert [p.name for p in await two.all(Project.objects)] == ["two"]
    with pytest.raises(NotFound):
        await two.get(Project, p1.id)
    assert await two.execute(Project.objects.update(name="hijacked")) == 1
    assert (await one.get(Project, p1.id)).name == "one"
    with pytest.raises(DatabaseError, match="row-level security"):
        await one.create(Project(tenant_id=2, name="smuggled"))
    with pytest.raises(DatabaseError, match="row-level security"):
        await one.save(p1, tenant_id=2)


async def test_a_statement_outside_atomic_carries_its_tenant_in_its_own_transaction(app: Database) -> None:
    one = app.with_tenant(1)
    seen = _recorder(app)
    await one.count(Project.objects)
    assert [s for s, _ in seen] == ["BEGIN", SET_TENANT, 'SELECT count(*) FROM "ten_projects"', "COMMIT"]
    assert seen[1][1] == ("1",)


async def test_the_tenant_is_set_again_when_it_changes_mid_transaction(app: Database) -> None:
    one, two = app.with_tenant(1), app.with_tenant(2)
    await one.create(Project(tenant_id=1, name="one"))
    await two.create(Project(tenant_id=2, name="two"))
    seen = _recorder(app)
    async with app.atomic():
        assert await one.count(Project.objects) == 1
        assert await one.count(Project.objects) == 1
        assert [p.name for p in await two.all(Project.objects)] == ["two"]
        app.set_auth(AuthContext(tenant_id=1))
        assert [p.name for p in await app.all(Project.objects)] == ["one"]
        assert app.auth == AuthContext(tenant_id=1)
    sets = [params for sql, params in seen if sql == SET_TENANT]
    assert sets == [("1",), ("2",), ("1",)]
    assert app.auth is None


async def test_a_rolled_back_savepoint_sets_the_tenant_again(app: Database) -> None:
    one = app.with_tenant(1)
    await one.create(Project(tenant_id=1, name="one"))
    seen = _recorder(app)
    async with app.atomic():
        with pytest.raises(ZeroDivisionError):
            async with app.atomic():
                await one.count(Project.objects)
                raise ZeroDivisionError
        assert await one.count(Project.objects) == 1
    assert [params for sql, params in seen if sql in (SET_TENANT, SET_SCOPE)] == [("1",), ("1", "none")]


async def test_an_untenanted_handle_after_a_tenant_in_one_transaction_is_reset(app: Database) -> None:
    one = app.with_tenant(1)
    await one.create(Project(tenant_id=1, name="one"))
    async with app.atomic():
        assert await one.count(Project.objects) == 1
        assert await app.raw("SELECT count(*) FROM ten_projects") == [(0,)]


async def test_insecurely_bypasses_and_logs_each_use_with_the_caller(
    app: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await app.with_tenant(1).create(Project(tenant_id=1, name="one"))
    await app.with_tenant(2).create(Project(tenant_id=2, name="two"))
    with caplog.at_level(logging.WARNING, logger="djogi.tenancy"):
        admin = app.insecurely()
        line = inspect.stack()[0].lineno - 1
        assert sorted(p.name for p in await admin.all(Project.objects)) == ["one", "two"]
    where = f"{__file__}:{line}"
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == f"insecurely() at {where}: row-level security bypassed as role djogi_bypass"
    assert messages[1].startswith(f"row-level security bypassed (insecurely() at {where}, role djogi_bypass): SELECT")
    async with app.atomic():  # the role is back to the session's after a bypassed statement
        await admin.count(Project.objects)
        assert await app.raw("SELECT current_user, count(*) FROM ten_projects") == [("djogi_app", 0)]
    with pytest.raises(ValidationError):
        app.insecurely(role="")
    with pytest.raises(ValidationError, match=r"^insecurely\(role=5\): the role name must be a str, not int$"):
        app.insecurely(role=5)  # type: ignore[arg-type]


async def test_stream_bulk_create_prefetch_and_raw_run_in_the_tenant(app: Database) -> None:
    one, two = app.with_tenant(1), app.with_tenant(2)
    projects = await one.bulk_create([Project(tenant_id=1, name=f"p{i}") for i in range(3)])
    await two.bulk_create([Project(tenant_id=2, name="q")])
    await one.bulk_create([Task(tenant_id=1, project=p.id, title="t") for p in projects])
    async with app.atomic():
        assert len([p async for p in one.stream(Project.objects)]) == 3
        assert len([p async for p in two.stream(Project.objects)]) == 1
    tasks = reverse(Task.project)
    loaded = await one.all(Project.objects.prefetch(tasks))
    assert sorted(len(p[tasks]) for p in loaded) == [1, 1, 1]
    assert await two.raw("SELECT count(*) FROM ten_tasks") == [(0,)]
    assert await one.raw("SELECT count(*) FROM ten_tasks") == [(3,)]


def test_the_auth_context_is_an_immutable_value() -> None:
    ctx = AuthContext(user_id=1, scopes={"read"}, claims={"plan": "pro"})
    assert ctx.has_scope("read") and not ctx.has_scope("write")
    assert ctx.with_tenant(5).tenant_id == 5 and ctx.tenant_id is None
    assert ctx.with_scopes(["write"]).scopes == frozenset({"write"})
    with pytest.raises(TypeError):
        ctx.claims["plan"] = "free"  # type: ignore[index]
    with pytest.raises(ValidationError, match="tenant_id must be an int, a str or a UUID"):
        AuthContext(tenant_id=True)
    with pytest.raises(ValidationError, match="cannot be the empty string"):
        AuthContext(tenant_id="")
    assert hash(ctx) == hash(AuthContext(user_id=1, scopes=frozenset({"read"})))


async def test_set_auth_needs_a_transaction(app: Database) -> None:
    with pytest.raises(ValidationError, match="set_auth"):
        app.set_auth(AuthContext(tenant_id=1))


async def test_the_database_can_fill_the_tenant_key_from_the_transaction(
    db_url: str, app_db: Database, tmp_path: Path
) -> None:
    with registry_scope():

        class Memo(Model, table="ten_memos", tenant_key="tenant_id"):
            text: Field[str]
            tenant_id: Field[int | UnsetType] = field(db_default=current_tenant(), default=UNSET)

        compose(tmp_path, [descriptor(Memo)], T0, slug="memos").unwrap()
        apply(db_url, tmp_path)
        made = await app_db.with_tenant(5).create(Memo(text="hi"))
        assert made.tenant_id == 5
        with pytest.raises(DatabaseError, match="tenant_id"):  # no tenant: NULL, refused by NOT NULL
            await app_db.insecurely().create(Memo(text="orphan"))


async def test_a_prefetch_of_a_tenant_keyed_relation_needs_a_tenant(app: Database) -> None:
    await app.create(Org(name="o"))
    with pytest.raises(TenantRequired, match="Project is tenant-keyed"):
        await app.all(Org.objects.prefetch(reverse(Project.org)))


async def test_a_pipeline_runs_in_its_tenant_and_needs_one(app: Database, caplog: pytest.LogCaptureFixture) -> None:
    admin = app.insecurely()
    await admin.create(Project(tenant_id=1, name="one"))
    await admin.create(Project(tenant_id=2, name="two"))
    with pytest.raises(TenantRequired):
        async with app.pipeline() as p:
            p.all(Project.objects)
    async with app.with_tenant(2).pipeline() as p:
        rows = p.all(Project.objects)
        counted = p.count(Project.objects)
    assert [r.name for r in rows.value] == ["two"] and counted.value == 1
    with caplog.at_level(logging.WARNING, logger="djogi.tenancy"):
        async with admin.pipeline() as p:
            everything = p.count(Project.objects)
    assert everything.value == 2
    assert any("row-level security bypassed" in r.getMessage() and "count(Project)" in r.getMessage()
               for r in caplog.records)  # fmt: skip
