"""Binary codecs of the search types: ``tsvector`` as ``djogi.TsVector``, pgvector's ``vector`` as ``Vector``.

The ``tsvector`` wire format (PostgreSQL's ``tsvector_send``/``tsvector_recv``): an int32 count, then per
lexeme its UTF-8 text, a NUL byte, a uint16 count of positions and one uint16 per position (weight in the
two high bits, 3 = A ... 0 = D; position in the low 14).
"""

from __future__ import annotations

import struct
from typing import Any

from pgvector import Vector
from psycopg import postgres
from psycopg.abc import Buffer
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format

from djogi.errors import DecodeError
from djogi.types import TsLexeme, TsVector

__all__ = ["TsVectorBinaryDumper", "TsVectorBinaryLoader", "VectorTextDumper", "decode_tsvector", "encode_tsvector",
           "vector_value"]  # fmt: skip

_TSVECTOR = postgres.types["tsvector"].oid
_WEIGHTS = ("D", "C", "B", "A")
_WEIGHT_BITS = {"A": 3 << 14, "B": 2 << 14, "C": 1 << 14, "D": 0}
_U16 = struct.Struct("!H")
_I32 = struct.Struct("!i")


def decode_tsvector(data: Buffer) -> TsVector:
    """A ``TsVector`` from the binary form; ``DecodeError`` when the bytes are not one."""
    view = bytes(data)
    try:
        (count,) = _I32.unpack_from(view, 0)
        pos = 4
        lexemes = []
        for _ in range(count):
            end = view.index(b"\x00", pos)
            text = view[pos:end].decode()
            (npos,) = _U16.unpack_from(view, end + 1)
            pos = end + 3
            words = struct.unpack_from(f"!{npos}H", view, pos)
            pos += 2 * npos
            lexemes.append(TsLexeme(text, tuple((w & 0x3FFF, _WEIGHTS[w >> 14]) for w in words)))  # type: ignore[misc]
    except (struct.error, ValueError) as exc:
        raise DecodeError(f"not a binary tsvector: {exc}") from None
    if pos != len(view):
        raise DecodeError("not a binary tsvector: trailing bytes")
    return TsVector(tuple(lexemes))


def encode_tsvector(value: TsVector) -> bytes:
    """The binary form of ``value``, positions in ascending order as the server reads them (it orders the
    lexemes itself)."""
    parts = [_I32.pack(len(value.lexemes))]
    for lexeme in value.lexemes:
        parts.append(lexeme.text.encode() + b"\x00")
        parts.append(_U16.pack(len(lexeme.positions)))
        parts.extend(_U16.pack(_WEIGHT_BITS[weight] | position) for position, weight in sorted(lexeme.positions))
    return b"".join(parts)


class TsVectorBinaryDumper(Dumper):
    """``TsVector`` values as binary ``tsvector``."""

    format = Format.BINARY
    oid = _TSVECTOR

    def dump(self, obj: TsVector) -> Buffer:
        return encode_tsvector(obj)


class TsVectorBinaryLoader(Loader):
    """Binary ``tsvector`` values as ``TsVector``."""

    format = Format.BINARY
    tsvector_oid = _TSVECTOR

    def load(self, data: Buffer) -> TsVector:
        return decode_tsvector(data)


class VectorTextDumper(Dumper):
    """``Vector`` values as text of unknown type (OID 0): what ``$n::vector`` takes before the ``vector``
    type's OID is known on the connection."""

    oid = 0

    def dump(self, obj: Vector) -> Buffer:
        return obj.to_text().encode()


def vector_value(value: Any) -> Vector:
    """A loaded ``vector`` value as a ``Vector``: as it is, or read from its binary form (a connection that
    did not know the type's OID hands over the bytes)."""
    return value if isinstance(value, Vector) else Vector.from_binary(value)
