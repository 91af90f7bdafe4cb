"""In-memory evaluation of predicates with PostgreSQL's meaning (for caches, tests and clients).

``compile_python(pred)`` builds a tree of closures once and returns ``instance -> bool``; it keeps exactly
the rows ``WHERE <render_predicate(pred)>`` keeps, or raises ``NotPortable(node, reason)`` when that cannot
be guaranteed. The value semantics follow PostgreSQL, not Python:

- NULL (``None``, or ``msgspec.UNSET`` on an unsaved instance) makes every comparison false (two-valued);
- ``NaN`` equals ``NaN`` and sorts above every number (float and Decimal);
- a NUMERIC compared with a DOUBLE PRECISION is converted to float first; integers with NUMERIC exactly;
- timestamps compare by instant; enums by declaration order; NUMERIC arithmetic is exact; integer ``/``
  truncates toward zero;
- case-insensitive matching (``COLLATE "C" ILIKE``) folds ASCII letters only.

SQL-only (``NotPortable``): ordering text without ``.collate("C")`` (or any other collation), regex, JSONB
values and paths, casts, ``now()`` and other functions without a Python twin, full-text / trigram / vector
search, ``lower``/``upper`` without
``COLLATE "C"``, NUMERIC division and date/time arithmetic (PostgreSQL's scale and time-zone rules).
Where PostgreSQL raises an error (integer overflow, float overflow) the evaluator may return a value.
"""

from __future__ import annotations

import datetime as dt
import decimal
import operator
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import msgspec

from djogi.algebra import expr as e
from djogi.algebra import predicate as p
from djogi.algebra.aggregate import Agg
from djogi.algebra.conditional import Case
from djogi.algebra.depth import check_depth, recursion_room
from djogi.algebra.expr import OuterRef, PathColumn
from djogi.algebra.nested import Exists, InQuery, RelatedCount, Subquery
from djogi.algebra.predicate import Compiled
from djogi.algebra.search import Distance, SearchMatch
from djogi.algebra.traverse import nesting_depth
from djogi.algebra.window import Over, WindowFunc
from djogi.errors import NotPortable

__all__ = ["EXPRESSIONS", "PREDICATES", "compile_expr", "compile_python", "is_portable", "matches"]

Getter = Callable[[Any], Any]
Norm = Callable[[Any], Any]

_UNSET = msgspec.UNSET
_UTC = dt.UTC
_DEC = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[])
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def compile_python(pred: p.Pred) -> Compiled:
    """``instance -> bool`` with the meaning of the SQL ``render_predicate`` produces; ``NotPortable`` if none.

    ``ValidationError`` for a predicate nested deeper than ``depth.MAX_DEPTH``; a deep one evaluates with
    room for its depth (see ``djogi.algebra.depth``)."""
    try:
        return _compiled(pred)
    except RecursionError:
        pass
    depth = nesting_depth(pred)
    check_depth(depth)
    with recursion_room(depth):
        run = _compiled(pred)

    def deep(instance: object) -> bool:
        try:
            return run(instance)
        except RecursionError:
            pass
        with recursion_room(depth):
            return run(instance)

    return deep


def compile_expr(node: e.Expr[Any]) -> Getter:
    """``instance -> value`` with the meaning of the expression's SQL (NULL is ``None``); ``NotPortable``
    naming the node when it has no in-memory twin."""
    return _expr(e.expression(node, "compile_expr()"))


def _compiled(pred: p.Pred) -> Compiled:
    compiled = PREDICATES.get(type(pred)) or PREDICATES[type(p.predicate(pred, "compile_python()"))]
    return compiled(pred)


def matches(pred: p.Pred, instance: object) -> bool:
    """Whether ``instance`` satisfies ``pred`` (compiles each call); ``NotPortable`` for SQL-only predicates."""
    return compile_python(pred)(instance)


def is_portable(pred: p.Pred) -> bool:
    """Whether ``pred`` evaluates in memory exactly as in PostgreSQL."""
    try:
        compile_python(pred)
    except NotPortable:
        return False
    return True


# ------------------------------------------------------------------------------------------ value domains


def _nan_key(v: Any) -> Any:
    """Numbers ordered as PostgreSQL orders them: NaN equal to itself and above everything."""
    return (1, 0) if v != v else (0, v)


def _float_key(v: Any) -> Any:
    f = float(v)
    return (1, 0.0) if f != f else (0, f)


def _instant(v: dt.datetime) -> dt.datetime:
    return v.astimezone(_UTC)


