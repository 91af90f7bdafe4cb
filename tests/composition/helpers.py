"""Shared models for the composition tests (hooks, actor fields, soft delete, numbering, idempotency keys) and
the helper creating their tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from djogi import Field, ForeignKey, Model, field
from djogi.executor import Database
from tests.migrate.helpers import creating, projected

EVENTS: list[str] = []
"""What the hooks of ``CmpNote`` did, in order (cleared by each test)."""


class CmpLog(Model, table="cmp_log"):
    entry: Field[str]


class CmpNote(Model, table="cmp_notes"):
    """Each hook records itself in ``EVENTS`` and in ``cmp_log`` (inside the write's transaction), and raises
    when the body names it (``fail:after_save``)."""

    body: Field[str]
    edits: Field[int] = field(default=0)

    async def _record(self, db: Database, hook: str) -> None:
        EVENTS.append(hook)
        await db.create(CmpLog(entry=f"{hook} {self.body}"))
        if f"fail:{hook}" in self.body:
            raise RuntimeError(f"{hook} refused {self.body!r}")

    async def before_create(self, db: Database) -> CmpNote:
        await self._record(db, "before_create")
        return msgspec.structs.replace(self, body=self.body.strip())

    async def after_create(self, db: Database) -> None:
        await self._record(db, "after_create")

    async def before_save(self, db: Database) -> CmpNote:
        await self._record(db, "before_save")
        return msgspec.structs.replace(self, edits=self.edits + 1)

    async def after_save(self, db: Database) -> None:
        await self._record(db, "after_save")

    async def before_delete(self, db: Database) -> None:
        await self._record(db, "before_delete")

    async def after_delete(self, db: Database) -> None:
        await self._record(db, "after_delete")


class CmpBook(Model, table="cmp_books", soft_delete="deleted_at"):
    title: Field[str]
    price: Field[Decimal] = field(precision=10, scale=2, default=Decimal(0))
    active: Field[bool] = field(default=True)
    deleted_at: Field[dt.datetime | None] = field(default=None)
    created_by: Field[str | None] = field(actor="created", default=None)
    updated_by: Field[str | None] = field(actor="updated", default=None)


class CmpChapter(Model, table="cmp_chapters"):
    book: ForeignKey[CmpBook]
    title: Field[str]
    number: Field[int | UnsetType] = field(sequence_within="book", default=UNSET)


class CmpOrder(Model, table="cmp_orders"):
    key: Field[str] = field(idempotency_key=True)
    amount: Field[int]
    created_by: Field[int | None] = field(actor="created", default=None)


MODELS: Sequence[type[Model[Any]]] = (CmpLog, CmpNote, CmpBook, CmpChapter, CmpOrder)


async def create_tables(db: Database, models: Sequence[type[Model[Any]]] = MODELS) -> None:
    """Create the tables of ``models`` (the statements a first migration would run)."""
    for up in creating(projected(*models)):
        await db.raw(up)
