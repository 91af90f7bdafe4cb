"""SELECT queries as frozen values, and the combinators that build them.

``select(Book)`` (also ``Book.objects``) is an immutable ``Select`` value. Every combinator returns a
new value and exists twice with equal results: as a method (``q.where(p).limit(20)``) and as a pure
function returning a ``Select -> Select`` step for ``toolz.pipe`` (``pipe(q, where(p), limit(20))``).
Building never touches the network; ``compile`` (``q.sql()``) turns the value into SQL with ``$n``
parameters. Invalid requests raise ``djogi.errors.ValidationError`` at build time, before any SQL.

Keyset pagination (``after``) needs a deterministic ordering: the ordering keys must include the
primary key or a unique NOT NULL column, and every column key must be NOT NULL. djogi refuses other
orderings instead of silently appending a tie-breaker, so page one and the pages after it always share
the same ORDER BY.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import msgspec

from djogi.algebra.expr import Column, Const, Expr, OrderBy, Param, node_key
from djogi.algebra.predicate import FALSE, TRUE, Pred, and_, or_
from djogi.errors import ValidationError
from djogi.model import Model, ModelDescriptor, descriptor

if TYPE_CHECKING:
    from djogi.algebra.compile import Statement
    from djogi.algebra.dml import Delete, Update

__all__ = [
    "Keyset",
    "Lock",
    "Select",
    "after",
    "defer",
    "distinct",
    "distinct_on",
    "exclude",
    "filter",
    "for_key_share",
    "for_no_key_update",
    "for_share",
    "for_update",
    "limit",
    "none",
    "offset",
    "only",
    "order_by",
    "select",
    "values",
    "where",
]

M = TypeVar("M", bound=Model)
Step = Callable[["Select[M]"], "Select[M]"]
LockStrength = Literal["UPDATE", "NO KEY UPDATE", "SHARE", "KEY SHARE"]


class Lock(msgspec.Struct, frozen=True):
    """A row lock: ``FOR <strength> [OF "t"] [NOWAIT | SKIP LOCKED]``."""

    strength: LockStrength
    of: tuple[str, ...] = ()
    nowait: bool = False
    skip_locked: bool = False


class Keyset(msgspec.Struct, frozen=True):
    """Keyset position: rows strictly after ``values`` in the order ``keys`` (fixed when ``after`` ran)."""

    keys: tuple[OrderBy, ...]
    values: tuple[Expr[Any], ...]


class Select(msgspec.Struct, Generic[M], frozen=True, kw_only=True):
    """``SELECT`` over one model's table. Fields are listed in SQL order (the compile cache relies on it).

    ``selected`` narrows the model columns (``only``/``defer``); ``projection`` replaces them with
    expressions (``values``), decoded into tuples or into ``into``; ``condition`` is the WHERE predicate
    without the keyset position; ``empty`` marks ``none()``. Field names differ from the combinator
    methods (``row_limit`` vs ``limit()``) because both live on the class.
    """

    model: type[M]
    distinct_all: bool = False
    distinct_keys: tuple[Expr[Any], ...] = ()
    projection: tuple[Expr[Any], ...] | None = None
    into: type[msgspec.Struct] | None = None
    selected: tuple[str, ...] | None = None
    condition: Pred = TRUE
    keyset: Keyset | None = None
    ordering: tuple[OrderBy, ...] = ()
    row_limit: int | None = None
    row_offset: int | None = None
    lock: Lock | None = None
    empty: bool = False

    def __eq__(self, other: object) -> bool:
        return type(other) is Select and node_key(self) == node_key(other)

    def __hash__(self) -> int:
        return hash(node_key(self))

    # --------------------------------------------------------------------------- combinators as methods

    def where(self, *predicates: Pred) -> Select[M]:
        """AND ``predicates`` into the WHERE clause."""
        return _where(self, predicates)

    def filter(self, *predicates: Pred) -> Select[M]:
        """AND ``predicates`` into the WHERE clause (``where`` under another name)."""
        return _where(self, predicates)

    def exclude(self, *predicates: Pred) -> Select[M]:
        """AND ``NOT (p1 AND p2 ...)`` into the WHERE clause (null-safe: keeps rows where it is false)."""
        return _exclude(self, predicates)

    def order_by(self, *keys: Expr[Any] | OrderBy) -> Select[M]:
        """Append ORDER BY keys; a bare expression sorts ascending."""
        return _order_by(self, keys)

    def limit(self, n: int | None) -> Select[M]:
        """Replace the LIMIT (``None`` removes it); ``ValidationError`` when negative."""
        return msgspec.structs.replace(self, row_limit=_count("limit", n))

    def offset(self, n: int | None) -> Select[M]:
        """Replace the OFFSET (``None`` removes it); ``ValidationError`` when negative."""
        return msgspec.structs.replace(self, row_offset=_count("offset", n))

    def distinct(self) -> Select[M]:
        """``SELECT DISTINCT``."""
        return msgspec.structs.replace(self, distinct_all=True, distinct_keys=())

    def distinct_on(self, *exprs: Expr[Any]) -> Select[M]:
        """``SELECT DISTINCT ON (exprs)`` (replaces any earlier DISTINCT)."""
        return _distinct_on(self, exprs)

    def only(self, *cols: Column[Any, Any]) -> Select[M]:
        """Select only these columns (plus ``id``, always kept); replaces an earlier ``only``."""
        return _only(self, cols)

    def defer(self, *cols: Column[Any, Any]) -> Select[M]:
        """Leave these columns out of the SELECT list (``id`` cannot be deferred)."""
        return _defer(self, cols)

    def none(self) -> Select[M]:
        """An always-empty query (``WHERE FALSE``, ``empty=True``): terminals answer without sending SQL."""
        return msgspec.structs.replace(self, condition=FALSE, keyset=None, empty=True)

    def values(self, *exprs: Expr[Any], into: type[msgspec.Struct] | None = None) -> Select[M]:
        """Select these expressions instead of model rows, as tuples or as ``into`` Structs (positional)."""
        return _values(self, exprs, into)

    def for_update(
        self, *, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[Model]] = ()
    ) -> Select[M]:
        """``FOR UPDATE [OF ...] [NOWAIT | SKIP LOCKED]`` (replaces an earlier lock)."""
        return _lock(self, "UPDATE", nowait, skip_locked, of)

    def for_no_key_update(
        self, *, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[Model]] = ()
    ) -> Select[M]:
        """``FOR NO KEY UPDATE [OF ...] [NOWAIT | SKIP LOCKED]``."""
        return _lock(self, "NO KEY UPDATE", nowait, skip_locked, of)

    def for_share(
        self, *, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[Model]] = ()
    ) -> Select[M]:
        """``FOR SHARE [OF ...] [NOWAIT | SKIP LOCKED]``."""
        return _lock(self, "SHARE", nowait, skip_locked, of)

    def for_key_share(
        self, *, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[Model]] = ()
    ) -> Select[M]:
        """``FOR KEY SHARE [OF ...] [NOWAIT | SKIP LOCKED]``."""
        return _lock(self, "KEY SHARE", nowait, skip_locked, of)

    def after(self, row_or_values: M | Sequence[object]) -> Select[M]:
        """Rows strictly after ``row_or_values`` in the current ordering (keyset pagination).

        With every key ascending (or every key descending) the SQL is a row comparison
        ``("a", "b") > ($1, $2)``; with mixed directions an OR chain
        ``("a" > $1) OR ("a" = $1 AND "b" < $2)``. Replaces an earlier ``after``. ``ValidationError`` when
        there is no ordering, the ordering is not deterministic (see the module docstring), a key column
        is nullable, or the number of values does not match the keys.
        """
        return _after(self, row_or_values)

    @property
    def predicate(self) -> Pred:
        """The combined WHERE predicate (filters AND the keyset position), evaluable in memory."""
        if self.keyset is None:
            return self.condition
        return self.condition & keyset_predicate(self.keyset)

    def sql(self) -> Statement:
        """Compile to a ``Statement`` (SQL with ``$n`` placeholders and the parameters)."""
        from djogi.algebra.compile import compile

        return compile(self)

    def update(self, **changes: object) -> Update[M]:
        """The bulk ``UPDATE`` of the rows this query selects; see ``djogi.algebra.dml.update``."""
        from djogi.algebra.dml import update

        return update(self, **changes)

    def delete(self) -> Delete[M]:
        """The bulk ``DELETE`` of the rows this query selects; see ``djogi.algebra.dml.delete``."""
        from djogi.algebra.dml import delete

        return delete(self)


def select(model: type[M]) -> Select[M]:
    """Every row of ``model``'s table: ``SELECT <all columns> FROM "table"`` (same as ``Model.objects``)."""
    descriptor(model)  # TypeError for a class that is not a registered model
    return Select(model=model)


