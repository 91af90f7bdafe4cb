"""The row verbs with composition: actor fields, numbering within a parent, lifecycle hooks, soft delete
and idempotent creation (``Database.create`` / ``save`` / ``delete`` / ``hard_delete`` / ``get_or_create``
/ ``create_or_find``).

A model with none of these is written by one statement, as before. Otherwise a row verb runs, in one
transaction when hooks run or a number is drawn (a savepoint inside an open ``atomic()``)::

    actor fields filled -> before_* hook -> [advisory lock per numbered field] -> the statement RETURNING
    -> after_* hook

so an exception anywhere rolls the row back with whatever the hooks wrote. Bulk verbs do not run hooks:
on a model with hooks they raise ``ValidationError`` unless the handle says so (``db.without_hooks()``);
they fill actor fields and refuse rows that leave a numbered field to be numbered (``bulk_rows``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import msgspec
from msgspec import UNSET

from djogi.algebra.aggregate import max_
from djogi.algebra.compile import compile
from djogi.algebra.dml import delete_one, insert_one, key_of, key_text, update_one
from djogi.algebra.expr import coalesce, now
from djogi.algebra.query import select
from djogi.algebra.subquery import scalar
from djogi.auth import AuthContext
from djogi.errors import IdempotencyConflict, NotFound, StaleObject, ValidationError
from djogi.executor import bulk
from djogi.hooks import HookName, checked_result
from djogi.model import FieldDescriptor, Model, ModelDescriptor, descriptor

if TYPE_CHECKING:
    from djogi.executor.database import Database
    from djogi.executor.session import Session

M = TypeVar("M", bound=Model[Any])

NUMBERING_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))"
"""The lock that serialises numbering within one parent: (table.column, parent value), held to commit."""


def hooks_of(session: Session, model: type[Any]) -> frozenset[HookName]:
    """The hooks the verb runs for ``model``: none on a ``without_hooks()`` handle."""
    return model.__djogi_hooks__ if session.hooks else frozenset()


def missing(instance: Model[Any], action: str) -> NoReturn:
    """StaleObject when a versioned row moved on, else NotFound, for a row verb that touched no row."""
    desc = descriptor(type(instance))
    version = desc.version_field
    if version is not None:
        raise StaleObject(
            f"{action}(): {desc.name} {key_text(desc)}={key_of(instance)!r} "
            f"version={getattr(instance, version.name)!r} is stale "
            "(another writer changed or deleted it); re-read it and retry"
        )
    gone = " (or it is soft-deleted already)" if desc.soft_delete is not None else ""
    raise NotFound(f"{action}(): {desc.name} with {key_text(desc)}={key_of(instance)!r} does not exist{gone}")


def _actor(desc: ModelDescriptor, fd: FieldDescriptor, auth: AuthContext | None) -> object:
    """The acting user's id for the actor field ``fd``; ValidationError when there is none and the field
    cannot be NULL."""
    user = None if auth is None else auth.user_id
    if user is None and not fd.nullable:
        raise ValidationError(
            f"{desc.name}.{fd.name} is actor={fd.actor!r} and not optional, but no user is acting: write through "
            "db.with_auth(AuthContext(user_id=...)) (or set the field yourself)"
        )
    return user


def with_actors(desc: ModelDescriptor, instance: M, auth: AuthContext | None, *, creating: bool,
            given: frozenset[str] = frozenset()) -> M:  # fmt: skip
    """``instance`` with its actor fields filled from ``auth.user_id``: on create, each actor field the
    caller left None / UNSET; on save, the ``actor="updated"`` field (unless it is in ``given``, the fields the
    caller passed). A caller's value is never overwritten on create."""
    fill: dict[str, object] = {}
    for fd in desc.fields:
        if fd.actor is None or fd.name in given:
            continue
        if (getattr(instance, fd.name) in (None, UNSET)) if creating else fd.actor == "updated":
            fill[fd.name] = _actor(desc, fd, auth)
    return msgspec.structs.replace(instance, **fill) if fill else instance


async def _hook(hooks: frozenset[HookName], name: HookName, instance: M, db: Database) -> M:
    """Run ``instance.<name>(db)`` when the model defines it; the instance to write (or ``instance``)."""
    if name not in hooks:
        return instance
    result = await getattr(instance, name)(db)
    return checked_result(name, instance, result)  # type: ignore[return-value]


async def numbered(session: Session, instance: M) -> M:
    """``instance`` with each ``sequence_within`` field it leaves UNSET set to
    ``(SELECT coalesce(max(number), 0) + 1 FROM t WHERE parent = $p)``, after taking the transaction's
    advisory lock on (``t.number``, parent value) so that concurrent inserts into one parent take turns.
    The caller holds a transaction open until the row is inserted."""
    desc = descriptor(type(instance))
    model = type(instance)
    fill: dict[str, object] = {}
    for fd in desc.fields:
        if fd.sequence_within is None or getattr(instance, fd.name) is not UNSET:
            continue
        parent = getattr(instance, fd.sequence_within)
        await session.run(NUMBERING_LOCK_SQL, (f"{desc.table}.{fd.column}", repr(parent)))
        number = getattr(model, fd.name)
        peers = select(model).where(getattr(model, fd.sequence_within) == parent)
        fill[fd.name] = scalar(peers.values(coalesce(max_(number), 0) + 1))
    return msgspec.structs.replace(instance, **fill) if fill else instance


