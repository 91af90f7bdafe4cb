"""Rows read without every column (``only``, ``defer``, a partial ``with_returning``): the fields not read
are ``UNSET``, never their defaults, so saving such an instance keeps the row's stored values."""

from __future__ import annotations

import msgspec
import pytest
from msgspec import UNSET

from djogi import ArgumentTypeError, Field, Model, ValidationError, field
from djogi.algebra.dml import insert_many, insert_one
from djogi.algebra.query import select
from djogi.executor import Database

pytestmark = pytest.mark.anyio


class Memo(Model, table="partial_memos"):
    title: Field[str]
    body: Field[str] = field(default="")
    tags: Field[list[str]] = field(default_factory=list)
    pages: Field[int | None] = field(default=None)


@pytest.fixture
async def memos(db: Database) -> Database:
    await db.raw(
        "CREATE TABLE partial_memos (id bigint PRIMARY KEY DEFAULT heerid_next_desc(), created_at timestamptz NOT "
        "NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), title text NOT NULL, body text NOT NULL, "
        "tags text[] NOT NULL, pages integer)"
    )
    return db


async def test_deferred_fields_are_unset_and_save_keeps_them(memos: Database) -> None:
    memo = await memos.create(Memo(title="t", body="the only copy", tags=["kept"], pages=7))
    (loaded,) = await memos.all(Memo.objects.defer(Memo.body, Memo.tags, Memo.pages))
    assert (loaded.title, loaded.body, loaded.tags, loaded.pages) == ("t", UNSET, UNSET, UNSET)
    saved = await memos.save(loaded)
    assert (saved.body, saved.tags, saved.pages) == ("the only copy", ["kept"], 7)
    (only,) = await memos.all(Memo.objects.only(Memo.title))
    assert (only.id, only.body, only.tags) == (memo.id, UNSET, UNSET)
    await memos.save(only, title="u")
    stored = await memos.get(Memo, memo.id)
    assert (stored.title, stored.body, stored.tags, stored.pages) == ("u", "the only copy", ["kept"], 7)


async def test_partial_returning_leaves_the_other_fields_unset(memos: Database) -> None:
    memo = await memos.create(Memo(title="t", body="b", pages=3))
    (row,) = await memos.execute(Memo.objects.where(Memo.id == memo.id).update(title="u").with_returning(Memo.title))
    assert (row.title, row.body, row.tags, row.pages, row.id) == ("u", UNSET, UNSET, UNSET, UNSET)


async def test_writing_a_field_left_unset_is_refused_naming_it(memos: Database) -> None:
    await memos.create(Memo(title="t", body="b"))
    (partial,) = await memos.all(Memo.objects.defer(Memo.body))
    copy = msgspec.structs.replace(partial, id=UNSET, created_at=UNSET, updated_at=UNSET)
    for write in (memos.create, lambda m: memos.bulk_create([m]), lambda m: memos.execute(insert_many(Memo, [m]))):
        with pytest.raises(ValidationError, match=r"Memo\.body .*UNSET.*give it a value"):
            await write(copy)
    assert len(await memos.all(select(Memo))) == 1
    with pytest.raises(ArgumentTypeError, match="mapping of field names"):
        insert_one(Memo(title="x")).on_conflict(Memo.id).do_update(["title"])  # type: ignore[arg-type]
