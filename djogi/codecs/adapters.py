"""psycopg 3 dumpers and loaders for djogi's value types.

``configure_adapters`` makes every value a compiled statement may carry bindable, in binary where it
helps: HeerId/HeerIdDesc as BIGINT, RanjId/RanjIdDesc as UUID, ``djogi.Enum`` members as their label
(left untyped for the server to infer from context, which works for comparisons, ``= ANY``, arrays
and inserts alike), msgspec Structs and dicts as JSONB through
msgspec, and tz-aware datetimes (a naive datetime raises ``ValidationError`` before any SQL is sent).
Everything else (str, int, float, bool, Decimal, date, time, timedelta, UUID, bytes, lists as
arrays) keeps psycopg's own C adapters.
"""

from __future__ import annotations

import datetime as dt
import functools
import struct
from collections.abc import Mapping
from typing import Any, cast

import msgspec
import psycopg
from heeranjid import HeerId, HeerIdDesc, RanjId, RanjIdDesc
from pgvector.psycopg.vector import VectorBinaryDumper, VectorBinaryLoader, VectorDumper
from psycopg import postgres
from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import AdaptersMap, Dumper, Loader, PyFormat
from psycopg.errors import DataError
from psycopg.pq import Format
from psycopg.types.json import set_json_dumps
from psycopg.types.string import TextBinaryLoader, TextLoader

from djogi.codecs.json import decode_document, json_encode
from djogi.codecs.search import TsVectorBinaryDumper, TsVectorBinaryLoader, VectorTextDumper
from djogi.errors import ValidationError
from djogi.types import Enum, TsVector, Vector

__all__ = ["configure_adapters"]

_INT8 = postgres.types["int8"].oid
_UUID = postgres.types["uuid"].oid
_JSON = postgres.types["json"].oid
_JSONB = postgres.types["jsonb"].oid
_pack_int8 = struct.Struct("!q").pack


class _TypedDumper(Dumper):
    """A dumper chosen by Python type whose OID is set per instance, not on the class: psycopg registers a
    dumper with a class-level OID as *the* dumper for that OID too, and binary COPY (``set_types``) would
    then hand it plain ints/UUIDs/dicts."""

    target_oid = 0

    def __init__(self, cls: type, context: AdaptContext | None = None) -> None:
        super().__init__(cls, context)
        self.oid = self.target_oid


class _HeerIdBinaryDumper(_TypedDumper):
    format = Format.BINARY
    target_oid = _INT8

    def dump(self, obj: HeerId | HeerIdDesc) -> Buffer:
        return _pack_int8(obj.as_int())


class _HeerIdTextDumper(_TypedDumper):
    target_oid = _INT8

    def dump(self, obj: HeerId | HeerIdDesc) -> Buffer:
        return str(obj.as_int()).encode()


class _RanjIdBinaryDumper(_TypedDumper):
    format = Format.BINARY
    target_oid = _UUID

    def dump(self, obj: RanjId | RanjIdDesc) -> Buffer:
        return obj.to_uuid().bytes


class _RanjIdTextDumper(_TypedDumper):
    target_oid = _UUID

    def dump(self, obj: RanjId | RanjIdDesc) -> Buffer:
        return str(obj.to_uuid()).encode()


class _JsonbBinaryDumper(_TypedDumper):
    format = Format.BINARY
    target_oid = _JSONB

    def dump(self, obj: object) -> Buffer:
        return b"\x01" + json_encode(obj)


class _JsonbTextDumper(_TypedDumper):
    target_oid = _JSONB

    def dump(self, obj: object) -> Buffer:
        return json_encode(obj)


class _JsonbBinaryLoader(Loader):
    format = Format.BINARY

    def load(self, data: Buffer) -> Any:
        if data[0] != 1:
            raise DataError(f"unknown jsonb binary format: {data[0]}")
        return decode_document(memoryview(data)[1:])


class _JsonLoader(Loader):
    def load(self, data: Buffer) -> Any:
        return decode_document(data)


class _JsonBinaryLoader(_JsonLoader):
    format = Format.BINARY  # json's binary form is its text