def _wall_clock(v: dt.datetime | str) -> dt.datetime:
    """A ``timestamp`` value: a naive datetime (a parameter carries it as its ISO text)."""
    return dt.datetime.fromisoformat(v) if isinstance(v, str) else v


def _enum_key(enum_type: Any) -> Norm:
    order = {label: i for i, label in enumerate(enum_type.labels())}
    return order.__getitem__


def _c_collated(node: e.Expr[Any]) -> bool:
    return type(node) is e.Collate and node.collation == "C"


def _element_norm(kind: str | None, t: e.ValueType) -> Norm | None:
    if kind == "float":
        return _float_key
    if kind in ("decimal", "int"):
        return _nan_key if kind == "decimal" else None
    if kind == "datetime":
        return _instant
    if kind == "timestamp":
        return _wall_clock
    if kind == "enum":
        return _enum_key(t.enum)
    return None


def _domain(node: object, left: e.Expr[Any], right: e.Expr[Any], ordering: bool) -> Norm | None:
    """The normaliser both sides of a comparison go through (``None``: compare as they are)."""
    lt, rt = left.type, right.type
    kinds = {lt.kind, rt.kind}
    if kinds & {"json", "jsonb", None}:
        raise NotPortable(node, "JSON values and values of unknown type are compared by PostgreSQL only")
    for side in (left, right):
        if type(side) is e.Collate and not _c_collated(side):
            raise NotPortable(node, f"collation {side.collation!r} is only known to PostgreSQL")
    if "float" in kinds:
        return _float_key
    if "decimal" in kinds:
        return _nan_key
    kind = lt.kind
    if kind == "str" and ordering and not (_c_collated(left) or _c_collated(right)):
        raise NotPortable(node, "text ordering depends on the database collation; use .collate('C')")
    if kind == "array":
        if ordering and lt.element in ("str", None):
            raise NotPortable(node, "ordering text arrays depends on the database collation")
        inner = _element_norm(lt.element, lt)
        return None if inner is None else (lambda v: tuple(map(inner, v)))
    return _element_norm(kind, lt)


# ------------------------------------------------------------------------------------------ expressions


def _expr(node: e.Expr[Any]) -> Getter:
    build: Callable[[Any], Getter] = EXPRESSIONS.get(type(node), _no_twin)
    return build(node)


def _column(node: e.Column[Any, Any]) -> Getter:
    name = node.name
    if node.vtype.kind == "heerid":

        def get_id(obj: Any) -> Any:
            v = getattr(obj, name)
            if v is None or v is _UNSET:
                return None
            return v.as_int() if hasattr(v, "as_int") else v.to_uuid() if hasattr(v, "to_uuid") else v

        return get_id

    def get(obj: Any) -> Any:
        v = getattr(obj, name)
        return None if v is _UNSET else v

    return get


def _param(node: e.Param[Any]) -> Getter:
    value = node.value
    return lambda obj: value


def _const(node: e.Const[Any]) -> Getter:
    value = node.value
    return lambda obj: value


def _int_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


_DECIMAL_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: _DEC.add(decimal.Decimal(a), decimal.Decimal(b)),
    "-": lambda a, b: _DEC.subtract(decimal.Decimal(a), decimal.Decimal(b)),
    "*": lambda a, b: _DEC.multiply(decimal.Decimal(a), decimal.Decimal(b)),
}
_FLOAT_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: float(a) + float(b),
    "-": lambda a, b: float(a) - float(b),
    "*": lambda a, b: float(a) * float(b),
    "/": lambda a, b: float(a) / float(b),
}
_INT_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": _int_div,
}  # fmt: skip
_OPS_BY_KIND = {"decimal": _DECIMAL_OPS, "float": _FLOAT_OPS, "int": _INT_OPS, "str": {"||": operator.add}}


def _binop(node: e.BinOp[Any]) -> Getter:
    fn = _OPS_BY_KIND.get(node.vtype.kind or "", {}).get(node.op)
    if fn is None or {node.left.type.kind, node.right.type.kind} & {"datetime", "date", "timedelta"}:
        raise NotPortable(node, f"{node.op} on {node.vtype.kind} follows PostgreSQL-only rules")
    left, right = _expr(node.left), _expr(node.right)

    def run(obj: Any) -> Any:
        a = left(obj)
        if a is None:
            return None
        b = right(obj)
        return None if b is None else fn(a, b)

    return run


