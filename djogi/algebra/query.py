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

from collections.abc import Callable, Collection, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, cast, overload

import msgspec

from djogi.algebra import predicate as _p
from djogi.algebra.aggregate import Agg
from djogi.algebra.depth import guarded
from djogi.algebra.expr import (
    BinOp,
    Cast,
    Collate,
    Column,
    Const,
    Expr,
    Func,
    JsonPath,
    Named,
    OrderBy,
    OuterRef,
    Param,
    ValueType,
)
from djogi.algebra.nullability import nullable
from djogi.algebra.predicate import FALSE, TRUE, Pred, and_, or_
from djogi.algebra.rowtype import Row, python_type, row_type
from djogi.algebra.search import Distance, SearchMatch
from djogi.algebra.sources import Join, JoinKind, Source
from djogi.algebra.traverse import find, key_hash, node_key, same, walk
from djogi.algebra.window import Over, window_errors
from djogi.errors import ArgumentTypeError, ValidationError
from djogi.schema import ModelBase, ModelDescriptor, descriptor

if TYPE_CHECKING:
    from djogi.algebra.dml import Delete, Update
    from djogi.algebra.expr import ForeignColumn
    from djogi.algebra.relations import Prefetch, Related
    from djogi.algebra.results import Statement
    from djogi.algebra.setops import SetOp
    from djogi.loaded import Loaded

__all__ = [
    "CountOf",
    "ExistsOf",
    "Grouping",
    "Keyset",
    "Lock",
    "Select",
    "after",
    "annotate",
    "count_of",
    "cube",
    "defer",
    "distinct",
    "distinct_on",
    "exclude",
    "exists_of",
    "filter",
    "for_key_share",
    "for_no_key_update",
    "for_share",
    "for_update",
    "group_by",
    "grouping_sets",
    "having",
    "join",
    "limit",
    "none",
    "offset",
    "only",
    "order_by",
    "rollup",
    "select",
    "select_from",
    "values",
    "where",
]

M = TypeVar("M", bound=ModelBase)
S = TypeVar("S", bound=msgspec.Struct)
V = TypeVar("V")
T1 = TypeVar("T1")
T2 = TypeVar("T2")
T3 = TypeVar("T3")
T4 = TypeVar("T4")
T5 = TypeVar("T5")
T6 = TypeVar("T6")
R = TypeVar("R")  # the row type of a query: a model, a tuple, a Struct, Loaded[model] ...
Step = Callable[["Select[R]"], "Select[R]"]
LockStrength = Literal["UPDATE", "NO KEY UPDATE", "SHARE", "KEY SHARE"]


class Lock(msgspec.Struct, frozen=True):
    """A row lock: ``FOR <strength> [OF "t"] [NOWAIT | SKIP LOCKED]``."""

    strength: LockStrength
    of: tuple[str, ...] = ()
    nowait: bool = False
    skip_locked: bool = False


class Keyset(msgspec.Struct, frozen=True):
    """Keyset position: rows strictly after ``values`` in the order ``keys`` (fixed when ``after`` ran)."""

    __children__ = ("keys", "values")

    keys: tuple[OrderBy, ...]
    values: tuple[Expr[Any], ...]


class Grouping(msgspec.Struct, frozen=True, gc=False):
    """``GROUP BY`` keys: plain (``keys``), ``ROLLUP``, ``CUBE`` (one set each) or ``GROUPING SETS``."""

    __children__ = ("sets",)

    kind: Literal["keys", "rollup", "cube", "sets"]
    sets: tuple[tuple[Expr[Any], ...], ...]

    @property
    def keys(self) -> tuple[Expr[Any], ...]:
        """Every distinct key expression, in first-appearance order."""
        out: list[Expr[Any]] = []
        for group in self.sets:
            out.extend(x for x in group if not any(node_key(x) == node_key(y) for y in out))
        return tuple(out)


def rollup(*keys: Expr[Any]) -> Grouping:
    """``GROUP BY ROLLUP (a, b)``: groups (a, b), (a) and the grand total; pass to ``group_by``."""
    return Grouping("rollup", (_exprs("rollup", keys),))


def cube(*keys: Expr[Any]) -> Grouping:
    """``GROUP BY CUBE (a, b)``: every subset of the keys; pass to ``group_by``."""
    return Grouping("cube", (_exprs("cube", keys),))


def grouping_sets(*sets: Sequence[Expr[Any]] | Expr[Any]) -> Grouping:
    """``GROUP BY GROUPING SETS ((a, b), (a), ())``; each set a sequence of keys (or one key)."""
    if not sets:
        raise ValidationError("grouping_sets() needs at least one set (() is the grand total)")
    return Grouping("sets", tuple(_exprs("grouping_sets", s if isinstance(s, Sequence) else (s,)) for s in sets))