# ------------------------------------------------------------------------------------ implementation


def _count(what: str, n: int | None) -> int | None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise ValidationError(f"{what} must be a non-negative int or None, not {n!r}")
    return n


def _foreign_column(node: object, model: type[Model], allow_excluded: bool) -> Column[Any, Any] | None:
    """The first column inside ``node`` that belongs to a model other than ``model``, if any."""
    t = type(node)
    if t is Column:
        owner = node.model  # type: ignore[attr-defined]
        ok = owner is model or (allow_excluded and getattr(owner, "model", None) is model)
        return None if ok else node  # type: ignore[return-value]
    if t is Param or t is Const:
        return None
    if t is tuple:
        items: tuple[object, ...] = node  # type: ignore[assignment]
    elif isinstance(node, Pred | Expr | OrderBy):
        items = tuple(getattr(node, name) for name in node.__struct_fields__)
    else:
        return None
    for item in items:
        found = _foreign_column(item, model, allow_excluded)
        if found is not None:
            return found
    return None


def check_model(model: type[Model], what: str, nodes: Sequence[object], *, allow_excluded: bool = False) -> None:
    """``ValidationError`` when a node refers to a column of a model other than ``model`` (no joins).

    With ``allow_excluded``, ``excluded(col)`` references to ``model``'s proposed row are accepted too.
    """
    col = _foreign_column(tuple(nodes), model, allow_excluded)
    if col is not None:
        owner = getattr(col.model, "__name__", repr(col.model))
        raise ValidationError(
            f"{what} on {col.describe()}, but the query is over {model.__name__} and has no join to {owner}"
        )