_COMPOSED: dict[type[Any], bool] = {}


def _composed(model: type[Any]) -> bool:
    """Whether ``model`` has actor or numbered fields (read once per model: the row verbs' hot path)."""
    found = _COMPOSED.get(model)
    if found is None:
        found = _COMPOSED[model] = bool(descriptor(model).composed)
    return found


def _plain(model: type[Any], hooks: frozenset[HookName]) -> bool:
    """Whether a row verb writes ``model`` by one plain statement: no hooks to run, no field to fill."""
    return not hooks and not _composed(model)


def _scope(db: Database, hooks: frozenset[HookName], *, numbers: bool = False) -> AbstractAsyncContextManager[None]:
    """The transaction a composed verb runs in: ``db.atomic()`` when hooks run (their writes and the row
    commit or roll back together) or a number may be drawn (its lock is held to commit), else none."""
    return db.atomic() if hooks or numbers else contextlib.nullcontext()


async def create(db: Database, session: Session, instance: M) -> M:
    """See ``Database.create``."""
    model = type(instance)
    hooks = hooks_of(session, model)
    if _plain(model, hooks):
        rows, _ = await session.statement(compile(insert_one(instance)))
        return rows[0]  # type: ignore[no-any-return]
    desc = descriptor(model)
    desc.check_writable("create()")
    async with _scope(db, hooks, numbers=any(fd.sequence_within is not None for fd in desc.composed)):
        instance = with_actors(desc, instance, db.auth, creating=True)
        instance = await _hook(hooks, "before_create", instance, db)
        rows, _ = await session.statement(compile(insert_one(await numbered(session, instance))))
        await _hook(hooks, "after_create", rows[0], db)
    return rows[0]  # type: ignore[no-any-return]


async def save(db: Database, session: Session, instance: M, changes: Mapping[str, object]) -> M:
    """See ``Database.save``: with hooks, ``before_save`` sees the instance with ``changes`` applied, and
    every field it changes is written as well."""
    model = type(instance)
    hooks = hooks_of(session, model)
    if _plain(model, hooks):
        rows, _ = await session.statement(compile(update_one(instance, changes or None)))
        return rows[0] if rows else missing(instance, "save")  # type: ignore[no-any-return]
    desc = descriptor(model)
    desc.check_writable("save()")
    async with _scope(db, hooks):
        try:
            target = msgspec.structs.replace(instance, **changes)
        except TypeError:
            unknown = sorted(set(changes) - set(instance.__struct_fields__))
            raise ValidationError(f"save(): {desc.name} has no field {unknown[0]!r}") from None
        filled = with_actors(desc, target, db.auth, creating=False, given=frozenset(changes))
        written = await _hook(hooks, "before_save", filled, db)
        names = set(changes) | {fd.name for fd in desc.fields
                                if getattr(written, fd.name) is not getattr(target, fd.name)}  # fmt: skip
        stmt = update_one(written, {n: getattr(written, n) for n in names} if changes else None)
        rows, _ = await session.statement(compile(stmt))
        if not rows:
            missing(instance, "save")
        await _hook(hooks, "after_save", rows[0], db)
    return rows[0]  # type: ignore[no-any-return]


async def delete(db: Database, session: Session, instance: Model[Any], *, hard: bool) -> None:
    """See ``Database.delete`` / ``hard_delete``: on a soft-delete model (unless ``hard``), ``UPDATE t SET
    deleted_at = now(), ... WHERE <key> [AND version = $v] AND deleted_at IS NULL``."""
    model = type(instance)
    desc = descriptor(model)
    desc.check_writable("delete()")
    hooks = hooks_of(session, model)
    soft = None if hard else desc.soft_delete
    if not hooks and soft is None:
        _, rowcount = await session.statement(compile(delete_one(instance)))
        if rowcount == 0:
            missing(instance, "delete")
        return
    async with _scope(db, hooks):
        await _hook(hooks, "before_delete", instance, db)
        if soft is None:
            _, rowcount = await session.statement(compile(delete_one(instance)))
        else:
            stamped = with_actors(desc, instance, db.auth, creating=False)
            changes = {soft: now(), **{fd.name: getattr(stamped, fd.name) for fd in desc.fields
                                       if fd.actor == "updated"}}  # fmt: skip
            update = update_one(stamped, changes)
            marker = getattr(model, soft)
            update = msgspec.structs.replace(update, condition=update.condition & (marker == None))  # noqa: E711
            _, rowcount = await session.statement(compile(update))
        if rowcount == 0:
            missing(instance, "hard_delete" if hard else "delete")
        await _hook(hooks, "after_delete", instance, db)


