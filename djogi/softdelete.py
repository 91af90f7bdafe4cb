"""Soft delete: the explicit filters over a model declared ``soft_delete="deleted_at"``, and its bulk form.

Queries are never filtered implicitly: ``Book.objects`` reads deleted rows too. Say what you want at the
call site (``Book.objects.filter(not_deleted(Book))``), or read through a proxy whose default filter it is
(``djogi.proxy(Book, where=not_deleted(Book))``). ``db.delete(book)`` marks the row, ``db.hard_delete(book)``
deletes it, ``db.save(book, deleted_at=None)`` restores it (``djogi.executor.writes``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from djogi.algebra.dml import Update
from djogi.algebra.expr import Column, now
from djogi.algebra.predicate import Pred
from djogi.algebra.query import Select
from djogi.errors import ArgumentTypeError, ValidationError
from djogi.schema import ModelBase, registered

__all__ = ["deleted", "not_deleted", "soft_delete"]

M = TypeVar("M", bound=ModelBase)


def _marker(model: object, what: str) -> Column[Any, Any]:
    """The deleted-at column of a soft-delete model; ValidationError naming ``what`` otherwise."""
    desc = registered(model) if isinstance(model, type) else None
    if desc is None:
        raise ArgumentTypeError(f"{what} takes a model class, not {model!r}")
    if desc.soft_delete is None:
        raise ValidationError(f"{what}: {desc.name} is not declared soft_delete=...; it has no deleted-at field")
    column: Column[Any, Any] = getattr(model, desc.soft_delete)
    return column


def not_deleted(model: type[ModelBase]) -> Pred:
    """``"t"."deleted_at" IS NULL``: the rows of ``model`` that are not soft-deleted."""
    return _marker(model, "not_deleted()") == None  # noqa: E711


def deleted(model: type[ModelBase]) -> Pred:
    """``"t"."deleted_at" IS NOT NULL``: the soft-deleted rows of ``model``."""
    return _marker(model, "deleted()") != None  # noqa: E711


def soft_delete(query: Select[M]) -> Update[M]:
    """Bulk soft delete: ``UPDATE "t" SET "deleted_at" = now(), "updated_at" = now() WHERE <query's filter> AND
    "t"."deleted_at" IS NULL`` (run it with ``db.execute``; the rows count). It sets only what it prints: an
    ``actor="updated"`` field is not filled (``update(..., updated_by=...)`` if you need it)."""
    if not isinstance(query, Select):
        raise ArgumentTypeError(f"soft_delete() takes a query such as Book.objects.filter(...), not {query!r}")
    marker = _marker(query.model, "soft_delete()")
    return query.filter(marker == None).update(**{marker.name: now()})  # noqa: E711