def _where(q: Select[M], predicates: Sequence[Pred]) -> Select[M]:
    check_model(q.model, "where()", predicates)
    return msgspec.structs.replace(q, condition=and_(q.condition, *predicates))


def _exclude(q: Select[M], predicates: Sequence[Pred]) -> Select[M]:
    check_model(q.model, "exclude()", predicates)
    return msgspec.structs.replace(q, condition=q.condition & ~and_(*predicates))


def _exprs(what: str, items: Sequence[object]) -> tuple[Expr[Any], ...]:
    for item in items:
        if not isinstance(item, Expr):
            raise ValidationError(f"{what}() takes expressions such as Book.title, not {item!r}")
    return tuple(items)  # type: ignore[arg-type]


def _order_key(key: Expr[Any] | OrderBy) -> OrderBy:
    if isinstance(key, OrderBy):
        return key
    (expr,) = _exprs("order_by", (key,))
    return OrderBy(expr, False)


def _order_by(q: Select[M], keys: Sequence[Expr[Any] | OrderBy]) -> Select[M]:
    check_model(q.model, "order_by()", keys)
    return msgspec.structs.replace(q, ordering=q.ordering + tuple(_order_key(k) for k in keys))


def _distinct_on(q: Select[M], exprs: Sequence[Expr[Any]]) -> Select[M]:
    if not exprs:
        raise ValidationError("distinct_on() needs at least one expression; use distinct() for SELECT DISTINCT")
    check_model(q.model, "distinct_on()", exprs)
    return msgspec.structs.replace(q, distinct_all=False, distinct_keys=_exprs("distinct_on", exprs))