class Select(msgspec.Struct, Generic[R], frozen=True, kw_only=True):
    """``SELECT`` over one model's table. Fields are listed in SQL order (the compile cache relies on it).

    ``selected`` narrows the model columns (``only``/``defer``); ``projection`` replaces them with
    expressions (``values``), decoded into tuples or into ``into``; ``condition`` is the WHERE predicate
    without the keyset position; ``empty`` marks ``none()``. Field names differ from the combinator
    methods (``row_limit`` vs ``limit()``) because both live on the class.
    """

    __children__ = (
        "distinct_keys", "projection", "annotations", "source", "joins", "condition", "keyset", "grouping",
        "having_condition", "ordering",
    )  # fmt: skip

    model: type[Any]
    distinct_all: bool = False
    distinct_keys: tuple[Expr[Any], ...] = ()
    projection: tuple[Expr[Any], ...] | None = None
    into: type[msgspec.Struct] | None = None
    selected: tuple[str, ...] | None = None
    condition: Pred = TRUE
    keyset: Keyset | None = None
    ordering: tuple[OrderBy, ...] = ()
    row_limit: int | None = None
    row_offset: int | Named[int] | None = None
    lock: Lock | None = None
    empty: bool = False
    annotations: tuple[Expr[Any], ...] = ()
    annotation_type: type[msgspec.Struct] | None = None
    source: Source | None = None
    joins: tuple[Join, ...] = ()
    grouping: Grouping | None = None
    having_condition: Pred = TRUE
    prefetches: tuple[Any, ...] = ()  # ``relations.Prefetch`` values, run by the executor after the query

    def __eq__(self, other: object) -> bool:
        return type(other) is Select and same(self, other)

    def __hash__(self) -> int:
        return key_hash(self)

    # --------------------------------------------------------------------------- combinators as methods

    def where(self, *predicates: Pred) -> Select[R]:
        """AND ``predicates`` into the WHERE clause."""
        return _where(self, predicates)

    def filter(self, *predicates: Pred) -> Select[R]:
        """AND ``predicates`` into the WHERE clause (``where`` under another name)."""
        return _where(self, predicates)

    def exclude(self, *predicates: Pred) -> Select[R]:
        """AND ``NOT (p1 AND p2 ...)`` into the WHERE clause (null-safe: keeps rows where it is false)."""
        return _exclude(self, predicates)

    def order_by(self, *keys: Expr[Any] | OrderBy) -> Select[R]:
        """Append ORDER BY keys; a bare expression sorts ascending."""
        return _order_by(self, keys)

    def limit(self, n: int | None) -> Select[R]:
        """Replace the LIMIT (``None`` removes it); ``ValidationError`` when negative."""
        return msgspec.structs.replace(self, row_limit=_count("limit", n))

    def offset(self, n: int | Named[Any] | None) -> Select[R]:
        """Replace the OFFSET (``None`` removes it); ``ValidationError`` when negative. A named parameter
        (``offset(param("skip"))``, for ``db.prepare``) takes a non-negative int on each run."""
        if isinstance(n, Named):
            if n.vtype.sql is not None and n.vtype.kind != "int":
                raise ValidationError(f"offset({n.describe()}): the parameter is {n.vtype.sql}; an offset is a bigint")
            return msgspec.structs.replace(self, row_offset=Named(n.name, OFFSET_TYPE))
        return msgspec.structs.replace(self, row_offset=_count("offset", n))

    def distinct(self) -> Select[R]:
        """``SELECT DISTINCT``."""
        return msgspec.structs.replace(self, distinct_all=True, distinct_keys=())

    def distinct_on(self, *exprs: Expr[Any]) -> Select[R]:
        """``SELECT DISTINCT ON (exprs)`` (replaces any earlier DISTINCT)."""
        return _distinct_on(self, exprs)

    def only(self, *cols: Column[Any, Any]) -> Select[R]:
        """Select only these columns (plus ``id``, always kept); replaces an earlier ``only``."""
        return _only(self, cols)

    def defer(self, *cols: Column[Any, Any]) -> Select[R]:
        """Leave these columns out of the SELECT list (``id`` cannot be deferred)."""
        return _defer(self, cols)

    def none(self) -> Select[R]:
        """An always-empty query (``WHERE FALSE``, ``empty=True``): terminals answer without sending SQL."""
        return msgspec.structs.replace(self, condition=FALSE, keyset=None, empty=True)

    @overload
    def values(self, e1: Expr[T1], /) -> Select[tuple[T1]]: ...
    @overload
    def values(self, e1: Expr[T1], e2: Expr[T2], /) -> Select[tuple[T1, T2]]: ...
    @overload
    def values(self, e1: Expr[T1], e2: Expr[T2], e3: Expr[T3], /) -> Select[tuple[T1, T2, T3]]: ...
    @overload
    def values(self, e1: Expr[T1], e2: Expr[T2], e3: Expr[T3], e4: Expr[T4], /) -> Select[tuple[T1, T2, T3, T4]]: ...
    @overload
    def values(
        self, e1: Expr[T1], e2: Expr[T2], e3: Expr[T3], e4: Expr[T4], e5: Expr[T5], /
    ) -> Select[tuple[T1, T2, T3, T4, T5]]: ...
    @overload
    def values(
        self, e1: Expr[T1], e2: Expr[T2], e3: Expr[T3], e4: Expr[T4], e5: Expr[T5], e6: Expr[T6], /
    ) -> Select[tuple[T1, T2, T3, T4, T5, T6]]: ...
    @overload
    def values(self, *exprs: Expr[Any], into: type[S]) -> Select[S]: ...
    @overload
    def values(self, **named: Expr[Any]) -> Select[Row]: ...
    @overload
    def values(self, *exprs: Expr[Any]) -> Select[tuple[Any, ...]]: ...
    def values(  # type: ignore[misc]  # (a named expression called "into" is refused at run time)
        self, *exprs: Expr[Any], into: type[msgspec.Struct] | None = None, **named: Expr[Any]
    ) -> Select[Any]:
        """Select these expressions instead of model rows: as tuples, as ``into`` Structs (positional), or,
        with keywords only, as a generated frozen Struct (``values(genre=Book.genre, n=count())``) whose
        field types follow the expressions (``T | None`` where the value may be NULL)."""
        return _values(self, exprs, into, named)

    # --------------------------------------------------------------------- joins, grouping, windows

    def join(self, target: Any, on: Pred = TRUE, *, kind: JoinKind = "INNER", fetch: bool = True) -> Select[Any]:
        """``<kind> JOIN target ON on``; ``target`` is a model or a ``Source`` (``aliased``, ``derived``,
        ``lateral``, a CTE). Without ``values()`` the rows become tuples ``(base, joined ...)`` of models
        (``None`` for the missing side of an outer join), unless ``fetch=False``. See ``JoinedRows``."""
        return _join(self, target, on, kind, fetch)

    def left_join(self, target: Any, on: Pred = TRUE, *, fetch: bool = True) -> Select[Any]:
        """``LEFT JOIN target ON on`` (the joined side decodes to ``None`` when missing)."""
        return _join(self, target, on, "LEFT", fetch)

    def right_join(self, target: Any, on: Pred = TRUE, *, fetch: bool = True) -> Select[Any]:
        """``RIGHT JOIN target ON on``."""
        return _join(self, target, on, "RIGHT", fetch)

    def full_join(self, target: Any, on: Pred = TRUE, *, fetch: bool = True) -> Select[Any]:
        """``FULL JOIN target ON on``."""
        return _join(self, target, on, "FULL", fetch)

    def cross_join(self, target: Any, *, fetch: bool = True) -> Select[Any]:
        """``CROSS JOIN target``."""
        return _join(self, target, TRUE, "CROSS", fetch)

    def group_by(self, *keys: Expr[Any] | Grouping) -> Select[Row]:
        """``GROUP BY keys`` (or one ``rollup(...)`` / ``cube(...)`` / ``grouping_sets(...)``); replaces an
        earlier grouping. Project with ``values()`` / ``annotate()``; filter groups with ``having()``."""
        return cast("Select[Row]", _group_by(self, keys))

    def having(self, *predicates: Pred) -> Select[R]:
        """AND ``predicates`` (aggregates allowed: ``count() > 2``) into the HAVING clause."""
        _check(self, "having()", _preds("having()", predicates))
        return msgspec.structs.replace(self, having_condition=and_(self.having_condition, *predicates))

    @overload
    def annotate(self: Select[Row], **named: Expr[Any]) -> Select[Row]: ...  # type: ignore[overload-overlap]
    @overload
    def annotate(self: Select[tuple[V, Row]], **named: Expr[Any]) -> Select[tuple[V, Row]]: ...
    @overload
    def annotate(self, **named: Expr[Any]) -> Select[tuple[R, Row]]: ...
    def annotate(self, **named: Expr[Any]) -> Select[Any]:
        """Grouped: ``values(<key fields by name>, **named)``. Ungrouped: add ``expr AS "name"`` columns next
        to the model's (an aggregate becomes the window ``agg OVER ()``); rows decode to ``(model, Row)``."""
        return _annotate(self, named)

    def count_query(self) -> CountOf:
        """``count_of(self)``."""
        return count_of(self)

    def exists_query(self) -> ExistsOf:
        """``exists_of(self)``."""
        return exists_of(self)

    @overload
    def select_related(self, r1: ForeignColumn[Any, Any, T1], /) -> Select[tuple[R, T1]]: ...
    @overload
    def select_related(
        self, r1: ForeignColumn[Any, Any, T1], r2: ForeignColumn[Any, Any, T2], /
    ) -> Select[tuple[R, T1, T2]]: ...
    @overload
    def select_related(
        self, r1: ForeignColumn[Any, Any, T1], r2: ForeignColumn[Any, Any, T2], r3: ForeignColumn[Any, Any, T3], /
    ) -> Select[tuple[R, T1, T2, T3]]: ...
    @overload
    def select_related(
        self,
        r1: ForeignColumn[Any, Any, T1],
        r2: ForeignColumn[Any, Any, T2],
        r3: ForeignColumn[Any, Any, T3],
        r4: ForeignColumn[Any, Any, T4],
        /,
    ) -> Select[tuple[R, T1, T2, T3, T4]]: ...
    @overload
    def select_related(self, *relations: ForeignColumn[Any, Any, Any]) -> Select[tuple[Any, ...]]: ...
    def select_related(self, *relations: ForeignColumn[Any, Any, Any]) -> Select[tuple[Any, ...]]:
        """Join each to-one relation's target and fetch it in the same query (``INNER JOIN`` for a NOT NULL
        key, else ``LEFT JOIN``): rows become ``(Book, Author | None, ...)``. See ``djogi.algebra.relations``."""
        from djogi.algebra.relations import add_related

        return cast("Select[tuple[Any, ...]]", add_related(self, relations))

    def prefetch(self, *relations: Prefetch | Related[Any, Any] | ForeignColumn[Any, Any, Any]) -> Select[Loaded[R]]:
        """Load these relations (``prefetch(...)`` values or bare ``Author.books`` / ``Book.author``) with one
        extra ``WHERE key = ANY($1)`` query each; terminals then return ``djogi.loaded.Loaded`` rows."""
        from djogi.algebra.relations import add_prefetch

        return cast("Select[Loaded[R]]", add_prefetch(self, relations))

    def union(self, other: Select[R] | SetOp[R]) -> SetOp[R]:
        """``(self) UNION (other)``; see ``djogi.algebra.setops``."""
        return _setop("UNION", self, other)

    def union_all(self, other: Select[R] | SetOp[R]) -> SetOp[R]:
        """``(self) UNION ALL (other)``."""
        return _setop("UNION ALL", self, other)

    def intersect(self, other: Select[R] | SetOp[R]) -> SetOp[R]:
        """``(self) INTERSECT (other)``."""
        return _setop("INTERSECT", self, other)

    def intersect_all(self, other: Select[R] | SetOp[R]) -> SetOp[R]:
        """``(self) INTERSECT ALL (other)``."""
        return _setop("INTERSECT ALL", self, other)

    def except_(self, other: Select[R] | SetOp[R]) -> SetOp[R]:
        """``(self) EXCEPT (other)``."""
        return _setop("EXCEPT", self, other)

    def except_all(self, other: Select[R] | SetOp[R]) -> SetOp[R]:
        """``(self) EXCEPT ALL (other)``."""
        return _setop("EXCEPT ALL", self, other)

    def for_update(
        self, *, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[ModelBase]] = ()
    ) -> Select[R]:
        """``FOR UPDATE [OF ...] [NOWAIT | SKIP LOCKED]`` (replaces an earlier lock)."""
        return _lock(self, "UPDATE", nowait, skip_locked, of)

    def for_no_key_update(
        self, *, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[ModelBase]] = ()
    ) -> Select[R]:
        """``FOR NO KEY UPDATE [OF ...] [NOWAIT | SKIP LOCKED]``."""
        return _lock(self, "NO KEY UPDATE", nowait, skip_locked, of)

    def for_share(
        self, *, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[ModelBase]] = ()
    ) -> Select[R]:
        """``FOR SHARE [OF ...] [NOWAIT | SKIP LOCKED]``."""
        return _lock(self, "SHARE", nowait, skip_locked, of)

    def for_key_share(
        self, *, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[ModelBase]] = ()
    ) -> Select[R]:
        """``FOR KEY SHARE [OF ...] [NOWAIT | SKIP LOCKED]``."""
        return _lock(self, "KEY SHARE", nowait, skip_locked, of)

    def after(self, row_or_values: M | Sequence[object]) -> Select[R]:
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

    def update(self: Select[M], **changes: object) -> Update[M]:
        """The bulk ``UPDATE`` of the rows this query selects; see ``djogi.algebra.dml.update``."""
        from djogi.algebra.dml import update

        return update(self, **changes)

    def delete(self: Select[M]) -> Delete[M]:
        """The bulk ``DELETE`` of the rows this query selects; see ``djogi.algebra.dml.delete``."""
        from djogi.algebra.dml import delete

        return delete(self)


