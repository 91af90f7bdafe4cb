"""Expression nodes: column references, bound parameters, constants, operators, functions, casts, orderings.

Every node is a frozen msgspec Struct. Operators on expressions build predicates (``djogi.algebra.predicate``):
``Book.price < 30`` is a ``Compare`` value, not a bool, so **``==`` on an expression does not test structural
equality**. Use ``same(a, b)`` / ``node_key(node)`` for that; predicates and orderings keep a real structural
``==`` and ``hash`` (based on ``node_key``), so they can be compared in tests and used as cache keys.

Values are checked against the column's type when the expression is built: ``Book.price < "x"`` raises
``djogi.errors.ValidationError`` naming ``Book.price`` before any SQL exists. Accepted values are
normalised to what the parameter is sent as (``int`` -> ``Decimal`` for NUMERIC, HeerId -> ``int`` ...).
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, overload

import msgspec

from djogi.algebra.depth import described, node_repr
from djogi.algebra.traverse import key_hash, same
from djogi.codecs.json import json_encode
from djogi.codecs.values import PY_KINDS, Refused, normalize
from djogi.errors import ArgumentTypeError, ValidationError
from djogi.identifiers import quote_ident
from djogi.schema import descriptor, models, registered
from djogi.types import INT_RANGES

_BIGINT_LOW, _BIGINT_HIGH = INT_RANGES["BIGINT"]

if TYPE_CHECKING:
    import uuid

    from djogi.algebra.predicate import Pred
    from djogi.schema import FieldDescriptor
    from djogi.types import HeerId, HeerIdDesc, RanjId, RanjIdDesc

__all__ = [
    "BinOp",
    "Cast",
    "Collate",
    "Column",
    "Const",
    "Expr",
    "ForeignColumn",
    "Func",
    "JsonPath",
    "Named",
    "OrderBy",
    "OuterRef",
    "Param",
    "PathColumn",
    "PathRef",
    "Slot",
    "ValueType",
    "abs_",
    "cast",
    "coalesce",
    "column_ref",
    "func",
    "length",
    "lower",
    "now",
    "nullif",
    "param",
    "upper",
    "value_type",
]

T = TypeVar("T")
M = TypeVar("M")
V = TypeVar("V")
TM = TypeVar("TM", covariant=True)


class _Query(Protocol):
    """A query operand of ``in_`` / ``not_in`` (a ``Select`` or a set operation projecting one column)."""

    def sql(self) -> Any: ...

NUMERIC_KINDS = frozenset({"int", "float", "decimal"})


class ValueType(msgspec.Struct, frozen=True, gc=False):
    """What an expression evaluates to: a ``value_kind`` (``None`` when unknown) and the SQL type that
    parameters compared with it are cast to (``None``: no cast). ``enum`` is the ``djogi.Enum`` class of
    enum (and enum-array) values; ``element`` the element kind of arrays, ``element_nullable`` whether their
    elements may be NULL."""

    kind: str | None
    sql: str | None
    enum: Any = None
    element: str | None = None
    element_nullable: bool = False


# Parameter cast types. Integers are always sent as BIGINT and floats as DOUBLE PRECISION: PostgreSQL has
# indexable cross-type operators for smaller columns, and casting a parameter down (``$1::integer``) would
# fail or round where the comparison should simply be true or false. Typmods are never used in casts
# (``$1::numeric(10, 2)`` would round the value, ``$1::varchar(3)`` truncate it).
_KIND_SQL = {
    "str": "text", "int": "bigint", "float": "double precision", "decimal": "numeric", "bool": "boolean",
    "date": "date", "datetime": "timestamptz", "time": "time", "timedelta": "interval", "uuid": "uuid",
    "bytes": "bytea", "json": "jsonb", "jsonb": "jsonb", "password": "text", "timestamp": "timestamp",
    "tsvector": "tsvector", "tsquery": "tsquery", "vector": "vector", "encrypted": "bytea",
}  # fmt: skip
_SQL_KIND = {
    "text": "str", "varchar": "str", "character varying": "str", "char": "str", "character": "str",
    "bigint": "int", "integer": "int", "int": "int", "smallint": "int", "int8": "int", "int4": "int",
    "int2": "int", "numeric": "decimal", "decimal": "decimal", "double precision": "float", "real": "float",
    "float8": "float", "float4": "float", "boolean": "bool", "bool": "bool", "date": "date",
    "timestamptz": "datetime", "timestamp with time zone": "datetime", "time": "time", "interval": "timedelta",
    "uuid": "uuid", "bytea": "bytes", "jsonb": "jsonb", "json": "json", "timestamp": "timestamp",
    "timestamp without time zone": "timestamp", "tsvector": "tsvector", "tsquery": "tsquery", "vector": "vector",
}  # fmt: skip
_SQL_TYPE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?(\[\])?$")


def value_type(sql_type: str) -> ValueType:
    """The ``ValueType`` of a SQL type name (``"numeric(10, 2)"``, ``"text[]"`` ...).

    Raises ``ValidationError`` for text that is not a plain type name (it is spliced into SQL).
    """
    if not _SQL_TYPE_RE.match(sql_type):
        raise ValidationError(f"{sql_type!r} is not a SQL type name")
    base = re.sub(r"\(.*\)", "", sql_type).strip().lower()
    array = base.endswith("[]")
    base = base.removesuffix("[]").strip()
    kind = _SQL_KIND.get(base)
    cast_to = _KIND_SQL[kind] if kind is not None else base
    if array:
        return ValueType("array", cast_to + "[]", element=kind)
    return ValueType(kind, cast_to)


def _field_type(fd: FieldDescriptor) -> ValueType:
    """The ``ValueType`` of a model field."""
    kind = fd.value_kind
    if kind == "enum":
        return ValueType("enum", quote_ident(fd.enum_type.pg_name()), enum=fd.enum_type)
    if kind == "heerid":
        return ValueType("heerid", value_type(fd.sql_type).sql)
    if kind == "array":
        et = fd.element_type
        if fd.enum_type is not None:
            return ValueType(
                "array", quote_ident(fd.enum_type.pg_name()) + "[]", enum=fd.enum_type, element="enum",
                element_nullable=fd.element_nullable,
            )  # fmt: skip
        element = PY_KINDS.get(et)
        return ValueType("array", value_type(fd.sql_type).sql, element=element, element_nullable=fd.element_nullable)
    if kind in ("str", "decimal", "bytes"):  # keep domain-like overrides (citext ...) as the cast type
        base = value_type(fd.sql_type)
        return ValueType(kind, base.sql if base.kind is None else _KIND_SQL[kind])
    return ValueType(kind, _KIND_SQL[kind])


# ------------------------------------------------------------------------------------------------ values


def _name(where: str | Expr[Any]) -> str:
    return where if isinstance(where, str) else where.describe()


def _bad(where: str | Expr[Any], value: object, expected: str) -> ValidationError:
    return ValidationError(f"{_name(where)}: cannot use {value!r} ({type(value).__name__}); expected {expected}")


TEXT = ValueType("str", "text")
"""The ``text`` value type (a pattern's text, a search term, ``lower()``, ...)."""

CONVERTED_KINDS = frozenset({"json", "jsonb", "array", "timestamp"})
"""The value kinds whose normalised value ``param_value`` changes; it returns any other as it is."""


def param_value(t: ValueType, normalized: object) -> object:
    """A value ``normalize``d for ``t`` as its ``Param`` carries it: JSON as its text (unknown keys of a
    ``Jsonb`` value kept), arrays as tuples, a naive datetime for a ``timestamp`` as its ISO text (the kinds
    of ``CONVERTED_KINDS``)."""
    if t.kind in ("json", "jsonb"):
        return json_encode(normalized).decode()
    if t.kind == "array" and isinstance(normalized, list):
        return tuple(normalized)
    if t.kind == "timestamp" and isinstance(normalized, dt.datetime):
        return normalized.isoformat(" ")  # the adapters refuse naive datetimes (meant for TIMESTAMPTZ)
    return normalized


def coerce(t: ValueType, value: object, where: str | Expr[Any]) -> object:
    """Check ``value`` against ``t`` and normalise it; ``ValidationError`` naming ``where`` if it does not fit.

    The value kinds are ``djogi.codecs.values.normalize``'s (the table writes use too). ``None`` passes
    through unchanged (callers decide what NULL means); an unknown kind accepts anything.
    """
    if value is None:
        return None
    try:
        normalized = normalize(
            t.kind, value, sql=t.sql, enum=t.enum, element=t.element, element_nullable=t.element_nullable
        )
    except Refused as refused:
        raise ValidationError(f"{_name(where)}: {refused.problem}") from None
    return param_value(t, normalized)


def _python_value_type(value: object) -> ValueType:
    """The ``ValueType`` of a plain Python value (used where no column gives the type)."""
    kind = PY_KINDS.get(type(value))
    if kind is None:
        if isinstance(value, bool):
            kind = "bool"
        elif isinstance(value, dt.datetime):
            kind = "datetime"
        else:
            kind = next((k for tp, k in PY_KINDS.items() if isinstance(value, tp)), None)
    return ValueType(kind, None if kind is None else _KIND_SQL[kind])


def _compatible(a: ValueType, b: ValueType) -> bool:
    """Whether values of types ``a`` and ``b`` can be compared (numbers with numbers, ids with ints)."""
    if a.kind is None or b.kind is None:
        return True
    if a.kind == b.kind:
        return a.enum is b.enum and a.element == b.element
    pair = {a.kind, b.kind}
    return pair <= NUMERIC_KINDS or pair == {"heerid", "int"}


def text_argument(x: object, what: str, example: str) -> str:
    """``x`` when it is a ``str``; ``ArgumentTypeError`` naming ``what`` (with ``example``) otherwise."""
    if not isinstance(x, str):
        raise ArgumentTypeError(f"{what} takes a str such as {example!r}, not {x!r}")
    return x


def expression(x: object, what: str) -> Expr[Any]:
    """``x`` when it is an expression; ``ValidationError`` naming ``what`` otherwise."""
    if not isinstance(x, Expr):
        raise ArgumentTypeError(f"{what} takes an expression such as Book.price, not {x!r}")
    return x


def _require(e: Expr[Any], kinds: tuple[str | None, ...], op: str) -> None:
    if expression(e, op).type.kind not in kinds:
        raise ValidationError(f"{e.describe()}: {op} applies to {'/'.join(map(str, kinds[:-1]))}, not {e.type.kind}")


# ------------------------------------------------------------------------------------------------ nodes


class Expr(msgspec.Struct, Generic[T], frozen=True, gc=False):
    """Base of expression nodes. Comparisons build predicates; arithmetic builds ``BinOp`` nodes."""

    @property
    def type(self) -> ValueType:
        """What the expression evaluates to."""
        raise NotImplementedError

    def describe(self) -> str:
        """How error messages name this expression (``Book.price`` for a column); parts nested deeper than
        ``depth.DESCRIBE_DEPTH`` levels show as ``...``."""
        return described(self._describe)

    def _describe(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return node_repr(self)

    # -- operands

    def operand(self, value: object) -> Expr[Any]:
        """``value`` as an expression comparable with this one: expressions are type-checked, other values
        become ``Param`` nodes of this expression's type (``ValidationError`` if they do not fit)."""
        t = self.vtype if type(self) is Column else self.type  # (a column's, without the property's call)
        # an in-range int, a bool: what coerce() returns for them, without its calls (the hottest case, tested
        # first: isinstance() on a Struct class costs as much as building the Param)
        if (type(value) is int and t.kind == "int" and _BIGINT_LOW <= value <= _BIGINT_HIGH) or (
            type(value) is bool and t.kind == "bool"
        ):
            return Param(value, t)
        if isinstance(value, Expr):
            if type(value) is Named and value.vtype.sql is None:  # param("x") takes this expression's type
                return Named(value.name, t)
            if not _compatible(t, value.type):
                raise ValidationError(
                    f"{self.describe()}: cannot compare a {t.kind} with {value.describe()} ({value.type.kind})"
                )
            return value
        if value is None:
            raise ValidationError(f"{self.describe()}: None is not a value here; use is_null() / is_not_null()")
        return Param(coerce(t, value, self), t)

    # -- comparisons (predicates)

    @overload  # type: ignore[override]
    def __eq__(self: _Numeric, other: decimal.Decimal | float | Expr[Any] | None) -> Pred: ...
    @overload
    def __eq__(self: _Keyed, other: int | Expr[Any] | None) -> Pred: ...
    @overload
    def __eq__(self: _UKeyed, other: uuid.UUID | Expr[Any] | None) -> Pred: ...
    @overload
    def __eq__(self: Expr[V], other: V | Expr[Any] | None) -> Pred: ...
    def __eq__(self, other: object) -> Pred:  # pyright: ignore[reportIncompatibleMethodOverride]
        """``= other``; ``== None`` is ``IS NULL``."""
        if other is None:
            return _p.IsNull(self)
        return _p.Compare("eq", self, self.operand(other))

    @overload  # type: ignore[override]
    def __ne__(self: _Numeric, other: decimal.Decimal | float | Expr[Any] | None) -> Pred: ...
    @overload
    def __ne__(self: _Keyed, other: int | Expr[Any] | None) -> Pred: ...
    @overload
    def __ne__(self: _UKeyed, other: uuid.UUID | Expr[Any] | None) -> Pred: ...
    @overload
    def __ne__(self: Expr[V], other: V | Expr[Any] | None) -> Pred: ...
    def __ne__(self, other: object) -> Pred:  # pyright: ignore[reportIncompatibleMethodOverride]
        """``<> other`` (false when either side is NULL); ``!= None`` is ``IS NOT NULL``."""
        if other is None:
            return _p.Not(_p.IsNull(self))
        return _p.Compare("ne", self, self.operand(other))

    @overload
    def __lt__(self: _Numeric, other: decimal.Decimal | float | Expr[Any]) -> Pred: ...
    @overload
    def __lt__(self: _Keyed, other: int | Expr[Any]) -> Pred: ...
    @overload
    def __lt__(self: _UKeyed, other: uuid.UUID | Expr[Any]) -> Pred: ...
    @overload
    def __lt__(self: Expr[V], other: V | Expr[Any]) -> Pred: ...
    def __lt__(self, other: object) -> Pred:
        return _p.Compare("lt", self, self.operand(other))

    @overload
    def __le__(self: _Numeric, other: decimal.Decimal | float | Expr[Any]) -> Pred: ...
    @overload
    def __le__(self: _Keyed, other: int | Expr[Any]) -> Pred: ...
    @overload
    def __le__(self: _UKeyed, other: uuid.UUID | Expr[Any]) -> Pred: ...
    @overload
    def __le__(self: Expr[V], other: V | Expr[Any]) -> Pred: ...
    def __le__(self, other: object) -> Pred:
        return _p.Compare("le", self, self.operand(other))

    @overload
    def __gt__(self: _Numeric, other: decimal.Decimal | float | Expr[Any]) -> Pred: ...
    @overload
    def __gt__(self: _Keyed, other: int | Expr[Any]) -> Pred: ...
    @overload
    def __gt__(self: _UKeyed, other: uuid.UUID | Expr[Any]) -> Pred: ...
    @overload
    def __gt__(self: Expr[V], other: V | Expr[Any]) -> Pred: ...
    def __gt__(self, other: object) -> Pred:
        return _p.Compare("gt", self, self.operand(other))

    @overload
    def __ge__(self: _Numeric, other: decimal.Decimal | float | Expr[Any]) -> Pred: ...
    @overload
    def __ge__(self: _Keyed, other: int | Expr[Any]) -> Pred: ...
    @overload
    def __ge__(self: _UKeyed, other: uuid.UUID | Expr[Any]) -> Pred: ...
    @overload
    def __ge__(self: Expr[V], other: V | Expr[Any]) -> Pred: ...
    def __ge__(self, other: object) -> Pred:
        return _p.Compare("ge", self, self.operand(other))

    def __hash__(self) -> int:
        return key_hash(self)

    def is_null(self) -> Pred:
        """``IS NULL``."""
        return _p.IsNull(self)

    def is_not_null(self) -> Pred:
        """``IS NOT NULL``."""
        return _p.Not(_p.IsNull(self))

    @overload
    def is_distinct_from(self: _Numeric, other: decimal.Decimal | float | Expr[Any] | None) -> Pred: ...
    @overload
    def is_distinct_from(self: _Keyed, other: int | Expr[Any] | None) -> Pred: ...
    @overload
    def is_distinct_from(self: _UKeyed, other: uuid.UUID | Expr[Any] | None) -> Pred: ...
    @overload
    def is_distinct_from(self: Expr[V], other: V | Expr[Any] | None) -> Pred: ...
    def is_distinct_from(self, other: object) -> Pred:
        """``IS DISTINCT FROM other`` (NULL-aware; ``None`` allowed)."""
        return _p.Compare("distinct", self, self._maybe_null(other))

    @overload
    def is_not_distinct_from(self: _Numeric, other: decimal.Decimal | float | Expr[Any] | None) -> Pred: ...
    @overload
    def is_not_distinct_from(self: _Keyed, other: int | Expr[Any] | None) -> Pred: ...
    @overload
    def is_not_distinct_from(self: _UKeyed, other: uuid.UUID | Expr[Any] | None) -> Pred: ...
    @overload
    def is_not_distinct_from(self: Expr[V], other: V | Expr[Any] | None) -> Pred: ...
    def is_not_distinct_from(self, other: object) -> Pred:
        """``IS NOT DISTINCT FROM other`` (NULL-aware; ``None`` allowed)."""
        return _p.Compare("not_distinct", self, self._maybe_null(other))

    def _maybe_null(self, other: object) -> Expr[Any]:
        return Const(None) if other is None else self.operand(other)

    @overload
    def between(
        self: _Numeric, low: decimal.Decimal | float | Expr[Any], high: decimal.Decimal | float | Expr[Any]
    ) -> Pred: ...
    @overload
    def between(self: _Keyed, low: int | Expr[Any], high: int | Expr[Any]) -> Pred: ...
    @overload
    def between(self: _UKeyed, low: uuid.UUID | Expr[Any], high: uuid.UUID | Expr[Any]) -> Pred: ...
    @overload
    def between(self: Expr[V], low: V | Expr[Any], high: V | Expr[Any]) -> Pred: ...
    def between(self, low: object, high: object) -> Pred:
        """``BETWEEN low AND high`` (inclusive)."""
        return _p.Between(self, self.operand(low), self.operand(high))

    @overload
    def in_(self: _Numeric, values: Iterable[decimal.Decimal | float] | _Query) -> Pred: ...
    @overload
    def in_(self: _Keyed, values: Iterable[int] | _Query) -> Pred: ...
    @overload
    def in_(self: _UKeyed, values: Iterable[uuid.UUID] | _Query) -> Pred: ...
    @overload
    def in_(self: Expr[V], values: Iterable[V] | _Query) -> Pred: ...
    def in_(self, values: Iterable[object] | _Query) -> Pred:
        """``= ANY($n)`` with the values as one array parameter; an empty list is ``FALSE``.

        ``None`` is refused inside the list (combine with ``| x.is_null()`` instead). A query (``Select`` or
        set operation projecting one column) gives ``x IN (SELECT ...)``, as ``subquery.in_query``.
        """
        return self._in("in", values)

    @overload
    def not_in(self: _Numeric, values: Iterable[decimal.Decimal | float] | _Query) -> Pred: ...
    @overload
    def not_in(self: _Keyed, values: Iterable[int] | _Query) -> Pred: ...
    @overload
    def not_in(self: _UKeyed, values: Iterable[uuid.UUID] | _Query) -> Pred: ...
    @overload
    def not_in(self: Expr[V], values: Iterable[V] | _Query) -> Pred: ...
    def not_in(self, values: Iterable[object] | _Query) -> Pred:
        """``<> ALL($n)``: false for a NULL value, like ``!=``; an empty list is ``TRUE``.

        With a query: ``x`` is not NULL and not among the query's values (a NULL among them does not make
        the whole test unknown, unlike SQL's bare ``NOT IN``).
        """
        return self._in("not_in", values)

    def _in(self, op: Literal["in", "not_in"], values: Iterable[object] | _Query) -> Pred:
        from djogi.algebra.subquery import in_query, is_query

        if is_query(values):
            found = in_query(self, values)
            return found if op == "in" else ~found & self.is_not_null()
        t = self.type
        if isinstance(values, Named):
            raise ValidationError(
                f"{self.describe()}.{op}({values.describe()}): a named parameter stands for one value, not a list; "
                "compare with == param(...), or build the query per call"
            )
        if not isinstance(values, Iterable):
            raise ValidationError(f"{self.describe()}.{op}() takes a list of values or a query, not {values!r}")
        if isinstance(values, str | bytes | bytearray):  # its items would be characters (or ints): never meant
            method = "in_" if op == "in" else "not_in"
            raise ArgumentTypeError(
                f"{self.describe()}.{method}() takes a list of values, not the {type(values).__name__} {values!r} "
                f"(which would be its characters); write {method}([{values!r}]) or == {values!r}"
            )
        items = tuple(values)
        if not items:
            return _p.FALSE if op == "in" else _p.TRUE
        if any(v is None for v in items):
            method = "in_" if op == "in" else "not_in"
            raise ValidationError(f"{self.describe()}: None inside {method}(); combine with | x.is_null()")
        coerced = tuple(coerce(t, v, self) for v in items)
        return _p.In(op, self, Param(coerced, ValueType("array", None if t.sql is None else t.sql + "[]")))

    # -- strings

    def _text(self, value: object, op: str) -> str | Named[str]:
        """``value`` for a pattern match: a str, or a named parameter (typed ``text``: a prepared query checks its
        value and makes the pattern of it on each run)."""
        _require(self, ("str", None), f"{op}()")
        if type(value) is Named:
            if value.vtype.sql is not None and value.vtype.kind != "str":
                raise ValidationError(f"{self.describe()}.{op}({value.describe()}): the parameter is "
                                      f"{value.vtype.sql}; a pattern takes text")  # fmt: skip
            return Named(value.name, TEXT)
        if not isinstance(value, str):
            raise _bad(f"{self.describe()}.{op}()", value, "str")
        coerce(TEXT, value, f"{self.describe()}.{op}()")  # refuses what text cannot hold (NUL), naming the method
        return value

    def _like(self, value: object, op: str, mode: Literal["contains", "startswith", "endswith", "exact"]) -> Pred:
        ci = op.startswith("i")
        return _p.Like(_unpadded(self), self._text(value, op), mode, ci)

    def contains(self, value: object) -> Pred:
        """Text: ``LIKE '%v%'`` (``%``, ``_``, ``\\`` escaped). Array: ``@> $n`` (has every element of ``value``)."""
        if self.type.kind == "array":
            return self._array("@>", value)
        return self._like(value, "contains", "contains")

    def icontains(self, value: object) -> Pred:
        """``COLLATE "C" ILIKE '%v%'`` (ASCII case folding)."""
        return self._like(value, "icontains", "contains")

    def startswith(self, value: object) -> Pred:
        """``LIKE 'v%'``."""
        return self._like(value, "startswith", "startswith")

    def istartswith(self, value: object) -> Pred:
        """``COLLATE "C" ILIKE 'v%'``."""
        return self._like(value, "istartswith", "startswith")

    def endswith(self, value: object) -> Pred:
        """``LIKE '%v'``."""
        return self._like(value, "endswith", "endswith")

    def iendswith(self, value: object) -> Pred:
        """``COLLATE "C" ILIKE '%v'``."""
        return self._like(value, "iendswith", "endswith")

    def iexact(self, value: object) -> Pred:
        """``COLLATE "C" ILIKE 'v'`` (equality up to ASCII case)."""
        return self._like(value, "iexact", "exact")

    def regex(self, pattern: str | Named[Any]) -> Pred:
        """``~ pattern`` (POSIX regular expression; SQL-only)."""
        return _p.Regex(self, self._text(pattern, "regex"), False)

    def iregex(self, pattern: str | Named[Any]) -> Pred:
        """``~* pattern`` (case-insensitive POSIX regular expression; SQL-only)."""
        return _p.Regex(self, self._text(pattern, "iregex"), True)

    def collate(self, collation: str) -> Collate[T]:
        """``expr COLLATE "collation"``; ``.collate("C")`` makes text ordering portable (code point order)."""
        _require(self, ("str", None), "COLLATE")
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", text_argument(collation, "collate()", "C")):
            raise ValidationError(f"{collation!r} is not a collation name")
        return Collate(self, collation)

    def concat(self, other: object) -> BinOp[str]:
        """``expr || other`` (text concatenation)."""
        return _arith("||", self, other)

    # -- arrays

    def _array(self, op: Literal["@>", "<@", "&&"], value: object) -> Pred:
        _require(self, ("array", None), op)
        return _p.ArrayOp(op, self, self.operand(value))

    def contained_by(self, values: object) -> Pred:
        """``<@ $n``: every element is in ``values``."""
        return self._array("<@", values)

    def overlap(self, values: object) -> Pred:
        """``&& $n``: shares at least one element with ``values``."""
        return self._array("&&", values)

    # -- JSONB

    def path(self, path: str) -> JsonPath:
        """``(expr #> $n::text[])``: the JSONB value at dotted ``path`` (``"a.b"``); compare it with Python
        values (sent as JSONB). SQL-only."""
        _require(self, ("jsonb", "json", None), "path()")
        keys = tuple(path.split("."))
        if not all(keys):
            raise ValidationError(f"{self.describe()}: empty key in JSON path {path!r}")
        return JsonPath(self, keys)

    # -- arithmetic

    def __add__(self, other: object) -> BinOp[Any]:
        return _arith("+", self, other)

    def __radd__(self, other: object) -> BinOp[Any]:
        return _arith("+", other, self)

    def __sub__(self, other: object) -> BinOp[Any]:
        return _arith("-", self, other)

    def __rsub__(self, other: object) -> BinOp[Any]:
        return _arith("-", other, self)

    def __mul__(self, other: object) -> BinOp[Any]:
        return _arith("*", self, other)

    def __rmul__(self, other: object) -> BinOp[Any]:
        return _arith("*", other, self)

    def __truediv__(self, other: object) -> BinOp[Any]:
        """``/``: integer division truncates toward zero, as in PostgreSQL."""
        return _arith("/", self, other)

    def __rtruediv__(self, other: object) -> BinOp[Any]:
        return _arith("/", other, self)

    # -- ordering

    def asc(self) -> OrderBy:
        """``expr ASC`` (NULLs last unless ``.nulls_first()``)."""
        return OrderBy(self, False)

    def desc(self) -> OrderBy:
        """``expr DESC`` (NULLs first unless ``.nulls_last()``)."""
        return OrderBy(self, True)


if TYPE_CHECKING:
    # Comparison operands for type checkers (the run time checks every value against the column's type):
    # numeric columns take any number, HeeRanjID keys a plain int / UUID, other columns their own value type;
    # every column takes another expression.
    _Numeric = Expr[decimal.Decimal] | Expr[decimal.Decimal | None] | Expr[float] | Expr[float | None]
    _Keyed = Expr[HeerIdDesc] | Expr[HeerIdDesc | None] | Expr[HeerId] | Expr[HeerId | None]
    _UKeyed = Expr[RanjId] | Expr[RanjId | None] | Expr[RanjIdDesc] | Expr[RanjIdDesc | None]


class Column(Expr[T], Generic[M, T], frozen=True, eq=False):
    """``"table"."column"`` of ``model``'s field ``name``. Built by ``column_ref``; ``column``, ``vtype`` and
    ``nullable`` are derived from the field and are not part of the node's identity."""

    __children__ = ()
    __key__ = ("model", "name")  # identity: the other fields are derived from the field

    model: Any
    name: str
    column: str
    vtype: ValueType
    nullable: bool

    @property
    def type(self) -> ValueType:
        return self.vtype

    def _describe(self) -> str:
        return f"{self.model.__name__}.{self.name}"

    def to(self, target: Column[Any, V]) -> Column[M, V]:
        """Through this ``ForeignKey``/``OneToOne`` column, the related model's column ``target``:
        ``Book.author.to(Author.name)`` (usable in ``where``/``exclude``/``order_by``; see
        ``djogi.algebra.relations``). ``ValidationError`` when this is no relation or ``target`` is not a
        column of its target model."""
        return to(self, target)

    if not TYPE_CHECKING:

        def __getattr__(self, attr: str) -> Column[Any, Any]:
            """``Book.author.email``: ``self.to(<target>.email)`` for names that are not Column attributes."""
            if attr.startswith("_"):
                raise AttributeError(attr)
            return follow(self, attr)


if TYPE_CHECKING:

    class ForeignColumn(Column[M, T], Generic[M, T, TM], frozen=True, eq=False):
        """``Book.author``: a relation's column; it holds the target's key ``T`` and knows its target ``TM``
        (``Author``, or ``Author | None`` for an optional relation)."""

else:

    class _ForeignColumnType(type):
        def __instancecheck__(cls, obj: object) -> bool:
            return isinstance(obj, Column) and _is_relation(obj)

    class ForeignColumn(Generic[M, T, TM], metaclass=_ForeignColumnType):
        """``Book.author``'s type for type checkers: a relation's column, holding the target's key ``T`` and
        knowing its target ``TM``. At run time relation columns are ``Column`` values (``isinstance`` tells a
        relation's column)."""


def _is_relation(col: Column[Any, Any]) -> bool:
    desc = registered(col.model)
    return desc is not None and any(fd.name == col.name and fd.relation is not None for fd in desc.fields)


class OuterRef(Expr[T], frozen=True, eq=False):
    """``expr`` rendered in the enclosing query's scope (correlated subqueries)."""

    __children__ = ("expr",)

    expr: Expr[Any]

    @property
    def type(self) -> ValueType:
        return self.expr.type

    def _describe(self) -> str:
        return f"outer({self.expr.describe()})"


# ------------------------------------------------------------------------------------------ to-one paths
# ``Column.to()`` and ``Book.author.email`` build these; ``djogi.algebra.relations`` lowers them in queries.


class PathRef(msgspec.Struct, frozen=True, gc=False):
    """The rows reached from ``base`` (a model, a source ``Ref`` or another ``PathRef``) through its
    relation field ``field``; ``target`` is the related model."""

    base: Any
    field: str
    target: Any

    @property
    def __name__(self) -> str:  # how Column.describe() names it
        return f"{getattr(self.base, '__name__', self.base)}.{self.field}"

    @property
    def root(self) -> PathRef:
        """The first hop of the path."""
        ref = self
        while isinstance(ref.base, PathRef):
            ref = ref.base
        return ref


class PathColumn(Column[M, Any], frozen=True, eq=False):
    """A column of a related model reached through a to-one path (``model`` is a ``PathRef``)."""

    __children__ = ()


_followed = False  # set once a path column exists: queries skip the lowering walk until then


def paths_followed() -> bool:
    """Whether any relation path (``PathColumn``) was built yet; until then queries have none to lower."""
    return _followed


def column_owner(model: Any) -> Any:
    """The model class whose fields a column owner (model, ``Ref`` or ``PathRef``) has."""
    if isinstance(model, PathRef):
        return model.target
    return getattr(model, "model", model) if not isinstance(model, type) else model


def resolve_target(model: Any, fd: FieldDescriptor) -> Any:
    """The model class a relation field of ``model`` points at."""
    assert fd.relation is not None
    target = fd.relation.target
    if isinstance(target, str):
        if target == model.__name__:
            return model
        found = [d.model for d in models() if d.name == target]
        if len(found) != 1:
            raise ValidationError(f"{model.__name__}.{fd.name}: relation target {target!r} is not a registered model")
        return found[0]
    return target


def relation_field(col: Column[Any, Any]) -> tuple[Any, FieldDescriptor]:
    """The model owning ``col`` and its relation field; ``ValidationError`` when ``col`` is no relation."""
    if not isinstance(col, Column):
        raise ValidationError(f"expected a relation column such as Book.author, not {col!r}")
    owner = column_owner(col.model)
    fd = descriptor(owner).field(col.name)
    if fd.relation is None:
        raise ValidationError(f"{col.describe()} is not a ForeignKey / OneToOne field")
    return owner, fd


def follow(rel: Column[Any, Any], name: str) -> PathColumn[Any]:
    """The column ``name`` of the model ``rel`` points at, reached through ``rel`` (``Book.author.to(...)``).

    ``AttributeError`` when ``rel`` is no relation or its target has no such field.
    """
    global _followed
    try:
        owner, fd = relation_field(rel)
    except (ValidationError, KeyError):
        raise AttributeError(f"{rel.describe()} has no attribute {name!r}") from None
    target = resolve_target(owner, fd)
    try:
        tfd = descriptor(target).field(name)
    except KeyError as exc:
        raise AttributeError(str(exc)) from None
    ref = PathRef(rel.model, rel.name, target)
    _followed = True
    tcol = getattr(target, tfd.name)
    return PathColumn(ref, tfd.name, tfd.column, tcol.vtype, True)


def to(rel: Column[Any, Any], target_col: Column[Any, Any]) -> PathColumn[Any]:
    """``rel.to(Target.field)``: ``target_col`` reached through the relation ``rel``."""
    owner, fd = relation_field(rel)
    target = resolve_target(owner, fd)
    if not isinstance(target_col, Column) or target_col.model is not target:
        raise ValidationError(f"{rel.describe()}.to() takes a column of {target.__name__}, not {target_col!r}")
    return follow(rel, target_col.name)


_FIXED_CHAR = re.compile(r"\s*(?:CHAR|CHARACTER|BPCHAR)\s*\(", re.IGNORECASE)


def _unpadded(x: Expr[Any]) -> Expr[Any]:
    """``x``, or ``CAST(x AS text)`` for a ``CHAR(n)`` column: LIKE on the column itself would match the spaces
    PostgreSQL pads it with, which djogi strips when it reads the value (SQL-only in memory, as every cast)."""
    if type(x) is not Column:
        return x
    desc = registered(x.model)
    if desc is None or not _FIXED_CHAR.match(desc.field(x.name).sql_type):
        return x
    return Cast(x, "text", TEXT)


def column_ref(model: type[M], fd: FieldDescriptor) -> Column[M, Any]:
    """The column reference ``Model.field`` resolves to at class level (called by ``ModelMeta``)."""
    return Column(model, fd.name, fd.column, _field_type(fd), fd.nullable)


class Param(Expr[T], frozen=True, eq=False):
    """A bound value, rendered ``$n::type`` (``type.sql``; no cast when unknown). Never NULL."""

    __children__ = ()

    value: Any
    vtype: ValueType

    @property
    def type(self) -> ValueType:
        return self.vtype

    def _describe(self) -> str:
        return repr(self.value)


class Named(Expr[T], frozen=True, eq=False):
    """A named parameter, built by ``param("title")``: a slot whose value is given each time a prepared
    statement runs (``djogi.algebra.template``). Rendered ``$n::type`` like ``Param``; only ``template()``
    compiles a value holding one. Never NULL: binding ``None`` is refused."""

    __children__ = ()

    name: str
    vtype: ValueType

    @property
    def type(self) -> ValueType:
        return self.vtype

    def _describe(self) -> str:
        return f"param({self.name!r})"


class Slot(msgspec.Struct, frozen=True, gc=False):
    """What the renderer binds in place of a ``Named`` parameter: the value to fill in per run (for the text of
    a ``LIKE``, the ``like`` mode its pattern is made with: ``djogi.algebra.render.like_text``)."""

    name: str
    vtype: ValueType
    like: Literal["contains", "startswith", "endswith", "exact"] | None = None


def param(name: str, sql_type: str | None = None) -> Named[Any]:
    """A named parameter for a prepared query: ``Book.objects.where(Book.title == param("title"))``, then
    ``db.prepare(query)`` and ``await prepared.all(title="Dune")``.

    Compared with an expression it takes that expression's type (the value is checked and normalised as
    ``where()`` would); elsewhere give ``sql_type`` (``param("n", "bigint")``). ``name`` must be a Python
    identifier (values are passed as keyword arguments). Raises ``ArgumentTypeError`` for a name that is
    not a str or a ``sql_type`` that is not text (``param("n", int)``: give ``"bigint"``), ``ValidationError``
    for a name that is not an identifier or a ``sql_type`` that is not a type name.
    """
    text = text_argument(name, "param() name", "title")
    if not text.isidentifier():
        raise ValidationError(f"param({text!r}): a parameter name must be a Python identifier, like 'title'")
    if sql_type is None:
        return Named(text, ValueType(None, None))
    return Named(text, value_type(text_argument(sql_type, f"param({text!r}, sql_type)", "text")))


class Const(Expr[T], frozen=True, eq=False):
    """An inline constant: ``NULL``, ``TRUE`` or ``FALSE`` (the only values spliced into SQL text)."""

    __children__ = ()

    value: bool | None

    @property
    def type(self) -> ValueType:
        return ValueType(None if self.value is None else "bool", None)

    def _describe(self) -> str:
        return {None: "NULL", True: "TRUE", False: "FALSE"}[self.value]


class BinOp(Expr[T], frozen=True, eq=False):
    """``(left op right)`` for ``+ - * /`` and ``||``."""

    __children__ = ("left", "right")

    op: str
    left: Expr[Any]
    right: Expr[Any]
    vtype: ValueType

    @property
    def type(self) -> ValueType:
        return self.vtype

    def _describe(self) -> str:
        return f"({self.left.describe()} {self.op} {self.right.describe()})"


_TEMPORAL_ARITH = {
    ("datetime", "+", "timedelta"): "datetime",
    ("datetime", "-", "timedelta"): "datetime",
    ("timedelta", "+", "datetime"): "datetime",
    ("datetime", "-", "datetime"): "timedelta",
    ("timestamp", "+", "timedelta"): "timestamp",
    ("timestamp", "-", "timedelta"): "timestamp",
    ("timedelta", "+", "timestamp"): "timestamp",
    ("timestamp", "-", "timestamp"): "timedelta",
    ("timedelta", "+", "timedelta"): "timedelta",
    ("timedelta", "-", "timedelta"): "timedelta",
    ("int", "*", "timedelta"): "timedelta",
    ("float", "*", "timedelta"): "timedelta",
    ("timedelta", "*", "int"): "timedelta",
    ("timedelta", "*", "float"): "timedelta",
    ("timedelta", "/", "int"): "timedelta",
    ("timedelta", "/", "float"): "timedelta",
    ("date", "-", "date"): "int",
    ("date", "+", "int"): "date",
    ("date", "-", "int"): "date",
    ("int", "+", "date"): "date",
    ("date", "+", "timedelta"): "timestamp",  # PostgreSQL: date + interval is a timestamp without time zone
    ("date", "-", "timedelta"): "timestamp",
    ("timedelta", "+", "date"): "timestamp",
    ("time", "+", "timedelta"): "time",
    ("time", "-", "timedelta"): "time",
    ("timedelta", "+", "time"): "time",
    ("time", "-", "time"): "timedelta",
}
"""The result kind of date/time arithmetic PostgreSQL defines (``timestamp`` is a timestamp without time
zone, which decodes to a naive ``datetime``); any other pair of date/time operands is refused."""


def _arith_operand(value: object, other: Expr[Any]) -> Param[Any]:
    """A plain value next to ``other`` in arithmetic. A number takes ``other``'s type when ``other`` is a
    DOUBLE PRECISION or NUMERIC (``price * 1.1`` stays NUMERIC), text stays text; otherwise its own type."""
    if value is None:
        raise ValidationError(f"{other.describe()}: None in arithmetic; use coalesce()")
    own = _python_value_type(value)
    target = other.type
    if not (target.kind in ("float", "decimal", "str") and (own.kind in NUMERIC_KINDS or own.kind == "str")):
        target = own
    return Param(coerce(target, value, other), target)


def _arith(op: str, left: object, right: object) -> BinOp[Any]:
    """Type-check and build ``(left op right)``; at least one side is an ``Expr``.

    Raises ``ValidationError`` for operand types PostgreSQL would reject and for a literal division by zero.
    """
    if not isinstance(left, Expr):
        assert isinstance(right, Expr)
        left = _arith_operand(left, right)
    elif not isinstance(right, Expr):
        right = _arith_operand(right, left)
    assert isinstance(right, Expr)
    lk, rk = left.type.kind, right.type.kind
    kind: str | None
    if op == "||":
        _require(left, ("str", None), "||")
        _require(right, ("str", None), "||")
        kind = "str"
    elif lk is None or rk is None:
        kind = lk or rk
    elif lk in NUMERIC_KINDS and rk in NUMERIC_KINDS:
        kind = "float" if "float" in (lk, rk) else "decimal" if "decimal" in (lk, rk) else "int"
    else:
        kind = _TEMPORAL_ARITH.get((lk, op, rk))
        if kind is None:
            raise ValidationError(f"cannot compute {left.describe()} ({lk}) {op} {right.describe()} ({rk})")
    if kind == "date" and "int" in (lk, rk):
        left, right = _days(left), _days(right)
    if isinstance(right, Param) and op == "/" and _is_zero(right.value):
        raise ValidationError(f"{left.describe()} / 0: division by zero")
    if kind is not None and kind not in _KIND_SQL:
        raise ValidationError(f"cannot compute {left.describe()} ({lk}) {op} {right.describe()} ({rk})")
    return BinOp(op, left, right, ValueType(kind, None if kind is None else _KIND_SQL[kind]))


_INTEGER = ValueType("int", "integer")


def _days(x: Expr[Any]) -> Expr[Any]:
    """A day count added to a date as PostgreSQL's ``date + integer`` takes it (there is no ``date + bigint``):
    a parameter sent as INTEGER (``ValidationError`` beyond its range), an expression cast to it."""
    if x.type.kind != "int":
        return x
    if isinstance(x, Param):
        if not -(2**31) <= x.value < 2**31:
            raise ValidationError(f"{x.value} days is beyond a date's range")
        return Param(x.value, _INTEGER)
    return Cast(x, "integer", _INTEGER)


def _is_zero(value: object) -> bool:
    """Whether a divisor is zero (a signalling Decimal NaN, which cannot be compared, is not)."""
    if isinstance(value, decimal.Decimal):
        return bool(value.is_zero())
    return type(value) in (int, float) and value == 0


class Func(Expr[T], frozen=True, eq=False):
    """A function call ``name(args...)`` returning ``return_type``. ``name`` is a plain identifier."""

    __children__ = ("args",)

    name: str
    args: tuple[Expr[Any], ...]
    return_type: ValueType

    @property
    def type(self) -> ValueType:
        return self.return_type

    def _describe(self) -> str:
        return f"{self.name}({', '.join(a.describe() for a in self.args)})"


def _as_expr(value: object, like: Expr[Any] | None = None) -> Expr[Any]:
    if isinstance(value, Expr):
        return value if like is None else like.operand(value)
    if like is not None:
        return like.operand(value)
    if value is None:
        return Const(None)
    t = _python_value_type(value)
    return Param(coerce(t, value, "argument"), t)


def func(name: str, *args: object, returns: str) -> Func[Any]:
    """Any SQL function: ``func("date_trunc", "day", Book.created_at, returns="timestamptz")``.

    Non-expression arguments become parameters typed from their Python type. SQL-only in memory.
    """
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", text_argument(name, "func() name", "date_trunc")):
        raise ValidationError(f"{name!r} is not a plain lower-case function name")
    returns = text_argument(returns, "func(returns=...)", "timestamptz")
    return Func(name, tuple(_as_expr(a) for a in args), value_type(returns))


def lower(x: object) -> Func[str]:
    """``lower(x)``; portable in memory only on ``x.collate("C")`` (ASCII folding)."""
    e = _as_expr(x)
    _require(e, ("str", None), "lower()")
    return Func("lower", (e,), TEXT)


def upper(x: object) -> Func[str]:
    """``upper(x)``; portable in memory only on ``x.collate("C")`` (ASCII folding)."""
    e = _as_expr(x)
    _require(e, ("str", None), "upper()")
    return Func("upper", (e,), TEXT)


def length(x: object) -> Func[int]:
    """``length(x)``: number of characters."""
    e = _as_expr(x)
    _require(e, ("str", None), "length()")
    return Func("length", (e,), ValueType("int", "bigint"))


def now() -> Func[dt.datetime]:
    """``now()`` (transaction start time; SQL-only in memory)."""
    return Func("now", (), ValueType("datetime", "timestamptz"))


def coalesce(first: Expr[T], *rest: object) -> Func[T]:
    """``coalesce(first, rest...)``: the first non-NULL argument; the others must fit ``first``'s type."""
    expression(first, "coalesce()")
    return Func("coalesce", (first, *(_as_expr(r, first) for r in rest)), first.type)


def nullif(a: Expr[T], b: object) -> Func[T]:
    """``nullif(a, b)``: NULL when ``a = b``, else ``a``."""
    expression(a, "nullif()")
    return Func("nullif", (a, _as_expr(b, a)), a.type)


def abs_(x: Expr[T]) -> Func[T]:
    """``abs(x)`` for numbers."""
    _require(x, ("int", "float", "decimal", None), "abs()")
    return Func("abs", (x,), x.type)


class Cast(Expr[T], frozen=True, eq=False):
    """``CAST(expr AS sql_type)``; built by ``cast``. SQL-only in memory."""

    __children__ = ("expr",)

    expr: Expr[Any]
    sql_type: str
    vtype: ValueType

    @property
    def type(self) -> ValueType:
        return self.vtype

    def _describe(self) -> str:
        return f"CAST({self.expr.describe()} AS {self.sql_type})"


def cast(x: object, sql_type: str) -> Cast[Any]:
    """``CAST(x AS sql_type)``; ``ValidationError`` if ``sql_type`` is not a plain type name."""
    text_argument(sql_type, "cast() type", "numeric(10, 2)")
    return Cast(_as_expr(x), sql_type, value_type(sql_type))


class Collate(Expr[T], frozen=True, eq=False):
    """``expr COLLATE "collation"``."""

    __children__ = ("expr",)

    expr: Expr[Any]
    collation: str

    @property
    def type(self) -> ValueType:
        return self.expr.type

    def _describe(self) -> str:
        return f"{self.expr.describe()} COLLATE {self.collation}"


class JsonPath(Expr[Any], frozen=True, eq=False):
    """``(expr #> $n::text[])``: the JSONB value at a key path. Compared values are sent as JSONB."""

    __children__ = ("expr",)

    expr: Expr[Any]
    keys: tuple[str, ...]

    @property
    def type(self) -> ValueType:
        return ValueType("jsonb", "jsonb")

    def _describe(self) -> str:
        return f"{self.expr.describe()}.path({'.'.join(self.keys)!r})"


class OrderBy(msgspec.Struct, frozen=True, gc=False):
    """An ORDER BY item: ``expr ASC|DESC [NULLS FIRST|LAST]`` (``nulls=None``: PostgreSQL's default)."""

    __children__ = ("expr",)

    expr: Expr[Any]
    descending: bool
    nulls: Literal["first", "last"] | None = None

    def nulls_first(self) -> OrderBy:
        """The same ordering with ``NULLS FIRST``."""
        return OrderBy(self.expr, self.descending, "first")

    def nulls_last(self) -> OrderBy:
        """The same ordering with ``NULLS LAST``."""
        return OrderBy(self.expr, self.descending, "last")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OrderBy) and same(self, other)

    def __hash__(self) -> int:
        return key_hash(self)


from djogi.algebra import predicate as _p  # noqa: E402  (predicate imports this module)