def _strict(fn: Callable[[Any], Any], arg: Getter) -> Getter:
    def run(obj: Any) -> Any:
        v = arg(obj)
        return None if v is None else fn(v)

    return run


def _func(node: e.Func[Any]) -> Getter:
    name, args = node.name, node.args
    if name in ("lower", "upper"):
        if not _c_collated(args[0]):
            raise NotPortable(node, f"{name}() folds case by the database collation; apply it to x.collate('C')")
        table = _ASCII_LOWER if name == "lower" else _ASCII_UPPER
        return _strict(lambda s: s.translate(table), _expr(args[0]))
    if name == "length":
        return _strict(len, _expr(args[0]))
    if name == "abs":
        return _strict(abs, _expr(args[0]))
    getters = [_expr(a) for a in args]
    if name == "coalesce":

        def first(obj: Any) -> Any:
            for g in getters:
                v = g(obj)
                if v is not None:
                    return v
            return None

        return first
    if name == "nullif":
        a, b = getters
        norm = _domain(node, args[0], args[1], False) or (lambda v: v)

        def run(obj: Any) -> Any:
            x, y = a(obj), b(obj)
            return None if x is not None and y is not None and norm(x) == norm(y) else x

        return run
    raise NotPortable(node, f"{name}() has no in-memory evaluation")


def _collate(node: e.Collate[Any]) -> Getter:
    if node.collation != "C":
        raise NotPortable(node, f"collation {node.collation!r} is only known to PostgreSQL")
    return _expr(node.expr)


def _no_twin(node: e.Expr[Any]) -> NoReturn:
    raise NotPortable(node, f"{node.describe()} has no in-memory evaluation")


def _sql_only(reason: str) -> Callable[[Any], NoReturn]:
    def refuse(node: Any) -> NoReturn:
        raise NotPortable(node, reason)

    return refuse


_SEARCH = "full-text, trigram and vector operators depend on the database's dictionaries, thresholds and types"
_RELATIONS = "relation paths and related-row subqueries are evaluated by PostgreSQL only"
_NAMED = "a named parameter has a value only when its prepared query runs"

EXPRESSIONS: Mapping[type, Callable[[Any], Getter]] = {
    e.Column: _column,
    e.Param: _param,
    e.Named: _sql_only(_NAMED),
    e.Const: _const,
    e.BinOp: _binop,
    e.Func: _func,
    e.Collate: _collate,
    e.Cast: _no_twin,
    e.JsonPath: _no_twin,
    Agg: _no_twin,
    WindowFunc: _no_twin,
    Over: _no_twin,
    Case: _no_twin,
    Subquery: _no_twin,
    OuterRef: _no_twin,
    Distance: _sql_only(_SEARCH),
    PathColumn: _sql_only(_RELATIONS),
    RelatedCount: _sql_only(_RELATIONS),
}
"""Expression node type -> ``node -> (instance -> value)``, or a refusal with ``NotPortable``."""


# ------------------------------------------------------------------------------------------ predicates


def _truth(pred: p.Truth) -> Compiled:
    value = pred.value
    return lambda obj: value


def _and(pred: p.And) -> Compiled:
    fs = tuple(_compiled(part) for part in pred.parts)

    def run(obj: Any) -> bool:  # a loop: faster than all() over a generator
        for f in fs:  # noqa: SIM110
            if not f(obj):
                return False
        return True

    return run


def _or(pred: p.Or) -> Compiled:
    fs = tuple(_compiled(part) for part in pred.parts)

    def run(obj: Any) -> bool:  # a loop: faster than any() over a generator
        for f in fs:  # noqa: SIM110
            if f(obj):
                return True
        return False

    return run


def _not(pred: p.Not) -> Compiled:
    f = _compiled(pred.part)
    return lambda obj: not f(obj)


def _xor(pred: p.Xor) -> Compiled:
    a, b = _compiled(pred.left), _compiled(pred.right)
    return lambda obj: a(obj) != b(obj)


_CMP_FN: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
    "ge": operator.ge, "distinct": operator.ne, "not_distinct": operator.eq,
}  # fmt: skip