def _own_columns(q: Select[Any], what: str, cols: Sequence[Column[Any, Any]]) -> set[str]:
    for col in cols:
        if not isinstance(col, Column):
            raise ValidationError(f"{what}() takes column references such as Book.title, not {col!r}")
    check_model(q.model, f"{what}()", cols)
    return {col.column for col in cols}


def _only(q: Select[M], cols: Sequence[Column[Any, Any]]) -> Select[M]:
    desc = descriptor(q.model)
    keep = _own_columns(q, "only", cols) | {desc.pk_field.column}
    return msgspec.structs.replace(q, selected=tuple(c for c in desc.columns if c in keep))


def _defer(q: Select[M], cols: Sequence[Column[Any, Any]]) -> Select[M]:
    desc = descriptor(q.model)
    drop = _own_columns(q, "defer", cols)
    if desc.pk_field.column in drop:
        raise ValidationError(f"defer(): {desc.name}.{desc.pk_field.name} (the primary key) is always selected")
    current = q.selected if q.selected is not None else desc.columns
    return msgspec.structs.replace(q, selected=tuple(c for c in current if c not in drop))


def _values(q: Select[M], exprs: Sequence[Expr[Any]], into: type[msgspec.Struct] | None) -> Select[M]:
    if not exprs:
        raise ValidationError("values() needs at least one expression")
    check_model(q.model, "values()", exprs)
    if into is not None:
        names = into.__struct_fields__
        if len(names) != len(exprs):
            raise ValidationError(
                f"values(into={into.__name__}): {len(exprs)} expressions for {len(names)} fields {names}"
            )
    return msgspec.structs.replace(q, projection=_exprs("values", exprs), into=into)


def _lock(
    q: Select[M], strength: LockStrength, nowait: bool, skip_locked: bool, of: Sequence[type[Model]]
) -> Select[M]:
    if nowait and skip_locked:
        raise ValidationError(f"FOR {strength}: choose nowait or skip_locked, not both")
    for model in of:
        if model is not q.model:
            raise ValidationError(
                f"FOR {strength} OF {getattr(model, '__name__', model)!r}: the query is over "
                f"{q.model.__name__} and has no join to it"
            )
    tables = tuple(descriptor(m).table for m in of)
    return msgspec.structs.replace(q, lock=Lock(strength, tables, nowait, skip_locked))


def _deterministic(desc: ModelDescriptor, keys: Sequence[OrderBy]) -> bool:
    for key in keys:
        if isinstance(key.expr, Column):
            fd = desc.field(key.expr.name)
            if fd.kind == "pk" or (fd.unique and not fd.nullable):
                return True
    return False


def _after(q: Select[M], row_or_values: M | Sequence[object]) -> Select[M]:
    desc = descriptor(q.model)
    keys = q.ordering
    if not keys:
        raise ValidationError("after() needs an ordering: call order_by() first")
    if not _deterministic(desc, keys):
        raise ValidationError(
            f"after(): the ordering of {desc.name} is not deterministic; include {desc.name}.{desc.pk_field.name} "
            "(or a unique NOT NULL column) in order_by(), e.g. as the last key"
        )
    for key in keys:
        if isinstance(key.expr, Column) and key.expr.nullable:
            raise ValidationError(f"after(): {key.expr.describe()} is nullable; keyset pagination needs NOT NULL keys")
    if isinstance(row_or_values, q.model):
        if not all(isinstance(key.expr, Column) for key in keys):
            raise ValidationError("after(row) needs plain column keys; pass the key values as a tuple instead")
        values = tuple(getattr(row_or_values, key.expr.name) for key in keys)  # type: ignore[attr-defined]
    elif isinstance(row_or_values, Sequence) and not isinstance(row_or_values, str | bytes):
        values = tuple(row_or_values)
    else:
        raise ValidationError(
            f"after() takes a {desc.name} instance or a sequence of key values, not {row_or_values!r}"
        )
    if len(values) != len(keys):
        raise ValidationError(f"after(): {len(values)} values for {len(keys)} ordering keys")
    if any(v is None or v is msgspec.UNSET for v in values):
        raise ValidationError(f"after(): key values must not be None or UNSET, got {values!r}")
    if q.empty:
        return q
    return msgspec.structs.replace(
        q, keyset=Keyset(keys, tuple(k.expr.operand(v) for k, v in zip(keys, values, strict=True)))
    )


