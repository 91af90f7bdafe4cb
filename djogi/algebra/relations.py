"""Relations in queries: paths through foreign keys, reverse and many-to-many accessors, eager loading.

**To-one paths.** ``Book.author.to(Author.name)`` (typed) or ``Book.author.name`` (attribute sugar, for
target fields whose names do not clash with ``Column``'s own attributes such as ``name``, ``model``,
``column``) is a ``PathColumn``: the target's column reached through the foreign key. It is used in
``where`` / ``filter`` / ``exclude`` and ``order_by``; nothing else accepts it (``ValidationError`` when
compiled elsewhere, ``NotPortable`` in memory).

- In a predicate each comparison through a path becomes a correlated ``EXISTS``:
  ``Book.author.name == "Ann"`` compiles to
  ``EXISTS (SELECT 1 FROM "authors" WHERE "authors"."id" = "books"."author_id" AND "authors"."name" = $1)``.
  A path comparison therefore holds only when the related row exists; ``~p`` is ``NOT EXISTS (...)`` and keeps
  exactly the other rows, those whose foreign key is NULL included (two-valued, like every predicate).
  Positive ``&`` / ``|`` of comparisons through the same first hop share one ``EXISTS`` (the relation is
  to-one, so this is equivalent). Longer paths nest one ``EXISTS`` per hop. One comparison may not
  combine two different paths (``ValidationError``; join explicitly).
- ``order_by`` through a path adds ``LEFT JOIN "authors" AS "books__author" ON ...`` (``fetch=False``; a
  to-one join never repeats rows) and orders by the joined column; rows without a related row sort as NULL.

**Reverse and many-to-many.** ``reverse(Book.author)`` (typed; also ``Author.books``, the source table's
name or ``field(related_name=...)``) and ``m2m(BookTag.book, BookTag.tag)`` (``Book`` -> its ``Tag`` rows
through ``BookTag``) are ``Related`` values: ``.any(p)`` -> ``EXISTS (SELECT 1 FROM "books" WHERE
"books"."author_id" = "authors"."id" AND p)``, ``.none(p)`` -> ``NOT EXISTS (...)``, ``.count(p)`` -> the
correlated ``(SELECT count(*) FROM ...)`` (an ``int``, never NULL; use it in ``annotate``).

**Eager loading, never lazy.** ``select_related(Book.author)`` joins the target (``INNER`` for a NOT NULL
key, else ``LEFT``) and fetches it: rows are ``(Book, Author | None)``. ``prefetch(rel, query=..., then=...)``
records a relation to load with one extra ``WHERE key = ANY($1)`` query per relation (the executor runs
them); rows become ``djogi.loaded.Loaded`` values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, Literal, TypeVar

import msgspec

from djogi.algebra import predicate as p
from djogi.algebra.aggregate import count
from djogi.algebra.expr import (
    Column,
    ForeignColumn,
    OrderBy,
    PathColumn,
    PathRef,
    ValueType,
    column_owner,
    paths_followed,
    relation_field,
)
from djogi.algebra.expr import resolve_target as resolve_target  # djogi.executor.prefetch reads it here
from djogi.algebra.nested import RelatedCount
from djogi.algebra.query import Select, sources
from djogi.algebra.sources import aliased
from djogi.algebra.subquery import OuterRef, exists
from djogi.algebra.traverse import map_children, walk
from djogi.errors import ValidationError
from djogi.schema import ModelBase, descriptor, models

__all__ = [
    "PathColumn",
    "PathRef",
    "Prefetch",
    "Related",
    "RelatedCount",
    "m2m",
    "prefetch",
    "reverse",
    "select_related",
]

A = TypeVar("A", bound=ModelBase)
B = TypeVar("B", bound=ModelBase)
R = TypeVar("R")  # a query's row type

# ------------------------------------------------------------------------------------------ to-one paths


def _fk_column(base: Any, field: str) -> Column[Any, Any]:
    """The foreign-key column ``field`` of ``base`` (a model class or a source ``Ref``)."""
    if isinstance(base, type):
        return getattr(base, field)  # type: ignore[no-any-return]
    return msgspec.structs.replace(getattr(base.model, field), model=base)


def _pk_column(model: Any, ref: Any, base: Any = None, field: str | None = None) -> Column[Any, Any]:
    """The column of ``model`` (as seen through ``ref``) that the relation ``base.field`` references: its
    ``to_field``, else ``model``'s key."""
    name = descriptor(model).pk_field.name
    if field is not None:
        while not isinstance(base, type):
            base = base.target if isinstance(base, PathRef) else base.model
        relation = descriptor(base).field(field).relation
        if relation is not None and relation.to_field is not None:
            name = relation.to_field
    col: Column[Any, Any] = getattr(model, name)
    return col if ref is model else msgspec.structs.replace(col, model=ref)


