"""The predicate algebra: leaves built by expression operators, combined with ``&``, ``|``, ``~`` and ``^``.

Predicates are **two-valued**, as in Python: a comparison involving NULL is false (``!=`` and ``not_in``
included), the null tests are the only way to select NULLs, and ``~p`` holds exactly where ``p`` does not,
so every law of Boolean algebra holds. ``render.py`` lowers them to SQL with that meaning; ``evaluate.py``
evaluates them in memory with PostgreSQL's value semantics.

Construction folds constants (``p & TRUE`` is ``p``, ``p | TRUE`` is ``TRUE``, ``~~p`` is ``p``) and
flattens nested ``And``/``Or``. ``==`` and ``hash`` are structural (``node_key``). A predicate has no truth
value: ``bool(p)`` raises ``TypeError`` (write ``a & b``, not ``a and b``), except ``col_a == col_b`` between
two non-parameter expressions, which is true when they are the same expression (so expressions can live
in sets and dicts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

from djogi.algebra.depth import node_repr
from djogi.algebra.expr import Expr, Named, Param
from djogi.algebra.traverse import key_hash, same
from djogi.errors import ArgumentTypeError

__all__ = [
    "FALSE",
    "TRUE",
    "And",
    "ArrayOp",
    "Between",
    "Compare",
    "Compiled",
    "In",
    "IsNull",
    "Like",
    "Not",
    "Or",
    "Pred",
    "Regex",
    "Truth",
    "Xor",
    "and_",
    "checked",
    "conjunction",
    "not_",
    "or_",
    "predicate",
    "xor",
]
"""An in-memory predicate: ``instance -> bool`` (built by ``compile_python``)."""

Compiled = Callable[[Any], bool]
"""An in-memory predicate: ``instance -> bool`` (built by ``compile_python``)."""

CompareOp = Literal["eq", "ne", "lt", "le", "gt", "ge", "distinct", "not_distinct"]


class Pred(msgspec.Struct, frozen=True, gc=False):
    """Base of predicate nodes."""

    def __and__(self, other: Pred) -> Pred:
        return _flat(And, (self, other)) if isinstance(other, Pred) else NotImplemented

    def __or__(self, other: Pred) -> Pred:
        return _flat(Or, (self, other)) if isinstance(other, Pred) else NotImplemented

    def __xor__(self, other: Pred) -> Pred:
        return xor(self, other) if isinstance(other, Pred) else NotImplemented

    def __invert__(self) -> Pred:
        return not_(self)

    def __bool__(self) -> bool:
        raise ArgumentTypeError(
            f"a predicate ({type(self).__name__}) has no truth value: combine predicates with & | ~ "
            "(not and/or/not) and parenthesize comparisons: (A.x == 1) & (A.y == 2)"
        )

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        # node keys start with the node's type: nodes of different types are never equal
        return type(other) is type(self) and same(self, other)

    def __hash__(self) -> int:
        return key_hash(self)

    def __repr__(self) -> str:
        return node_repr(self)

    def matches(self, instance: object) -> bool:
        """Evaluate in memory (compiles each call; use ``compile_python()`` for many rows).

        Raises ``NotPortable`` when the predicate is SQL-only.
        """
        return self.compile_python()(instance)

    def compile_python(self) -> Compiled:
        """A fast ``instance -> bool`` function with the meaning of the compiled SQL, or ``NotPortable``."""
        from djogi.algebra.evaluate import compile_python

        return compile_python(self)

    def is_portable(self) -> bool:
        """Whether ``compile_python()`` succeeds (the predicate evaluates identically in memory and SQL)."""
        from djogi.algebra.evaluate import is_portable

        return is_portable(self)


class Truth(Pred, frozen=True):
    """The constant ``TRUE`` or ``FALSE`` (use the module constants)."""

    __children__ = ()

    value: bool


TRUE = Truth(True)
FALSE = Truth(False)


class And(Pred, frozen=True):
    """Conjunction of two or more predicates (flat: no part is an ``And`` or a ``Truth``)."""

    __children__ = ("parts",)

    parts: tuple[Pred, ...]


class Or(Pred, frozen=True):
    """Disjunction of two or more predicates (flat: no part is an ``Or`` or a ``Truth``)."""

    __children__ = ("parts",)

    parts: tuple[Pred, ...]


class Not(Pred, frozen=True):
    """Complement: the rows where ``part`` is false (NULL comparisons included)."""

    __children__ = ("part",)

    part: Pred


class Xor(Pred, frozen=True):
    """Exactly one of ``left`` and ``right`` holds."""

    __children__ = ("left", "right")

    left: Pred
    right: Pred


class Compare(Pred, frozen=True):
    """``left <op> right`` for ``= <> < <= > >=`` (false if either side is NULL) and ``IS [NOT] DISTINCT FROM``."""

    __children__ = ("left", "right")

    op: CompareOp
    left: Expr[Any]
    right: Expr[Any]

    def __bool__(self) -> bool:
        if self.op in ("eq", "ne") and not isinstance(self.right, Param):
            return same(self.left, self.right) == (self.op == "eq")
        return super().__bool__()


class IsNull(Pred, frozen=True):
    """``expr IS NULL`` (``~`` gives ``IS NOT NULL``)."""

    __children__ = ("expr",)

    expr: Expr[Any]


class Between(Pred, frozen=True):
    """``expr BETWEEN low AND high``."""

    __children__ = ("expr", "low", "high")

    expr: Expr[Any]
    low: Expr[Any]
    high: Expr[Any]


class In(Pred, frozen=True):
    """``expr = ANY($n)`` (``op="in"``) or ``expr <> ALL($n)`` (``op="not_in"``); ``values`` is one non-empty
    array parameter without NULLs. NULL ``expr`` makes both false."""

    __children__ = ("expr", "values")

    op: Literal["in", "not_in"]
    expr: Expr[Any]
    values: Param[Any]


class Like(Pred, frozen=True):
    """``expr LIKE pattern`` or, when ``ci``, ``expr COLLATE "C" ILIKE pattern``, where the pattern is ``text``
    with ``% _ \\`` escaped and ``%`` added per ``mode`` (``text`` a named parameter: the same, per run)."""

    __children__ = ("expr",)

    expr: Expr[Any]
    text: str | Named[str]
    mode: Literal["contains", "startswith", "endswith", "exact"]
    ci: bool


class Regex(Pred, frozen=True):
    """``expr ~ pattern`` (``~*`` when ``ci``; ``pattern`` a str or a named parameter). SQL-only."""

    __children__ = ("expr",)

    expr: Expr[Any]
    pattern: str | Named[str]
    ci: bool


class ArrayOp(Pred, frozen=True):
    """``expr @> value``, ``expr <@ value`` or ``expr && value`` on arrays."""

    __children__ = ("expr", "value")

    op: Literal["@>", "<@", "&&"]
    expr: Expr[Any]
    value: Expr[Any]


def _flat(kind: type[And] | type[Or], preds: tuple[Pred, ...]) -> Pred:
    """``kind`` of ``preds``, flattened and folded; each of ``preds`` must be a predicate."""
    absorbing = kind is Or  # TRUE absorbs an Or, FALSE an And
    parts: list[Pred] = []
    for p in preds:
        t = type(p)
        if t is kind:
            parts.extend(p.parts)  # type: ignore[attr-defined]
        elif t is Truth:
            if p.value is absorbing:  # type: ignore[attr-defined]
                return p
        else:
            parts.append(p)
    if not parts:
        return FALSE if absorbing else TRUE
    return parts[0] if len(parts) == 1 else kind(tuple(parts))


def predicate(x: object, what: str) -> Pred:
    """``x`` when it is a predicate; ``ArgumentTypeError`` naming ``what`` otherwise."""
    if isinstance(x, Pred):
        return x
    if isinstance(x, bool):
        raise ArgumentTypeError(
            f"{what}: expected a predicate, got the plain bool {x!r}: a comparison was made between Python values, "
            "not columns; through a relation use .to(...) when the target field's name is also a Column attribute "
            "(Book.author.to(Author.name) == 'Ann', not Book.author.name)"
        )
    raise ArgumentTypeError(f"{what} takes predicates such as Book.price > 5, not {x!r}")


def checked(preds: tuple[object, ...], what: str) -> tuple[Pred, ...]:
    """``preds`` when each is a predicate; ``ArgumentTypeError`` naming ``what`` otherwise."""
    for x in preds:
        if type(x) is not Compare and not isinstance(x, Pred):  # (the common leaf without isinstance's call)
            predicate(x, what)  # raises, naming what was passed
    return preds  # type: ignore[return-value]


def and_(*preds: Pred) -> Pred:
    """Conjunction (``a & b``); ``and_()`` is ``TRUE``."""
    return _flat(And, checked(preds, "and_()"))


def or_(*preds: Pred) -> Pred:
    """Disjunction (``a | b``); ``or_()`` is ``FALSE``."""
    return _flat(Or, checked(preds, "or_()"))


def conjunction(preds: tuple[Pred, ...]) -> Pred:
    """``and_(*preds)`` for parts already known to be predicates (the combinators check theirs, naming the
    combinator)."""
    return _flat(And, preds)


def not_(p: Pred) -> Pred:
    """Complement (``~p``)."""
    t = type(predicate(p, "not_()"))
    if t is Truth:
        return FALSE if p.value else TRUE  # type: ignore[attr-defined]
    if t is Not:
        return p.part  # type: ignore[attr-defined,no-any-return]
    return Not(p)


def xor(a: Pred, b: Pred) -> Pred:
    """Exactly one of ``a`` and ``b`` (``a ^ b``)."""
    predicate(a, "xor()")
    predicate(b, "xor()")
    for x, y in ((a, b), (b, a)):
        if type(x) is Truth:
            return not_(y) if x.value else y
    return Xor(a, b)