def select(model: type[M]) -> Select[M]:
    """Every row of ``model``'s table: ``SELECT <all columns> FROM "table"`` (same as ``Model.objects``)."""
    descriptor(model)  # TypeError for a class that is not a registered model
    return Select(model=model)


def select_from(source: Source) -> Select[Any]:
    """Rows of a model-backed ``Source`` (an alias, a CTE, a derived table): ``SELECT "name"."a", ...
    FROM <source>``; the model's columns (``Book.title``) refer to the source inside this query.
    ``ValidationError`` for a source of plain values (join it instead)."""
    if not isinstance(source, Source) or source.model is None:
        raise ValidationError(f"select_from() takes a source of model rows (aliased, with_, derived), not {source!r}")
    return Select(model=source.model, source=source)


class CountOf(msgspec.Struct, frozen=True):
    """``SELECT count(*) FROM ... WHERE ...`` (or ``FROM (<query>) AS "__djogi_sub"``); a ``ScalarRow``."""

    __scopes__ = ("query",)

    query: Any
    empty: bool = False

    def sql(self) -> Statement:
        """Compile to a ``Statement`` (a ``ScalarRow``)."""
        from djogi.algebra.compile import compile

        return compile(self)


class ExistsOf(msgspec.Struct, frozen=True):
    """``SELECT EXISTS (SELECT 1 FROM ... WHERE ... LIMIT 1)``; a ``ScalarRow``."""

    __scopes__ = ("query",)

    query: Any
    empty: bool = False

    def sql(self) -> Statement:
        """Compile to a ``Statement`` (a ``ScalarRow``)."""
        from djogi.algebra.compile import compile

        return compile(self)