def _paths(node: object) -> list[PathColumn[Any]]:
    """The path columns in ``node`` (not entering subqueries or ``outer()``)."""
    return [x for x in walk(node, stop=(OuterRef,)) if type(x) is PathColumn]


def _rewrite(node: Any, root: PathRef, repl: Any) -> Any:
    """``node`` with path columns through ``root`` moved onto ``repl`` and every other column (and
    ``outer()`` reference) wrapped in ``outer()``: the predicate as seen from inside the hop's subquery."""
    t = type(node)
    if t is PathColumn:
        ref = node.model
        if ref.root != root:
            raise ValidationError("a comparison may follow only one relation path; join the other one explicitly")
        model = _strip(ref, root, repl)
        cls = PathColumn if isinstance(model, PathRef) else Column
        return cls(model, node.name, node.column, node.vtype, True)
    if t is Column or t is OuterRef:
        return OuterRef(node)
    return map_children(node, lambda x: _rewrite(x, root, repl))


def _strip(ref: PathRef, root: PathRef, repl: Any) -> Any:
    if ref == root:
        return repl
    return PathRef(_strip(ref.base, root, repl), ref.field, ref.target)


def _roots(pred: p.Pred) -> set[Any]:
    return {c.model.root for c in _paths(pred)}


def _hop_exists(pred: p.Pred, root: PathRef, scope: frozenset[str]) -> p.Pred:
    """``EXISTS (SELECT 1 FROM target WHERE target.pk = outer(base.fk) AND <pred moved inside>)``."""
    target = root.target
    table = descriptor(target).table
    source = None
    name = table
    if table in scope:
        base_name = getattr(root.base, "__name__", "t").lower().replace(".", "__")
        name = f"{base_name}__{root.field}"
        while name in scope:
            name += "_"
        source = aliased(target, name)
    ref = target if source is None else source.ref
    inner = _rewrite(pred, root, ref)
    correlate = _pk_column(target, ref, root.base, root.field) == OuterRef(_fk_column(root.base, root.field))
    condition = p.and_(correlate, _lower(inner, scope | {name}))
    return exists(Select(model=target, source=source, condition=condition))


def _lower(pred: p.Pred, scope: frozenset[str]) -> p.Pred:
    t = type(pred)
    if t is p.Truth:
        return pred
    if t is p.Not:
        return p.not_(_lower(pred.part, scope))  # type: ignore[attr-defined]
    if t is p.Xor:
        return p.xor(_lower(pred.left, scope), _lower(pred.right, scope))  # type: ignore[attr-defined]
    if t is p.And or t is p.Or:
        parts: tuple[p.Pred, ...] = pred.parts  # type: ignore[attr-defined]
        groups: dict[Any, list[p.Pred]] = {}
        rest: list[p.Pred] = []
        for part in parts:
            roots = _roots(part)
            if len(roots) == 1 and _positive(part) and _every_leaf_has_path(part):
                groups.setdefault(next(iter(roots)), []).append(part)
            else:
                rest.append(part)
        combine = p.and_ if t is p.And else p.or_
        lowered = [_hop_exists(combine(*group), root, scope) for root, group in groups.items()]
        lowered += [_lower(part, scope) for part in rest]
        return combine(*lowered)
    roots = _roots(pred)
    if not roots:
        return pred
    if len(roots) > 1:
        raise ValidationError("a comparison may follow only one relation path; join the other one explicitly")
    return _hop_exists(pred, next(iter(roots)), scope)


