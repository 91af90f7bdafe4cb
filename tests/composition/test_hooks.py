"""Lifecycle hooks: their order, what they may change, and their atomicity with the write (real database)."""

from __future__ import annotations

from typing import Any

import pytest

from djogi import Field, Model, ValidationError, field
from djogi.errors import ModelDefinitionError
from djogi.executor import Database
from tests.composition.helpers import EVENTS, CmpLog, CmpNote, create_tables

pytestmark = pytest.mark.anyio


@pytest.fixture
async def hdb(db: Database) -> Database:
    await create_tables(db)
    EVENTS.clear()
    return db


async def _log(db: Database) -> list[str]:
    return [row.entry for row in await db.all(CmpLog.objects.order_by(CmpLog.id.desc()))]


async def test_create_save_delete_run_their_hooks_in_order(hdb: Database) -> None:
    note = await hdb.create(CmpNote(body="  hello "))
    assert note.body == "hello"  # before_create's value is the one written
    saved = await hdb.save(note, body="hi")
    assert (saved.body, saved.edits) == ("hi", 1)  # a field before_save changed is written too
    [(stored_edits,)] = await hdb.raw("SELECT edits FROM cmp_notes")
    assert stored_edits == 1
    await hdb.delete(saved)
    assert EVENTS == ["before_create", "after_create", "before_save", "after_save", "before_delete", "after_delete"]
    assert await _log(hdb) == ["before_create   hello ", "after_create hello", "before_save hi", "after_save hi",
                               "before_delete hi", "after_delete hi"]  # fmt: skip
    assert await hdb.raw("SELECT * FROM cmp_notes") == []


@pytest.mark.parametrize("hook", ["before_create", "after_create"])
async def test_an_error_in_a_create_hook_rolls_the_insert_back(hdb: Database, hook: str) -> None:
    with pytest.raises(RuntimeError, match=hook):
        await hdb.create(CmpNote(body=f"fail:{hook}"))
    assert await hdb.raw("SELECT * FROM cmp_notes") == []
    assert await _log(hdb) == []  # what the hooks wrote is gone too


@pytest.mark.parametrize("hook", ["before_save", "after_save"])
async def test_an_error_in_a_save_hook_rolls_the_update_back(hdb: Database, hook: str) -> None:
    note = await hdb.create(CmpNote(body="x"))
    with pytest.raises(RuntimeError, match=hook):
        await hdb.save(note, body=f"fail:{hook}")
    assert await hdb.refresh(note) == note
    assert len(await _log(hdb)) == 2


@pytest.mark.parametrize("hook", ["before_delete", "after_delete"])
async def test_an_error_in_a_delete_hook_keeps_the_row(hdb: Database, hook: str) -> None:
    note = await hdb.create(CmpNote(body=f"fail:{hook}"))
    with pytest.raises(RuntimeError, match=hook):
        await hdb.delete(note)
    assert await hdb.refresh(note) == note


async def test_inside_atomic_a_hook_error_rolls_back_to_the_savepoint_only(hdb: Database) -> None:
    async with hdb.atomic():
        kept = await hdb.create(CmpNote(body="kept"))
        with pytest.raises(RuntimeError):
            await hdb.create(CmpNote(body="fail:after_create"))
    assert [n.body for n in await hdb.all(CmpNote.objects)] == [kept.body]


async def test_bulk_writes_refuse_a_model_with_hooks_unless_told(hdb: Database) -> None:
    with pytest.raises(ValidationError, match=r"bulk_create\(\): CmpNote has lifecycle hooks"):
        await hdb.bulk_create([CmpNote(body="a")])
    with pytest.raises(ValidationError, match=r"execute\(\): CmpNote has lifecycle hooks"):
        await hdb.execute(CmpNote.objects.update(edits=5))
    with pytest.raises(ValidationError, match=r"pipeline execute\(\): CmpNote has lifecycle hooks"):
        async with hdb.pipeline() as p:
            p.execute(CmpNote.objects.delete())
    with pytest.raises(ValidationError, match="update_or_create"):
        await hdb.update_or_create(CmpNote(body="a"), lookup=["body"])
    assert await hdb.raw("SELECT * FROM cmp_notes") == []
    raw = hdb.without_hooks()
    [row] = await raw.bulk_create([CmpNote(body=" a ")])
    assert row.body == " a " and EVENTS == []
    assert await raw.execute(CmpNote.objects.update(edits=5)) == 1
    await raw.delete(row)
    assert EVENTS == [] and await _log(hdb) == []


async def test_a_before_hook_must_return_the_instance(hdb: Database) -> None:
    class CmpBad(Model, table="cmp_bad"):
        body: Field[str]

        async def before_create(self, db: Database) -> Any:
            return None

    await create_tables(hdb, [CmpBad])
    with pytest.raises(ValidationError, match=r"CmpBad.before_create returned None; it returns the CmpBad"):
        await hdb.create(CmpBad(body="x"))
    assert await hdb.raw("SELECT * FROM cmp_bad") == []


def test_declaration_errors_name_the_method() -> None:
    with pytest.raises(ModelDefinitionError, match=r"CmpTypo.before_creat: not a lifecycle hook"):

        class CmpTypo(Model, table="cmp_typo"):
            body: Field[str]

            async def before_creat(self, db: Database) -> CmpTypo:
                return self

    with pytest.raises(ModelDefinitionError, match=r"CmpSync.after_save: a hook is a coroutine"):

        class CmpSync(Model, table="cmp_sync"):
            body: Field[str]

            def after_save(self, db: Database) -> None: ...

    with pytest.raises(ModelDefinitionError, match=r"CmpArity.after_save: a hook takes \(self, db\)"):

        class CmpArity(Model, table="cmp_arity"):
            body: Field[str]

            async def after_save(self) -> None: ...


def test_hooks_are_read_once_and_inherited() -> None:
    assert CmpNote.__djogi_hooks__ == frozenset(
        {"before_create", "after_create", "before_save", "after_save", "before_delete", "after_delete"}
    )
    assert CmpLog.__djogi_hooks__ == frozenset()

    class CmpDerived(CmpNote, table="cmp_derived"):
        pass

    assert CmpDerived.__djogi_hooks__ == CmpNote.__djogi_hooks__


class CmpKeyed(Model, table="cmp_keyed"):
    key: Field[str] = field(idempotency_key=True)

    async def before_create(self, db: Database) -> CmpKeyed:
        EVENTS.append("before_create")
        await db.create(CmpLog(entry=f"before_create {self.key}"))
        return self

    async def after_create(self, db: Database) -> None:
        EVENTS.append("after_create")


async def test_create_or_find_undoes_the_hook_of_an_attempt_that_found_the_row(hdb: Database) -> None:
    await create_tables(hdb, [CmpKeyed])
    first, created = await hdb.create_or_find(CmpKeyed(key="k"))
    assert created and EVENTS == ["before_create", "after_create"]
    EVENTS.clear()
    again, created = await hdb.create_or_find(CmpKeyed(key="k"))
    assert not created and again == first
    assert EVENTS == ["before_create"]  # the attempt ran; after_create did not
    assert await _log(hdb) == ["before_create k"]  # and what the attempt's hook wrote is rolled back