def simple(q: Select[Any]) -> bool:
    """Whether ``q``'s row count depends only on its FROM / WHERE (no DISTINCT, grouping, limit, lock)."""
    return not (
        q.distinct_all or q.distinct_keys or q.grouping is not None or q.row_limit is not None
        or q.row_offset is not None or q.lock is not None or q.having_condition != TRUE
    )  # fmt: skip


def _unordered(query: Any) -> Any:
    """``query`` without the parts that cannot change its number of rows (ordering, projection)."""
    if isinstance(query, Select):
        if simple(query):
            return msgspec.structs.replace(
                query, projection=None, into=None, selected=None, ordering=(), annotations=(), annotation_type=None
            )
        if query.row_limit is None and query.row_offset is None and not query.distinct_keys:
            return msgspec.structs.replace(query, ordering=())
    elif getattr(query, "row_limit", 0) is None and getattr(query, "row_offset", 0) is None:
        return msgspec.structs.replace(query, ordering=())
    return query


def count_of(query: Any) -> CountOf:
    """The number of rows ``query`` (a ``Select`` or ``SetOp``) returns, as one ``ScalarRow`` statement.

    A plain filter compiles to ``SELECT count(*) FROM "t" [JOIN ..] [WHERE ..]``; DISTINCT, grouping,
    LIMIT/OFFSET, locks and set operations to ``SELECT count(*) FROM (<query>) AS "__djogi_sub"``.
    Ordering is dropped where it cannot change the count. ``none()`` queries compile with ``empty=True``.
    """
    return CountOf(_unordered(query), bool(getattr(query, "empty", False)))