def _positive(pred: p.Pred) -> bool:
    if type(pred) in (p.Not, p.Xor):
        return False
    if type(pred) in (p.And, p.Or):
        return all(_positive(x) for x in pred.parts)  # type: ignore[attr-defined]
    return True


def _every_leaf_has_path(pred: p.Pred) -> bool:
    if type(pred) in (p.And, p.Or):
        return all(_every_leaf_has_path(x) for x in pred.parts)  # type: ignore[attr-defined]
    return bool(_roots(pred))


def _scope_names(q: Select[Any]) -> frozenset[str]:
    names = {descriptor(q.model).table}
    for src in (q.source, *(j.source for j in q.joins)):
        if src is not None:
            names.add(src.name or descriptor(src.model).table)
    return frozenset(names)


def lower_paths(q: Select[Any], predicates: Sequence[p.Pred]) -> tuple[p.Pred, ...]:
    """``predicates`` with every comparison through a relation path turned into correlated ``EXISTS``."""
    if not paths_followed():
        return tuple(predicates)
    scope = _scope_names(q)
    return tuple(_lower(pred, scope) if isinstance(pred, p.Pred) else pred for pred in predicates)


def lower_ordering(q: Select[R], keys: Sequence[Any]) -> tuple[Select[R], tuple[Any, ...]]:
    """``q`` with a ``LEFT JOIN`` per path hop the ordering ``keys`` use, and the keys moved onto the joins."""
    if not paths_followed():
        return q, tuple(keys)
    out = []
    for key in keys:
        order = key if isinstance(key, OrderBy) else None
        x = key.expr if order is not None else key
        if type(x) is PathColumn:
            q, ref = _join_path(q, x.model)
            x = Column(ref, x.name, x.column, x.vtype, True)
            key = msgspec.structs.replace(order, expr=x) if order is not None else x
        out.append(key)
    return q, tuple(out)


def _join_path(q: Select[R], ref: PathRef) -> tuple[Select[R], Any]:
    """Join each hop of ``ref`` (``LEFT JOIN "t" AS "<base>__<field>"``), reusing joins already made."""
    base = ref.base
    if isinstance(base, PathRef):
        q, base = _join_path(q, base)
    base_name = descriptor(base).table if isinstance(base, type) else base.name
    name = f"{base_name}__{ref.field}"
    if any(j.source.name == name for j in q.joins):
        return q, aliased(ref.target, name).ref
    src = aliased(ref.target, name)
    on = _pk_column(ref.target, src.ref, base, ref.field) == _fk_column(base, ref.field)
    return q.join(src, on, kind="LEFT", fetch=False), src.ref


# ------------------------------------------------------------------------------------------ reverse / m2m


