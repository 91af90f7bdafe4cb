"""Running ``prefetch(...)``: one query per relation, whatever the number of parent rows (no N+1).

For parents ``P`` and a relation:

- reverse (``Author.books``): ``<query> WHERE "books"."author_id" = ANY($n)`` with the parents' keys;
- to-one (``Book.author``): ``<query> WHERE "authors"."id" = ANY($n)`` with the parents' foreign keys;
- many-to-many (``m2m(BookTag.book, BookTag.tag)``): ``<query> INNER JOIN "book_tags" ON ... WHERE
  "book_tags"."book_id" = ANY($n)``, fetching the link rows to group by.

The related rows keep the order of the relation's ``query`` within each parent; nested ``then=`` relations
load for all related rows at once. Parents without keys (an empty list) send no query. Links to many-to-many
helpers (``add_links`` / ``remove_links``) live here too: they are effects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from djogi.algebra.dml import insert
from djogi.algebra.query import Select, select
from djogi.algebra.relations import Prefetch, Related, _fk_column, _pk_column, resolve_target
from djogi.errors import ValidationError
from djogi.loaded import Loaded
from djogi.model import Model, descriptor

if TYPE_CHECKING:
    from djogi.executor.database import Database
    from djogi.executor.session import Session

__all__ = ["add_links", "load", "remove_links"]

M = TypeVar("M", bound=Model[Any])


def _key(value: Any) -> Any:
    """A hashable key equal for a primary key and a foreign key holding it (HeerId/RanjId normalised)."""
    if hasattr(value, "as_int"):
        return value.as_int()
    if hasattr(value, "to_uuid"):
        return value.to_uuid()
    return value


async def load(session: Session, rows: Sequence[Any], specs: Sequence[Prefetch]) -> list[Loaded[Any]]:
    """``rows`` (instances, or joined tuples whose first part is the instance) as ``Loaded`` values with
    every relation of ``specs`` filled, running one query per relation (nested ones included)."""
    loaded = [Loaded(r[0], {}, tuple(r[1:])) if isinstance(r, tuple) else Loaded(r, {}) for r in rows]
    for spec in specs:
        await _fill(session, loaded, spec)
    return loaded


async def _fill(session: Session, parents: list[Loaded[Any]], spec: Prefetch) -> None:
    rel = spec.relation
    base: Select[Any] = spec.query if spec.query is not None else select(spec.model)
    if isinstance(rel, Related):
        referenced = _pk_column(rel.owner, rel.owner, rel.model if rel.kind == "reverse" else rel.through, rel.field)
        keys = {_key(getattr(p.instance, referenced.name)) for p in parents}
        if rel.kind == "reverse":
            fk = _fk_column(rel.model, rel.field)
            children = await _children(session, base.where(fk.in_(tuple(keys))), spec) if keys else []
            groups = _group(children, rel.field, nested=bool(spec.then))
        else:
            through = rel.through
            assert rel.far is not None
            q = base.join(through, _fk_column(through, rel.far) == _pk_column(rel.model, rel.model, through, rel.far))
            q = q.where(_fk_column(through, rel.field).in_(tuple(keys)))
            pairs = await session.rows(q) if keys else []
            children = await load(session, [pair[0] for pair in pairs], spec.then)
            links = [_key(getattr(pair[-1], rel.field)) for pair in pairs]
            groups = {}
            for link, child in zip(links, children, strict=True):
                groups.setdefault(link, []).append(child.instance if not spec.then else child)
        for parent in parents:
            found = groups.get(_key(getattr(parent.instance, referenced.name)), [])
            parent.relations[spec.name] = (found[0] if found else None) if rel.unique else found
        return
    owner = spec.owner
    fd = descriptor(owner).field(rel.name)
    target = resolve_target(owner, fd)
    keys = {_key(getattr(p.instance, fd.name)) for p in parents} - {None}
    pk = _pk_column(target, target, owner, fd.name)
    children = await _children(session, base.where(pk.in_(tuple(keys))), spec) if keys else []
    by_id = {_key(getattr(c.instance if spec.then else c, pk.name)): c for c in children}
    for parent in parents:
        parent.relations[spec.name] = by_id.get(_key(getattr(parent.instance, fd.name)))


async def _children(session: Session, query: Select[Any], spec: Prefetch) -> list[Any]:
    """The related rows: ``Loaded`` values when ``spec.then`` loads relations of them, else the instances."""
    rows = await session.rows(query)
    if spec.then:
        return await load(session, rows, spec.then)
    return [r[0] if isinstance(r, tuple) else r for r in rows]


def _group(children: list[Any], field: str, *, nested: bool) -> dict[Any, list[Any]]:
    """``children`` (``Loaded`` values when ``nested``, else instances) grouped by their ``field`` key."""
    groups: dict[Any, list[Any]] = {}
    for child in children:
        key = _key(getattr(child.instance if nested else child, field))
        found = groups.get(key)
        if found is None:
            groups[key] = [child]
        else:
            found.append(child)
    return groups


# ------------------------------------------------------------------------------------------ m2m links


def _link_fields(through: type[Model[Any]], owner: Model[Any]) -> tuple[str, str]:
    """The through model's field pointing at ``owner``'s model and the one pointing at the other side."""
    desc = descriptor(through)
    if desc.through is None:
        raise ValidationError(f"{desc.name} is not a through model (declare it with through=(A, B))")
    near = [fd for fd in desc.relations if resolve_target(through, fd) is type(owner)]
    far = [fd for fd in desc.relations if fd not in near[:1]]
    if not near or not far:
        raise ValidationError(f"{desc.name} has no relation to {type(owner).__name__}")
    return near[0].name, far[0].name


def _linked(through: type[Model[Any]], owner: Model[Any] | None, field: str) -> str:
    """The name of the field that ``through.field`` references on its target (its key or ``to_field``)."""
    fd = descriptor(through).field(field)
    target = type(owner) if owner is not None else resolve_target(through, fd)
    return _pk_column(target, target, through, field).name


async def add_links(db: Database, through: type[M], owner: Model[Any], others: Iterable[Model[Any]]) -> list[M]:
    """Link ``owner`` to each of ``others`` through ``through``: ``INSERT INTO "book_tags" (...) VALUES ...
    ON CONFLICT ("book_id", "tag_id") DO NOTHING RETURNING ...`` (idempotent: existing links are kept; the
    pair needs a unique constraint, e.g. ``unique_together=(("book", "tag"),)``). Returns the links created
    now. ValidationError for unsaved rows."""
    near, far = _link_fields(through, owner)
    mine, theirs = _linked(through, owner, near), _linked(through, None, far)
    rows = [through(**{near: getattr(owner, mine), far: getattr(other, theirs)}) for other in others]
    if not rows:
        return []
    stmt = insert(through, rows).on_conflict(_fk_column(through, near), _fk_column(through, far)).do_nothing()
    result: list[M] = await db.execute(stmt)
    return result


async def remove_links(db: Database, through: type[Model[Any]], owner: Model[Any], others: Iterable[Model[Any]]) -> int:
    """``DELETE FROM "book_tags" WHERE "book_id" = $1 AND "tag_id" = ANY($2)``; the number removed."""
    near, far = _link_fields(through, owner)
    theirs = _linked(through, None, far)
    ids = tuple(getattr(other, theirs) for other in others)
    if not ids:
        return 0
    own = getattr(owner, _linked(through, owner, near))
    q = select(through).where(_fk_column(through, near) == own, _fk_column(through, far).in_(ids))
    count: int = await db.execute(q.delete())
    return count