def keyset_predicate(keyset: Keyset) -> Pred:
    """The keyset position as a portable predicate: ``(k1 > v1) | ((k1 == v1) & (k2 < v2)) | ...``."""
    terms: list[Pred] = []
    for i, key in enumerate(keyset.keys):
        equal = [keyset.keys[j].expr == keyset.values[j] for j in range(i)]
        step = key.expr < keyset.values[i] if key.descending else key.expr > keyset.values[i]
        terms.append(and_(*equal, step))
    return or_(*terms)


# ------------------------------------------------------------------------------ the pure-function forms


def where(*predicates: Pred) -> Step[Any]:
    """Step form of ``Select.filter``: AND ``predicates`` into the WHERE clause."""
    return lambda q: _where(q, predicates)


filter = where


def exclude(*predicates: Pred) -> Step[Any]:
    """Step form of ``Select.exclude``."""
    return lambda q: _exclude(q, predicates)


def order_by(*keys: Expr[Any] | OrderBy) -> Step[Any]:
    """Step form of ``Select.order_by``."""
    return lambda q: _order_by(q, keys)


def limit(n: int | None) -> Step[Any]:
    """Step form of ``Select.limit``."""
    _count("limit", n)
    return lambda q: q.limit(n)


def offset(n: int | None) -> Step[Any]:
    """Step form of ``Select.offset``."""
    _count("offset", n)
    return lambda q: q.offset(n)


def distinct() -> Step[Any]:
    """Step form of ``Select.distinct``."""
    return lambda q: q.distinct()


def distinct_on(*exprs: Expr[Any]) -> Step[Any]:
    """Step form of ``Select.distinct_on``."""
    return lambda q: _distinct_on(q, exprs)


def only(*cols: Column[Any, Any]) -> Step[Any]:
    """Step form of ``Select.only``."""
    return lambda q: _only(q, cols)


def defer(*cols: Column[Any, Any]) -> Step[Any]:
    """Step form of ``Select.defer``."""
    return lambda q: _defer(q, cols)


def none() -> Step[Any]:
    """Step form of ``Select.none``."""
    return lambda q: q.none()


def values(*exprs: Expr[Any], into: type[msgspec.Struct] | None = None) -> Step[Any]:
    """Step form of ``Select.values``."""
    return lambda q: _values(q, exprs, into)


def after(row_or_values: object) -> Step[Any]:
    """Step form of ``Select.after``."""
    return lambda q: _after(q, row_or_values)


def for_update(*, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[Model]] = ()) -> Step[Any]:
    """Step form of ``Select.for_update``."""
    return lambda q: _lock(q, "UPDATE", nowait, skip_locked, of)


def for_no_key_update(*, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[Model]] = ()) -> Step[Any]:
    """Step form of ``Select.for_no_key_update``."""
    return lambda q: _lock(q, "NO KEY UPDATE", nowait, skip_locked, of)


def for_share(*, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[Model]] = ()) -> Step[Any]:
    """Step form of ``Select.for_share``."""
    return lambda q: _lock(q, "SHARE", nowait, skip_locked, of)


def for_key_share(*, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[Model]] = ()) -> Step[Any]:
    """Step form of ``Select.for_key_share``."""
    return lambda q: _lock(q, "KEY SHARE", nowait, skip_locked, of)