class Related(msgspec.Struct, Generic[A, B], frozen=True, gc=False):
    """The ``B`` rows related to each ``A`` row: ``kind="reverse"`` (``B.<field>`` points at ``A``) or
    ``kind="m2m"`` (through model rows whose ``near`` field points at ``A`` and ``far`` field at ``B``)."""

    owner: Any
    model: Any
    name: str
    kind: Literal["reverse", "m2m"]
    field: str
    through: Any = None
    far: str | None = None
    unique: bool = False

    def describe(self) -> str:
        """``Author.books``."""
        return f"{self.owner.__name__}.{self.name}"

    def rows(self) -> Select[B]:
        """The related rows of the enclosing query's current ``A`` row (a correlated query)."""
        model = self.model
        source = None
        if descriptor(model).table == descriptor(self.owner).table:
            source = aliased(model, f"{descriptor(model).table}__{self.name}")
        q: Select[B] = Select(model=model, source=source)
        via = self.model if self.kind == "reverse" else self.through
        owner_pk: OuterRef[Any] = OuterRef(_pk_column(self.owner, self.owner, via, self.field))
        if self.kind == "reverse":
            return q.where(_fk_column(model if source is None else source.ref, self.field) == owner_pk)
        assert self.far is not None
        through = self.through
        ref = model if source is None else source.ref
        q = q.join(through, _fk_column(through, self.far) == _pk_column(model, ref, through, self.far), fetch=False)
        return q.where(_fk_column(through, self.field) == owner_pk)

    def any(self, *predicates: p.Pred) -> p.Pred:
        """``EXISTS (SELECT 1 FROM <related> WHERE <correlation> AND predicates)``."""
        return exists(self.rows().where(*predicates))

    def none(self, *predicates: p.Pred) -> p.Pred:
        """``NOT EXISTS (...)``: no related row satisfies ``predicates`` (``~any``)."""
        return p.not_(self.any(*predicates))

    def count(self, *predicates: p.Pred) -> RelatedCount:
        """``(SELECT count(*) FROM <related> WHERE <correlation> AND predicates)``."""
        q = self.rows().where(*predicates).values(count())
        return RelatedCount(q, ValueType("int", "bigint"))


def reverse(fk: ForeignColumn[B, Any, A | None]) -> Related[A, B]:
    """The reverse of the relation ``fk`` (``reverse(Book.author)``: each author's books)."""
    owner, fd = relation_field(fk)
    if not isinstance(fk.model, type):
        raise ValidationError(f"reverse() takes a model's own relation column, not {fk.describe()}")
    target = resolve_target(owner, fd)
    assert fd.relation is not None
    name = fd.relation.related_name or descriptor(owner).table
    return Related(target, owner, name, "reverse", fd.name, unique=fd.relation.kind == "o2o")


def m2m(
    near: ForeignColumn[Any, Any, A | None], far: ForeignColumn[Any, Any, B | None], *, name: str | None = None
) -> Related[A, B]:
    """The ``B`` rows linked to each ``A`` row through a through model: ``m2m(BookTag.book, BookTag.tag)``.

    ``name`` is what prefetched rows are read under (``loaded.tags``); default: ``B``'s table name.
    """
    through, near_fd = relation_field(near)
    through2, far_fd = relation_field(far)
    if through is not through2 or near_fd.name == far_fd.name:
        raise ValidationError("m2m() takes two different relation columns of one through model")
    owner = resolve_target(through, near_fd)
    model = resolve_target(through, far_fd)
    label = name or descriptor(model).table
    return Related(owner, model, label, "m2m", near_fd.name, through=through, far=far_fd.name)


def reverse_accessor(owner: Any, name: str) -> Related[Any, Any] | None:
    """``Owner.<name>`` when it names a reverse relation (called by ``ModelMeta``)."""
    found = [
        (desc.model, fd.name)
        for desc in models()
        for fd in desc.relations
        if fd.relation is not None
        and (fd.relation.related_name or desc.table) == name
        and resolve_target(desc.model, fd) is owner
    ]
    if len(found) > 1:
        named = [f"{m.__name__}.{f}" for m, f in found]
        raise ValidationError(
            f"{owner.__name__}.{name} is ambiguous: it is the reverse of {' and '.join(named)}; name them with "
            f"field(related_name=...) or write reverse({named[0]})"
        )
    return reverse(getattr(*found[0])) if found else None


# ------------------------------------------------------------------------------------------ eager loading