def exists_of(query: Any) -> ExistsOf:
    """Whether ``query`` returns a row: ``SELECT EXISTS (SELECT 1 FROM "t" WHERE .. LIMIT 1)`` (a
    ``ScalarRow``; ``FROM (<query>) AS "__djogi_sub"`` for the shapes listed in ``count_of``)."""
    return ExistsOf(_unordered(query), bool(getattr(query, "empty", False)))


# ------------------------------------------------------------------------------------ implementation


OFFSET_TYPE = ValueType("count", "bigint")
"""The type of a named OFFSET: a ``bigint`` that is a non-negative int (``codecs.values`` kind ``count``)."""


def _count(what: str, n: int | None) -> int | None:
    if n is None or (type(n) is int and n >= 0):
        return n
    if isinstance(n, Named):
        why = (" (it is written into the SQL as a number, so that PostgreSQL plans for it)" if what == "limit"
               else " of a set operation")  # fmt: skip
        raise ValidationError(f"{what}({n.describe()}): a named parameter cannot stand for the {what}{why}; "
                              "build the query per call")  # fmt: skip
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValidationError(f"{what} must be a non-negative int or None, not {n!r}")
    return int(n)  # an int subclass (an IntEnum ...) as a plain int


def _foreign_column(node: object, allowed: Collection[Any]) -> Column[Any, Any] | None:
    """The first column inside ``node`` whose owner is not in ``allowed`` (subqueries and ``outer()``
    references are not entered: they are checked where they are built)."""
    for x in walk(node, stop=(OuterRef,)):
        if type(x) is Column and x.model not in allowed:
            return x
    return None


def _refuse(col: Column[Any, Any] | None, what: str, over: str) -> None:
    if col is not None:
        owner = getattr(col.model, "__name__", repr(col.model))
        raise ValidationError(f"{what} on {col.describe()}, but the query is over {over} and has no join to {owner}")


@guarded
def check_model(model: type[ModelBase], what: str, nodes: Sequence[object], *, also: tuple[object, ...] = ()) -> None:
    """``ValidationError`` when a node refers to a column of a model other than ``model`` (no joins).

    Columns owned by one of ``also`` are accepted too (``dml`` passes ``excluded(col)``'s row).
    """
    _refuse(_foreign_column(tuple(nodes), frozenset({model, *also})), what, model.__name__)


def sources(q: Select[Any]) -> Collection[Any]:
    """What columns of ``q`` may belong to: its model, its source's ``Ref`` and every joined source's."""
    if q.source is None and not q.joins:
        return (q.model,)
    found = {q.model}
    if q.source is not None:
        found.add(q.source.ref)
    found.update(j.source.ref for j in q.joins)
    return frozenset(found)


# The node types a plain tree is made of, with the fields holding their child nodes. A tree built only from
# these (columns of the query's own sources, parameters and constants holding plain values) has nothing for
# the build-time checks to find: no foreign column, no window function, no aggregate, no relation path,
# no subquery. ``_plain`` proves that in one walk; anything else takes the full checks.
_PLAIN_CHILDREN: dict[type, tuple[str, ...]] = {
    cls: cls.__children__
    for cls in (
        _p.Compare, _p.And, _p.Or, _p.Not, _p.Xor, _p.IsNull, _p.Between, _p.In, _p.Like, _p.Regex, _p.ArrayOp,
        _p.Truth, BinOp, Func, Cast, Collate, JsonPath, OrderBy, SearchMatch, Distance,
    )
}  # fmt: skip


_SCALARS = frozenset({int, str, bool, float, type(None)})


def _plain_value(value: object) -> bool:
    """A parameter or constant value the generic walks would not enter (no nested tuple or Struct)."""
    t = type(value)
    if t in _SCALARS:
        return True
    if t is tuple:
        return not any(type(v) is tuple or isinstance(v, msgspec.Struct) for v in value)  # type: ignore[attr-defined]
    return not isinstance(value, msgspec.Struct)