def _aware_datetime_dumper(fmt: Format) -> type[Dumper]:
    """Wrap psycopg's (C) datetime dumper of ``fmt`` so a naive datetime raises ``ValidationError``."""
    inner_cls = psycopg.adapters.get_dumper(dt.datetime, PyFormat.from_pq(fmt))

    class AwareDatetimeDumper(Dumper):
        format = fmt

        def __init__(self, cls: type, context: AdaptContext | None = None) -> None:
            super().__init__(cls, context)
            self._inner = inner_cls(cls, context)
            self.oid = self._inner.oid

        def get_key(self, obj: dt.datetime, format: PyFormat) -> Any:
            if obj.tzinfo is None or obj.utcoffset() is None:
                raise ValidationError(
                    f"naive datetime {obj.isoformat()} cannot be sent to PostgreSQL (TIMESTAMPTZ needs an "
                    "instant); attach a timezone, e.g. value.replace(tzinfo=datetime.UTC)"
                )
            return self._inner.get_key(obj, format)

        def upgrade(self, obj: dt.datetime, format: PyFormat) -> Dumper:
            return cast(Dumper, self._inner.upgrade(obj, format))

        def dump(self, obj: dt.datetime) -> Buffer | None:
            return self._inner.dump(obj)

    return AwareDatetimeDumper


_AwareDatetimeTextDumper = _aware_datetime_dumper(Format.TEXT)
_AwareDatetimeBinaryDumper = _aware_datetime_dumper(Format.BINARY)


class _EnumBinaryDumper(Dumper):
    """A ``djogi.Enum`` member as its label, with OID 0: the server infers the enum type from context.

    A typed OID would break arrays of the enum (psycopg would need the array type's OID too), while
    an untyped label works for comparisons, ``= ANY``, array operators and inserts alike; only an
    untyped context (``SELECT $1``) sees text, where an explicit cast is needed.
    """

    format = Format.BINARY
    oid = 0

    def dump(self, obj: Enum) -> Buffer:
        return obj.value.encode()


class _EnumTextDumper(_EnumBinaryDumper):
    format = Format.TEXT


@functools.cache
def _vector_dumpers(oid: int) -> tuple[type[Dumper], ...]:
    """pgvector's dumpers bound to the ``vector`` type's OID in this database (so COPY finds them too)."""
    return tuple(type(base.__name__, (base,), {"oid": oid}) for base in (VectorDumper, VectorBinaryDumper))


def configure_adapters(
    adapters: AdaptersMap, enum_oids: Mapping[str, int] | None = None, vector_oid: int | None = None
) -> None:
    """Register djogi's dumpers and loaders on ``adapters`` (a connection's or a shared map).

    ``enum_oids`` maps PostgreSQL enum type names to their OIDs; with it, enum columns load as ``str``
    (without it, as ``bytes``; the row decoders accept both, and arrays of either form). ``vector_oid``, the
    OID of pgvector's ``vector`` type when the extension exists, binds ``Vector`` values to it (without it
    they are sent as text of unknown type, which every ``$n::vector`` cast takes; the row decoders turn
    the binary value into a ``Vector`` either way). ``TsVector`` values are sent and read in binary.
    Call once per map; later calls replace the registrations. Raises nothing itself; dumping a naive
    datetime later raises ``ValidationError``.
    """
    # Text first, binary last: the last registration is the one PyFormat.AUTO picks.
    for cls, text, binary in (
        (HeerId, _HeerIdTextDumper, _HeerIdBinaryDumper),
        (HeerIdDesc, _HeerIdTextDumper, _HeerIdBinaryDumper),
        (RanjId, _RanjIdTextDumper, _RanjIdBinaryDumper),
        (RanjIdDesc, _RanjIdTextDumper, _RanjIdBinaryDumper),
        (Enum, _EnumTextDumper, _EnumBinaryDumper),
        (msgspec.Struct, _JsonbTextDumper, _JsonbBinaryDumper),
        (dict, _JsonbTextDumper, _JsonbBinaryDumper),
        (dt.datetime, _AwareDatetimeTextDumper, _AwareDatetimeBinaryDumper),
    ):
        adapters.register_dumper(cls, text)
        adapters.register_dumper(cls, binary)
    adapters.register_dumper(TsVector, TsVectorBinaryDumper)
    adapters.register_loader(TsVectorBinaryLoader.tsvector_oid, TsVectorBinaryLoader)
    adapters.register_dumper(Vector, VectorTextDumper)
    for dumper in () if vector_oid is None else _vector_dumpers(vector_oid):
        adapters.register_dumper(Vector, dumper)
    if vector_oid is not None:
        adapters.register_loader(vector_oid, VectorBinaryLoader)
    set_json_dumps(json_encode, adapters)
    adapters.register_loader(_JSONB, _JsonbBinaryLoader)
    adapters.register_loader(_JSONB, _JsonLoader)
    adapters.register_loader(_JSON, _JsonLoader)
    adapters.register_loader(_JSON, _JsonBinaryLoader)
    for oid in (enum_oids or {}).values():
        adapters.register_loader(oid, TextLoader)
        adapters.register_loader(oid, TextBinaryLoader)