def _compare(pred: p.Compare) -> Compiled:
    op = pred.op
    norm = _domain(pred, pred.left, pred.right, op not in ("eq", "ne", "distinct", "not_distinct"))
    cmp = _CMP_FN[op]
    left = _expr(pred.left)
    if op in ("distinct", "not_distinct"):
        right_any = _expr(pred.right)
        n = norm or (lambda v: v)
        null_result = op == "distinct"

        def distinct(obj: Any) -> bool:
            a, b = left(obj), right_any(obj)
            if a is None or b is None:
                return (a is None) != (b is None) if null_result else (a is None) == (b is None)
            return cmp(n(a), n(b))

        return distinct
    if type(pred.right) is e.Param:
        const = pred.right.value
        b0 = const if norm is None else norm(const)
        if norm is None:
            return lambda obj: (a := left(obj)) is not None and cmp(a, b0)
        return lambda obj: (a := left(obj)) is not None and cmp(norm(a), b0)
    right = _expr(pred.right)
    n2 = norm or (lambda v: v)

    def run(obj: Any) -> bool:
        a = left(obj)
        if a is None:
            return False
        b = right(obj)
        return b is not None and cmp(n2(a), n2(b))

    return run


def _is_null(pred: p.IsNull) -> Compiled:
    get = _expr(pred.expr)
    return lambda obj: get(obj) is None


def _between(pred: p.Between) -> Compiled:
    norm = _domain(pred, pred.expr, pred.low, True) or (lambda v: v)
    _domain(pred, pred.expr, pred.high, True)
    x, lo, hi = _expr(pred.expr), _expr(pred.low), _expr(pred.high)

    def run(obj: Any) -> bool:
        a, low, high = x(obj), lo(obj), hi(obj)
        if a is None or low is None or high is None:
            return False
        a = norm(a)
        return bool(norm(low) <= a <= norm(high))

    return run


def _in(pred: p.In) -> Compiled:
    item: e.Param[Any] = e.Param(pred.values.value[0], pred.expr.type)
    norm = _domain(pred, pred.expr, item, False) or (lambda v: v)
    values = frozenset(norm(v) for v in pred.values.value)
    get = _expr(pred.expr)
    if pred.op == "in":
        return lambda obj: (a := get(obj)) is not None and norm(a) in values
    return lambda obj: (a := get(obj)) is not None and norm(a) not in values


def _like(pred: p.Like) -> Compiled:
    node = pred.expr
    if not pred.ci and type(node) is e.Collate and not _c_collated(node):
        raise NotPortable(pred, f"LIKE under collation {node.collation!r} is only known to PostgreSQL")
    get = _expr(node.expr if pred.ci and type(node) is e.Collate else node)
    if type(pred.text) is not str:
        raise NotPortable(pred, _NAMED)
    text = pred.text.translate(_ASCII_LOWER) if pred.ci else pred.text
    fold: Callable[[str], str] = (lambda s: s.translate(_ASCII_LOWER)) if pred.ci else (lambda s: s)
    test: Callable[[str], bool] = {
        "contains": lambda s: text in s,
        "startswith": lambda s: s.startswith(text),
        "endswith": lambda s: s.endswith(text),
        "exact": lambda s: s == text,
    }[pred.mode]
    return lambda obj: (v := get(obj)) is not None and test(fold(v))


def _array(pred: p.ArrayOp) -> Compiled:
    norm = _domain(pred, pred.expr, pred.value, False) or (lambda v: v)
    left, right = _expr(pred.expr), _expr(pred.value)
    op = pred.op

    def run(obj: Any) -> bool:
        a, b = left(obj), right(obj)
        if a is None or b is None:
            return False
        na = norm(tuple(x for x in a if x is not None))
        nb = norm(tuple(x for x in b if x is not None))
        if op == "@>":
            return len(nb) == len(b) and set(nb) <= set(na)
        if op == "<@":
            return len(na) == len(a) and set(na) <= set(nb)
        return not set(na).isdisjoint(nb)

    return run


PREDICATES: Mapping[type, Callable[[Any], Compiled]] = {
    p.Truth: _truth,
    p.And: _and,
    p.Or: _or,
    p.Not: _not,
    p.Xor: _xor,
    p.Compare: _compare,
    p.IsNull: _is_null,
    p.Between: _between,
    p.In: _in,
    p.Like: _like,
    p.Regex: _sql_only("POSIX regular expressions are evaluated by PostgreSQL only"),
    p.ArrayOp: _array,
    SearchMatch: _sql_only(_SEARCH),
    Exists: _sql_only("Exists subqueries are evaluated by PostgreSQL only"),
    InQuery: _sql_only("InQuery subqueries are evaluated by PostgreSQL only"),
}
"""Predicate node type -> ``node -> (instance -> bool)``, or a refusal with ``NotPortable``."""