def _plain(node: object, allowed: Collection[Any]) -> bool:
    """Whether ``node`` is a plain tree (see ``_PLAIN_CHILDREN``) whose columns all belong to ``allowed``.

    (One frame per inner node: a node with one child field is followed in the loop, and the column,
    parameter and column-against-parameter leaves among a node's children are checked inline.)"""
    while True:
        t = type(node)
        if t is tuple:
            children: Any = node
        elif t is Column:
            return node.model in allowed  # type: ignore[attr-defined]
        elif t is Param or t is Const:
            return _plain_value(node.value)  # type: ignore[attr-defined]
        elif t is _p.Compare:
            children = (node,)
        else:
            parts = _PLAIN_PARTS.get(t)
            if parts is None:
                return False
            get, single = parts
            if single:
                node = get(node)
                continue
            children = get(node)
        for child in children:  # (a plain loop: all() over a generator costs a frame per call)
            c = type(child)
            if c is _p.Compare:  # the common leaf: a column against a parameter
                left, right = child.left, child.right
                if type(left) is Column:
                    if left.model not in allowed:
                        return False
                elif not _plain(left, allowed):
                    return False
                if type(right) is Param:
                    if type(right.value) not in _SCALARS and not _plain_value(right.value):
                        return False
                elif not _plain(right, allowed):
                    return False
            elif c is Param or c is Const:
                if type(child.value) not in _SCALARS and not _plain_value(child.value):
                    return False
            elif c is Column:
                if child.model not in allowed:
                    return False
            elif not _plain(child, allowed):
                return False
        return True


def _no_children(node: object) -> tuple[()]:
    return ()


# ``_PLAIN_CHILDREN`` as getters: the one child of a single-field node (True), else the tuple of children.
_PLAIN_PARTS: dict[type, tuple[Callable[[Any], Any], bool]] = {
    cls: (attrgetter(*fields), len(fields) == 1) if fields else (_no_children, False)
    for cls, fields in _PLAIN_CHILDREN.items()
}


def _check(q: Select[Any], what: str, nodes: Sequence[object]) -> None:
    """``check_model`` for a query that may have a named source and joins; also refuses bare window
    functions (``row_number()`` without ``.over()``)."""
    if _plain(tuple(nodes), sources(q)):
        return
    _refuse(_foreign_column(tuple(nodes), sources(q)), what, q.model.__name__)
    bare = window_errors(nodes)
    if bare is not None:
        raise ValidationError(f"{what}: {bare.describe()} is a window function; call .over(...) on it")


def _no_aggregates(what: str, nodes: Sequence[object]) -> None:
    found = find(tuple(nodes), (Agg, Over))
    if found is not None:
        hint = "use having()" if isinstance(found, Agg) else "filter on it from an outer query (derived / with_)"
        raise ValidationError(f"{what}: {found.describe()} cannot appear here; {hint}")


def _lower_paths(q: Select[Any], predicates: Sequence[Pred]) -> Sequence[Pred]:
    """Relation paths (``Book.author.name == x``) as correlated EXISTS; see ``djogi.algebra.relations``."""
    from djogi.algebra.relations import lower_paths

    return lower_paths(q, predicates)


@guarded
def _where(q: Select[R], predicates: Sequence[Pred]) -> Select[R]:
    predicates = _preds("where()", predicates)
    if not _plain(predicates, sources(q)):  # plain predicates have no path to lower, nothing to refuse
        predicates = _lower_paths(q, predicates)
        _check(q, "where()", predicates)
        _no_aggregates("where()", predicates)
    return msgspec.structs.replace(q, condition=_p.conjunction((q.condition, *predicates)))


@guarded
def _exclude(q: Select[R], predicates: Sequence[Pred]) -> Select[R]:
    predicates = _preds("exclude()", predicates)
    if not _plain(predicates, sources(q)):
        predicates = _lower_paths(q, predicates)
        _check(q, "exclude()", predicates)
        _no_aggregates("exclude()", predicates)
    return msgspec.structs.replace(q, condition=q.condition & ~and_(*predicates))


def _preds(what: str, items: Sequence[object]) -> tuple[Pred, ...]:
    """``items`` when each is a predicate; ``ArgumentTypeError`` naming ``what`` otherwise."""
    return _p.checked(tuple(items), what)


def _exprs(what: str, items: Sequence[object]) -> tuple[Expr[Any], ...]:
    for item in items:
        if not isinstance(item, Expr):
            raise ArgumentTypeError(f"{what}() takes expressions such as Book.title, not {item!r}")
    return tuple(items)  # type: ignore[arg-type]


def _order_keys(keys: Sequence[Expr[Any] | OrderBy]) -> tuple[OrderBy, ...]:
    """``keys`` as ``OrderBy`` items (a bare expression ascending); ``ArgumentTypeError`` for a key that is no
    expression, ``ValidationError`` for an encrypted column."""
    out = []
    for key in keys:
        if type(key) is Column:  # the common key, without the isinstance calls and the type property
            ordered = OrderBy(key, False)
            kind = key.vtype.kind
        elif isinstance(key, OrderBy):
            ordered = key
            kind = key.expr.type.kind
        else:
            (expr,) = _exprs("order_by", (key,))
            ordered = OrderBy(expr, False)
            kind = expr.type.kind
        if kind == "encrypted":
            raise ValidationError(f"order_by(): {ordered.expr.describe()} is encrypted at rest; its random "
                                  "ciphertext has no meaningful order: order by another column")  # fmt: skip
        out.append(ordered)
    return tuple(out)


