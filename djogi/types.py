"""Value types models are declared with: primary-key kinds, enums, JSONB, sized integers, relation specs.

Each marker here is pure data that ``djogi.schema`` reads at class creation; nothing here does I/O. The
relation markers ``ForeignKey``/``OneToOne`` live in ``djogi.schema.relations``: they look their target's
key type up in the model registry.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import typing
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar

import heeranjid
import msgspec
from pgvector import Vector

from djogi.errors import ValidationError

__all__ = [
    "BigInt",
    "Enum",
    "HeerId",
    "HeerIdDesc",
    "Integer",
    "Jsonb",
    "KeyType",
    "NaiveDateTime",
    "OnDelete",
    "PrimaryKey",
    "RanjId",
    "RanjIdDesc",
    "Real",
    "RelationSpec",
    "Serial",
    "SmallInt",
    "SqlType",
    "TsLexeme",
    "TsVector",
    "Vector",
]

T = TypeVar("T")


# ------------------------------------------------------------------------------------------ key types

_BIGINT_KEYS = range(0, 2**63)
_BIGINT_KEY = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]  # what msgspec decodes a HeerId key as

if TYPE_CHECKING:
    # For type checkers a key type is its value type (``int`` / ``uuid.UUID``) with HeeRanjID helpers.

    class HeerId(int):
        @classmethod
        def from_str(cls, text: str) -> HeerId: ...
        @classmethod
        def info(cls, value: int) -> heeranjid.HeerId: ...

    class HeerIdDesc(int):
        @classmethod
        def from_str(cls, text: str) -> HeerIdDesc: ...
        @classmethod
        def from_parts(cls, timestamp_ms: int, node_id: int, sequence: int) -> HeerIdDesc: ...
        @classmethod
        def info(cls, value: int) -> heeranjid.HeerIdDesc: ...

    class RanjId(uuid.UUID):
        @classmethod
        def from_str(cls, text: str) -> RanjId: ...
        @classmethod
        def info(cls, value: uuid.UUID) -> heeranjid.RanjId: ...

    class RanjIdDesc(uuid.UUID):
        @classmethod
        def from_str(cls, text: str) -> RanjIdDesc: ...
        @classmethod
        def from_parts(cls, timestamp: int, precision: str, node_id: int, sequence: int) -> RanjIdDesc: ...
        @classmethod
        def info(cls, value: uuid.UUID) -> heeranjid.RanjIdDesc: ...

    KeyType = Any
else:

    class KeyType(typing.NewType):
        """A HeeRanjID key type: ``HeerId`` / ``HeerIdDesc`` values are plain ``int`` (BIGINT), ``RanjId`` /
        ``RanjIdDesc`` values plain ``uuid.UUID``, so models holding them encode and decode with msgspec
        and ``json`` out of the box (msgspec treats a ``NewType`` as its supertype, here ``int`` limited to
        0..2**63-1 or ``uuid.UUID``). In JSON a HeerId is a number, a RanjId its UUID string; msgspec's
        ``strict=False`` also accepts a HeerId's decimal string (what HeeRanjID's serde writes).

        ``HeerIdDesc(x)`` checks and normalises ``x`` (an int in 0..2**63-1, its decimal string, or a
        ``heeranjid`` object) and returns the plain value; ``isinstance(v, HeerIdDesc)`` tells whether ``v``
        is such a value (the ascending and descending kinds share their values' type, so it cannot tell them
        apart). ``from_str``, ``from_parts`` and ``info`` (the ``heeranjid`` object, with ``timestamp_ms`` /
        ``timestamp``, ``node_id``, ``sequence``) give the HeeRanjID semantics. Invalid values raise
        ``djogi.errors.ValidationError``.
        """

        def __init__(self, name: str, native: Any) -> None:
            self.bigint = native in (heeranjid.HeerId, heeranjid.HeerIdDesc)
            super().__init__(name, _BIGINT_KEY if self.bigint else uuid.UUID)
            self.native = native

        def __call__(self, value: object) -> Any:
            if self.bigint:
                if type(value) is int and value in _BIGINT_KEYS:
                    return value
                return self._int(value)
            if type(value) is uuid.UUID:
                return value
            return self._uuid(value)

        def _int(self, value: object) -> int:
            if hasattr(value, "as_int"):
                return value.as_int()  # a heeranjid object
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
            if isinstance(value, int) and not isinstance(value, bool) and value in _BIGINT_KEYS:
                return int(value)
            raise ValidationError(f"{self.__name__}: expected an int in 0..2**63-1 (BIGINT key), not {value!r}")

        def _uuid(self, value: object) -> uuid.UUID:
            if hasattr(value, "to_uuid"):
                return value.to_uuid()  # type: ignore[no-any-return]
            if isinstance(value, uuid.UUID):
                return uuid.UUID(int=value.int)
            try:
                return uuid.UUID(value) if isinstance(value, str) else self._bad(value)
            except ValueError:
                return self._bad(value)

        def _bad(self, value: object) -> uuid.UUID:
            raise ValidationError(f"{self.__name__}: expected a UUID (UUID key), not {value!r}")

        def __instancecheck__(self, obj: object) -> bool:
            if self.bigint:
                return type(obj) is int and obj in _BIGINT_KEYS
            return isinstance(obj, uuid.UUID)

        def from_str(self, text: str) -> Any:
            """The key written as ``text`` (decimal digits, or a UUID)."""
            return self(text)

        def from_parts(self, *parts: Any) -> Any:
            """The key made of its HeeRanjID parts (``heeranjid``'s ``from_parts``: the descending kinds)."""
            make = getattr(self.native, "from_parts", None)
            if make is None:
                raise ValidationError(f"{self.__name__} has no from_parts (heeranjid builds only the Desc kinds)")
            return self(make(*parts))

        def info(self, value: Any) -> Any:
            """The ``heeranjid`` object of ``value`` (``.timestamp_ms`` / ``.timestamp``, ``.node_id``,
            ``.sequence``)."""
            value = self(value)
            return self.native(value) if self.bigint else self.native.from_str(str(value))

        def __reduce__(self) -> str:
            return self.__qualname__

    HeerId = KeyType("HeerId", heeranjid.HeerId)
    HeerIdDesc = KeyType("HeerIdDesc", heeranjid.HeerIdDesc)
    RanjId = KeyType("RanjId", heeranjid.RanjId)
    RanjIdDesc = KeyType("RanjIdDesc", heeranjid.RanjIdDesc)


class SqlType(msgspec.Struct, frozen=True):
    """``Annotated`` metadata fixing the SQL type of a field (``Annotated[int, SqlType("SMALLINT")]``)."""

    name: str


SmallInt = Annotated[int, SqlType("SMALLINT")]
"""An ``int`` stored as SMALLINT (-32768..32767)."""
Integer = Annotated[int, SqlType("INTEGER")]
"""An ``int`` stored as INTEGER (32-bit)."""
BigInt = Annotated[int, SqlType("BIGINT")]
"""An ``int`` stored as BIGINT (the default for ``int``)."""
Real = Annotated[float, SqlType("REAL")]
"""A ``float`` stored as REAL (32-bit); plain ``float`` is DOUBLE PRECISION."""
NaiveDateTime = Annotated[dt.datetime, SqlType("TIMESTAMP")]
"""A ``datetime`` without time zone stored as TIMESTAMP (wall-clock time); plain ``datetime`` is TIMESTAMPTZ.
Its values are naive datetimes: an aware one is refused (``ValidationError``) rather than converted."""

INT_RANGES: dict[str, tuple[int, int]] = {
    "SMALLINT": (-(2**15), 2**15 - 1),
    "INTEGER": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
}


class PrimaryKey(msgspec.Struct, frozen=True):
    """How a model's ``id`` column is typed and filled.

    ``kind`` is the name recorded in schema snapshots (``HeerIdRecencyBiased``, ``HeerId``, ``RanjId``,
    ``RanjIdRecencyBiased``, ``Serial`` or ``Custom``).
    """

    kind: str
    python_type: Any
    sql_type: str
    default_sql: str | None = None
    identity: bool = False


HEERID_DESC_PK = PrimaryKey("HeerIdRecencyBiased", HeerIdDesc, "BIGINT", "heerid_next_desc()")
HEERID_PK = PrimaryKey("HeerId", HeerId, "BIGINT", "heerid_next()")
RANJID_PK = PrimaryKey("RanjId", RanjId, "UUID", "ranjid_next()")
RANJID_DESC_PK = PrimaryKey("RanjIdRecencyBiased", RanjIdDesc, "UUID", "ranjid_next_desc()")


if TYPE_CHECKING:
    Serial = int  # ``Model[Serial]``: for type checkers the key is a plain int
else:

    class Serial:
        """Marker for ``Model[Serial]``: ``INTEGER GENERATED BY DEFAULT AS IDENTITY`` (ids are plain ints)."""


SERIAL_PK = PrimaryKey("Serial", int, "INTEGER", None, identity=True)


def custom_pk(python_type: type, sql_type: str, default_sql: str) -> PrimaryKey:
    """A custom primary key, e.g. ``custom_pk(uuid.UUID, "UUID", "gen_random_uuid()")``."""
    return PrimaryKey("Custom", python_type, sql_type, default_sql)


UUID_V4_PK = custom_pk(uuid.UUID, "UUID", "gen_random_uuid()")
UUID_V7_PK = custom_pk(uuid.UUID, "UUID", "uuidv7()")

KEY_TYPES: tuple[Any, ...] = (HeerId, HeerIdDesc, RanjId, RanjIdDesc)
"""djogi's HeeRanjID key types (``KeyType`` values; their values are plain ``int`` / ``uuid.UUID``)."""
HEERANJID_TYPES: tuple[Any, ...] = (heeranjid.HeerId, heeranjid.HeerIdDesc, heeranjid.RanjId, heeranjid.RanjIdDesc)
"""The ``heeranjid`` package's own classes (accepted as ``pk=`` markers and as values to bind)."""

_PK_BY_MARKER: dict[object, PrimaryKey] = {
    HeerIdDesc: HEERID_DESC_PK,
    HeerId: HEERID_PK,
    RanjId: RANJID_PK,
    RanjIdDesc: RANJID_DESC_PK,
    heeranjid.HeerIdDesc: HEERID_DESC_PK,
    heeranjid.HeerId: HEERID_PK,
    heeranjid.RanjId: RANJID_PK,
    heeranjid.RanjIdDesc: RANJID_DESC_PK,
    Serial: SERIAL_PK,
}


def resolve_pk(spec: object) -> PrimaryKey:
    """Turn a model's ``pk=`` option (a heeranjid type, ``Serial`` or a ``PrimaryKey``) into a ``PrimaryKey``.

    Raises ``TypeError`` for anything else.
    """
    if isinstance(spec, PrimaryKey):
        return spec
    found = _PK_BY_MARKER.get(spec)
    if found is None:
        raise TypeError(
            f"pk={spec!r} is not a primary-key kind; use HeerIdDesc (default), HeerId, RanjId, RanjIdDesc, "
            "Serial or djogi.types.custom_pk(python_type, sql_type, default_sql)"
        )
    return found


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Enum(enum.StrEnum):
    """Base of native PostgreSQL enums: ``class Genre(djogi.Enum)`` maps to ``CREATE TYPE genre AS ENUM``.

    The type name defaults to the class name in snake_case; set ``__pg_name__`` to choose another.
    Member values (strings) are the labels stored in the database.
    """

    @classmethod
    def pg_name(cls) -> str:
        """The PostgreSQL type name of this enum."""
        explicit = cls.__dict__.get("__pg_name__")
        return explicit if isinstance(explicit, str) else _snake(cls.__name__)

    @classmethod
    def labels(cls) -> tuple[str, ...]:
        """The enum's labels in declaration order (the order PostgreSQL sorts them in)."""
        return tuple(member.value for member in cls)


# ------------------------------------------------------------------------------------------ search types

Weight = Literal["A", "B", "C", "D"]


class TsLexeme(msgspec.Struct, frozen=True, gc=False):
    """One lexeme of a ``TsVector``: its text and its ``(position, weight)`` pairs (positions 1..16383;
    none for a vector built without positions)."""

    text: str
    positions: tuple[tuple[int, Weight], ...] = ()


class TsVector(msgspec.Struct, frozen=True, gc=False):
    """A PostgreSQL ``tsvector`` value: its lexemes in PostgreSQL's order (by byte length, then bytes).

    A field annotated ``TsVector`` is a TSVECTOR column; ``djogi.algebra.search.to_tsvector`` builds the
    value in SQL. ``words()`` gives the lexeme texts.
    """

    lexemes: tuple[TsLexeme, ...] = ()

    def words(self) -> tuple[str, ...]:
        """The lexeme texts, in order."""
        return tuple(lexeme.text for lexeme in self.lexemes)


class JsonbMarker(msgspec.Struct, frozen=True):
    """``Annotated`` metadata: store the field as JSONB, encoded and decoded with msgspec."""


JSONB = JsonbMarker()

OnDelete = Literal["cascade", "restrict", "set null", "set default", "no action"]


class RelationSpec(msgspec.Struct, frozen=True):
    """``Annotated`` metadata of a to-one relation field; ``target`` is a model class or its name."""

    target: Any
    kind: Literal["fk", "o2o"] = "fk"
    on_delete: OnDelete = "restrict"
    deferrable: bool = False
    initially_deferred: bool = False
    related_name: str | None = None
    to_field: str | None = None
    on_update: OnDelete | None = None


if TYPE_CHECKING:
    # For type checkers Jsonb[T] holds a T.
    Jsonb = Annotated[T, JSONB]
else:

    class Jsonb(Generic[T]):
        """``meta: Jsonb[BookMeta]``: a msgspec value stored as JSONB."""

        def __class_getitem__(cls, item: object) -> object:
            return Annotated[item, JSONB]