class Prefetch(msgspec.Struct, frozen=True, gc=False):
    """One relation to load after the main query: ``relation`` is a ``Related`` value or a to-one
    relation column; ``query`` filters / orders the related rows; ``then`` loads relations of those."""

    relation: Any
    query: Any = None
    then: tuple[Prefetch, ...] = ()

    @property
    def name(self) -> str:
        """The attribute the loaded value is found under (``books``, ``author``)."""
        return self.relation.name  # type: ignore[no-any-return]

    @property
    def model(self) -> Any:
        """The related model."""
        if isinstance(self.relation, Related):
            return self.relation.model
        owner, fd = relation_field(self.relation)
        return resolve_target(owner, fd)

    @property
    def owner(self) -> Any:
        """The model whose rows the relation starts from."""
        if isinstance(self.relation, Related):
            return self.relation.owner
        return column_owner(self.relation.model)


def prefetch(
    relation: Related[Any, Any] | Column[Any, Any],
    *,
    query: Select[Any] | None = None,
    then: Prefetch | Sequence[Prefetch] = (),
) -> Prefetch:
    """Load ``relation`` for every row with one more query (``... WHERE key = ANY($1)``); ``query``
    (a ``Select`` over the related model) filters and orders the related rows; ``then`` nests.

    ``ValidationError`` for a query over another model, a mutating/limited one, or a nested prefetch
    that does not start from the related model.
    """
    if not isinstance(relation, Related):
        relation_field(relation)
        if not isinstance(relation.model, type):
            raise ValidationError(f"prefetch() takes a model's own relation column, not {relation.describe()}")
    nested = (then,) if isinstance(then, Prefetch) else tuple(then)
    spec = Prefetch(relation, query, nested)
    if query is not None:
        if not isinstance(query, Select) or query.model is not spec.model:
            raise ValidationError(f"prefetch({spec.name}, query=...) takes a query over {spec.model.__name__}")
        if query.row_limit is not None or query.row_offset is not None or query.projection is not None:
            raise ValidationError("prefetch(query=...) cannot carry limit/offset/values (they apply per relation)")
    for inner in nested:
        if not isinstance(inner, Prefetch) or inner.owner is not spec.model:
            raise ValidationError(f"prefetch({spec.name}, then=...) takes prefetch() values of {spec.model.__name__}")
    return spec


def add_prefetch(q: Select[R], specs: Sequence[Prefetch | Related[Any, Any] | Column[Any, Any]]) -> Select[R]:
    """``q`` with ``specs`` appended to its prefetches (bare relations become ``prefetch(rel)``)."""
    made = tuple(s if isinstance(s, Prefetch) else prefetch(s) for s in specs)
    for spec in made:
        if spec.owner is not q.model:
            raise ValidationError(f"prefetch({spec.name}) starts from {spec.owner.__name__}, not {q.model.__name__}")
    names = [s.name for s in (*q.prefetches, *made)]
    if len(set(names)) != len(names):
        raise ValidationError(f"prefetch(): a relation is loaded twice ({names})")
    return msgspec.structs.replace(q, prefetches=(*q.prefetches, *made))


def add_related(q: Select[R], relations: Sequence[Column[Any, Any]]) -> Select[R]:
    """``q`` joined to each relation's target (INNER for NOT NULL keys, else LEFT), fetching its columns; a
    target already in the query (a second relation to it, a self-reference) is joined as
    ``"<table>" AS "<source table>__<field>"``."""
    for rel in relations:
        owner, fd = relation_field(rel)
        if owner is not q.model or not isinstance(rel.model, type):
            raise ValidationError(f"select_related() takes relation columns of {q.model.__name__}, not {rel!r}")
        target = resolve_target(owner, fd)
        source: Any = target
        ref = target
        if target in sources(q):  # a second relation to one table, or a self-reference: alias it
            source = aliased(target, f"{descriptor(owner).table}__{fd.name}")
            ref = source.ref
        q = q.join(source, _pk_column(target, ref, owner, fd.name) == rel, kind="LEFT" if fd.nullable else "INNER")
    return q


def select_related(*relations: Column[Any, Any]) -> Any:
    """Step form of ``Select.select_related``."""
    return lambda q: add_related(q, relations)