@guarded
def _order_by(q: Select[R], keys: Sequence[Expr[Any] | OrderBy]) -> Select[R]:
    if not _plain(tuple(keys), sources(q)):
        from djogi.algebra.relations import lower_ordering

        q, keys = lower_ordering(q, keys)  # order by a relation path: LEFT JOIN its hops
        _check(q, "order_by()", keys)
    return msgspec.structs.replace(q, ordering=q.ordering + _order_keys(keys))


@guarded
def _distinct_on(q: Select[R], exprs: Sequence[Expr[Any]]) -> Select[R]:
    if not exprs:
        raise ValidationError("distinct_on() needs at least one expression; use distinct() for SELECT DISTINCT")
    _check(q, "distinct_on()", exprs)
    return msgspec.structs.replace(q, distinct_all=False, distinct_keys=_exprs("distinct_on", exprs))


def _own_columns(q: Select[Any], what: str, cols: Sequence[Column[Any, Any]]) -> set[str]:
    for col in cols:
        if not isinstance(col, Column):
            raise ArgumentTypeError(f"{what}() takes column references such as Book.title, not {col!r}")
    check_model(q.model, f"{what}()", cols)
    return {col.column for col in cols}


def check_decodable(desc: ModelDescriptor, columns: tuple[str, ...], what: str) -> tuple[str, ...]:
    """Return ``columns`` when rows of them decode into ``desc``'s model; ValidationError naming the fields
    without a default that they leave out otherwise."""
    missing = desc.missing_required(columns)
    if missing:
        raise ValidationError(
            f"{what}: leaves out fields without a default ({', '.join(f'{desc.name}.{m}' for m in missing)}), so "
            f"rows cannot be built as {desc.name} instances; keep them, or use values(...) for a partial projection"
        )
    return columns


def _only(q: Select[R], cols: Sequence[Column[Any, Any]]) -> Select[R]:
    desc = descriptor(q.model)
    keep = _own_columns(q, "only", cols) | {desc.pk_field.column}
    selected = check_decodable(desc, tuple(c for c in desc.columns if c in keep), "only()")
    return msgspec.structs.replace(q, selected=selected)


def _defer(q: Select[R], cols: Sequence[Column[Any, Any]]) -> Select[R]:
    desc = descriptor(q.model)
    drop = _own_columns(q, "defer", cols)
    if desc.pk_field.column in drop:
        raise ValidationError(f"defer(): {desc.name}.{desc.pk_field.name} (the primary key) is always selected")
    current = q.selected if q.selected is not None else desc.columns
    selected = check_decodable(desc, tuple(c for c in current if c not in drop), "defer()")
    return msgspec.structs.replace(q, selected=selected)


@guarded
def _values(
    q: Select[R], exprs: Sequence[Expr[Any]], into: type[msgspec.Struct] | None, named: dict[str, Expr[Any]]
) -> Select[R]:
    if named:
        if exprs or into is not None:
            raise ValidationError("values(): give expressions positionally (with into=) or by name, not both")
        exprs, into = tuple(named.values()), _row_type(q, named)
    if not exprs:
        raise ValidationError("values() needs at least one expression")
    _check(q, "values()", exprs)
    if into is not None:
        names = into.__struct_fields__
        if len(names) != len(exprs):
            raise ValidationError(
                f"values(into={into.__name__}): {len(exprs)} expressions for {len(names)} fields {names}"
            )
    return msgspec.structs.replace(
        q, projection=_exprs("values", exprs), into=into, annotations=(), annotation_type=None
    )


def nullable_sources(q: Select[Any]) -> frozenset[Any]:
    """The sources of ``q`` whose columns may be NULL because of outer joins."""
    found: set[Any] = set()
    base = {q.model} | ({q.source.ref} if q.source is not None else set())
    for i, j in enumerate(q.joins):
        if j.kind in ("LEFT", "FULL"):
            found.add(j.source.ref)
        if j.kind in ("RIGHT", "FULL"):
            found |= base | {k.source.ref for k in q.joins[:i]}
    return frozenset(found)


def _row_type(q: Select[Any], named: dict[str, Expr[Any]]) -> type[msgspec.Struct]:
    for name, x in named.items():
        if not isinstance(x, Expr):
            raise ArgumentTypeError(f"values({name}=...) takes an expression, not {x!r}")
    outer = nullable_sources(q)
    rolled = q.grouping.keys if q.grouping is not None and q.grouping.kind != "keys" else ()
    fields = []
    for name, x in named.items():
        maybe_null = nullable(x, outer) or any(node_key(x) == node_key(k) for k in rolled)
        fields.append((name, python_type(x.type, maybe_null)))
    return row_type(fields)