class _Found(Exception):
    """Unwinds the savepoint of a creation attempt that found the row instead (undoing its hook's writes)."""

    def __init__(self, row: object) -> None:
        super().__init__()
        self.row = row


async def find_or_create(
    db: Database, session: Session, instance: M, lookup: Sequence[str] | None, *, idempotent: bool
) -> tuple[M, bool]:
    """See ``Database.get_or_create`` / ``create_or_find``: ``INSERT ... ON CONFLICT (lookup) DO NOTHING
    RETURNING *``, then the row by its lookup fields when another writer got there first. With hooks or
    numbering the attempt runs in a savepoint: ``before_create`` runs, and a found row rolls back what it
    wrote; ``after_create`` runs only for a created row. ``idempotent``: a found row must equal ``instance``
    in every field the caller gave, else ``IdempotencyConflict``."""
    model = type(instance)
    desc = descriptor(model)
    desc.check_writable("get_or_create()" if not idempotent else "create_or_find()")
    if lookup is None:
        key = next((fd.name for fd in desc.fields if fd.idempotency_key), None)
        if key is None:
            raise ValidationError(
                f"create_or_find(): {desc.name} declares no field(idempotency_key=True); pass lookup=(...)"
            )
        lookup = (key,)
    hooks = hooks_of(session, model)
    instance = with_actors(desc, instance, db.auth, creating=True)
    if _plain(model, hooks):
        row, created = await bulk.get_or_create(session, instance, lookup)
    else:
        async with db.atomic():
            try:
                async with db.atomic():
                    target = await _hook(hooks, "before_create", instance, db)
                    row, created = await bulk.get_or_create(session, await numbered(session, target), lookup)
                    if not created:
                        raise _Found(row)
                    await _hook(hooks, "after_create", row, db)
            except _Found as found:
                row, created = found.row, False  # type: ignore[assignment]
    if idempotent and not created:
        _check_same(desc, instance, row)
    return row, created


def _check_same(desc: ModelDescriptor, given: Model[Any], found: Model[Any]) -> None:
    """IdempotencyConflict naming the fields where the stored row differs from the one ``create_or_find``
    was given (fields filled by the database, the write or the hooks are not compared)."""
    differ = [
        fd.name for fd in desc.fields
        if fd.kind in ("data", "relation") and not fd.version and fd.actor is None and fd.sequence_within is None
        and (value := getattr(given, fd.name)) is not UNSET and value != getattr(found, fd.name)
    ]  # fmt: skip
    if differ:
        raise IdempotencyConflict(
            f"create_or_find(): a {desc.name} with this key exists with other values for {differ}; an idempotency "
            "key names one request: use a new key for a different one"
        )


def bulk_rows(session: Session, rows: Sequence[M], verb: str, auth: AuthContext | None) -> Sequence[M]:
    """``rows`` for a bulk insert ``verb``, their actor fields filled; ValidationError for a model with hooks
    (unless ``without_hooks()``) and for a row leaving a numbered field UNSET."""
    if not rows:
        return rows
    model = type(rows[0])
    refuse_hooks(session, model, verb)
    if not _composed(model):
        return rows
    desc = descriptor(model)
    for fd in desc.fields:
        if fd.sequence_within is not None and any(getattr(row, fd.name) is UNSET for row in rows):
            raise ValidationError(
                f"{verb}: {desc.name}.{fd.name} is numbered within {fd.sequence_within} (sequence_within), which "
                "bulk writes do not do: create those rows with db.create(), or give every row its number"
            )
    return [with_actors(desc, row, auth, creating=True) for row in rows]


def actor_update(
    rows: Sequence[M], fields: Sequence[str], auth: AuthContext | None
) -> tuple[Sequence[M], Sequence[str]]:
    """``bulk_update``'s rows and fields with the ``actor="updated"`` field set to the acting user and written
    (unless ``fields`` names it: the rows' values are written then)."""
    desc = descriptor(type(rows[0]))
    stamp = next((fd.name for fd in desc.fields if fd.actor == "updated"), None)
    if stamp is None or stamp in fields:
        return rows, fields
    return [with_actors(desc, row, auth, creating=False) for row in rows], (*fields, stamp)


def refuse_hooks(session: Session, model: type[Any], verb: str) -> None:
    """ValidationError when ``model`` has lifecycle hooks: ``verb`` (a bulk write) does not run them."""
    hooks = hooks_of(session, model)
    if hooks:
        raise ValidationError(
            f"{verb}: {model.__name__} has lifecycle hooks ({', '.join(sorted(hooks))}), which bulk writes do not "
            "run; write the rows one by one (create/save/delete), or bulk-write without them through "
            "db.without_hooks()"
        )