@guarded
def _join(q: Select[R], target: Any, on: Pred, kind: JoinKind, fetch: bool) -> Select[R]:
    if isinstance(target, Source):
        src = target
    else:
        descriptor(target)  # TypeError for a class that is not a model
        src = Source("table", target, None)
    if src.ref in sources(q):
        raise ValidationError(
            f"join(): {getattr(src.ref, '__name__', src.ref)} is already in the query; join aliased(Model, name)"
        )
    if not isinstance(on, Pred):
        raise ValidationError(f"join(on=...) takes a predicate, not {on!r}")
    if kind == "CROSS" and on != TRUE:
        raise ValidationError("cross_join() has no ON condition")
    if kind not in ("INNER", "LEFT", "RIGHT", "FULL", "CROSS"):
        raise ValidationError(f"join kind must be INNER, LEFT, RIGHT, FULL or CROSS, not {kind!r}")
    if src.lateral and kind in ("RIGHT", "FULL"):
        raise ValidationError(f"a LATERAL source cannot be {kind} JOINed")
    joined = msgspec.structs.replace(q, joins=(*q.joins, Join(kind, src, on, fetch)))
    _check(joined, "join(on=...)", (on,))
    _no_aggregates("join(on=...)", (on,))
    return joined


@guarded
def _group_by(q: Select[R], keys: Sequence[Expr[Any] | Grouping]) -> Select[R]:
    if len(keys) == 1 and isinstance(keys[0], Grouping):
        grouping = keys[0]
    elif not keys:
        raise ValidationError("group_by() needs at least one key (or rollup / cube / grouping_sets)")
    else:
        grouping = Grouping("keys", (_exprs("group_by", keys),))
    _check(q, "group_by()", grouping.sets)
    _no_aggregates("group_by()", grouping.sets)
    return msgspec.structs.replace(q, grouping=grouping)


@guarded
def _annotate(q: Select[R], named: dict[str, Expr[Any]]) -> Select[R]:
    if not named:
        raise ValidationError("annotate() needs at least one name=expression")
    if q.grouping is not None:
        keys: dict[str, Expr[Any]] = {}
        for key in q.grouping.keys:
            if not isinstance(key, Column):
                raise ValidationError(f"annotate(): group key {key.describe()} has no name; use values(name=..)")
            keys[key.name] = key
        clash = keys.keys() & named.keys()
        if clash:
            raise ValidationError(f"annotate(): {sorted(clash)} name group keys already")
        return _values(q, (), None, {**keys, **named})
    if q.projection is not None:
        raise ValidationError("annotate() adds columns to model rows; this query already has values()")
    exprs = {n: Over(x, (), (), None, x.type) if isinstance(x, Agg) else x for n, x in named.items()}
    previous = dict(zip(q.annotation_type.__struct_fields__, q.annotations, strict=True)) if q.annotation_type else {}
    if previous.keys() & exprs.keys():
        raise ValidationError(f"annotate(): {sorted(previous.keys() & exprs.keys())} already annotated")
    merged = {**previous, **exprs}
    _check(q, "annotate()", tuple(merged.values()))
    return msgspec.structs.replace(q, annotations=tuple(merged.values()), annotation_type=_row_type(q, merged))


def _setop(op: Any, left: Any, right: Any) -> SetOp[Any]:
    from djogi.algebra.setops import combine

    return combine(op, left, right)


def _lock(
    q: Select[R], strength: LockStrength, nowait: bool, skip_locked: bool, of: Sequence[type[ModelBase]]
) -> Select[R]:
    if nowait and skip_locked:
        raise ValidationError(f"FOR {strength}: choose nowait or skip_locked, not both")
    if not isinstance(of, (tuple, list)):
        raise ArgumentTypeError(f"FOR {strength} of= takes a list of models such as [Book], not {of!r}")
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


def _after(q: Select[R], row_or_values: M | Sequence[object]) -> Select[R]:
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


def values(*exprs: Expr[Any], into: type[msgspec.Struct] | None = None, **named: Expr[Any]) -> Step[Any]:
    """Step form of ``Select.values``."""
    return lambda q: _values(q, exprs, into, named)


def group_by(*keys: Expr[Any] | Grouping) -> Step[Any]:
    """Step form of ``Select.group_by``."""
    return lambda q: _group_by(q, keys)


def having(*predicates: Pred) -> Step[Any]:
    """Step form of ``Select.having``."""
    return lambda q: q.having(*predicates)


def annotate(**named: Expr[Any]) -> Step[Any]:
    """Step form of ``Select.annotate``."""
    return lambda q: _annotate(q, named)


def join(target: Any, on: Pred = TRUE, *, kind: JoinKind = "INNER", fetch: bool = True) -> Step[Any]:
    """Step form of ``Select.join``."""
    return lambda q: _join(q, target, on, kind, fetch)


def after(row_or_values: Any) -> Step[Any]:
    """Step form of ``Select.after``."""
    return lambda q: _after(q, row_or_values)


def for_update(*, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[ModelBase]] = ()) -> Step[Any]:
    """Step form of ``Select.for_update``."""
    return lambda q: _lock(q, "UPDATE", nowait, skip_locked, of)


def for_no_key_update(
    *, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[ModelBase]] = ()
) -> Step[Any]:
    """Step form of ``Select.for_no_key_update``."""
    return lambda q: _lock(q, "NO KEY UPDATE", nowait, skip_locked, of)


def for_share(*, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[ModelBase]] = ()) -> Step[Any]:
    """Step form of ``Select.for_share``."""
    return lambda q: _lock(q, "SHARE", nowait, skip_locked, of)


def for_key_share(*, nowait: bool = False, skip_locked: bool = False, of: Sequence[type[ModelBase]] = ()) -> Step[Any]:
    """Step form of ``Select.for_key_share``."""
    return lambda q: _lock(q, "KEY SHARE", nowait, skip_locked, of)
