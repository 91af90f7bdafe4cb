"""JSON for djogi values: ids written as strings, Decimals as JSON numbers, documents decoded without
rounding a number (``decode_document``), and ``Jsonb[T]`` values that keep unknown keys.

**Unknown keys.** A ``Jsonb[T]`` column may hold keys ``T`` does not declare (written by a newer version
of the application). ``decode_jsonb`` returns an instance of a cached private subclass of ``T`` that
carries those keys in its instance ``__dict__``; ``json_encode`` (and therefore the JSONB dumpers) writes
them back, so reading a row and saving it again never drops a key. The value stays a ``T``:
``isinstance(v, T)`` holds, pattern matching on ``T`` works, it compares equal to (and hashes like) a
plain ``T`` with the same fields, and its ``repr`` shows only ``T``'s fields. ``jsonb_extras(v)`` reads
the unknown keys. ``msgspec.structs.replace`` returns a value without them; use ``jsonb_replace`` to
change fields and keep them.
"""

from __future__ import annotations

import decimal
import functools
import math
import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec
from heeranjid import HeerId, HeerIdDesc, RanjId, RanjIdDesc

from djogi.errors import DecodeError

__all__ = ["decode_document", "decode_jsonb", "json_decode", "json_encode", "jsonb_extras", "jsonb_replace"]

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)

EXTRAS_ATTR = "__djogi_extras__"


_ID_TYPES = (HeerId, HeerIdDesc, RanjId, RanjIdDesc)


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, _ID_TYPES):
        return str(obj)
    raise NotImplementedError(f"cannot encode {type(obj).__name__} as JSON")


def _dec_hook(tp: type, obj: Any) -> Any:
    if tp not in _ID_TYPES:
        raise NotImplementedError(f"cannot decode {tp!r} from JSON")
    try:
        if tp in (HeerId, HeerIdDesc):
            if isinstance(obj, bool) or not isinstance(obj, str | int):
                raise ValueError(f"expected a string or an integer, got {type(obj).__name__}")
            return tp(int(obj))
        return tp.from_str(str(uuid.UUID(str(obj))))
    except (ValueError, OverflowError) as exc:
        raise msgspec.ValidationError(f"invalid {tp.__name__}: {exc}") from None


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook, decimal_format="number")


def _json_number(text: str) -> float | decimal.Decimal:
    """A JSON number with a fraction or exponent: the float when it writes back as the same number, else the
    exact ``Decimal`` (so reading a document and writing it again changes no number)."""
    number = float(text)
    if math.isfinite(number) and decimal.Decimal(repr(number)) == decimal.Decimal(text):
        return number
    return decimal.Decimal(text)


_document_decoder = msgspec.json.Decoder(float_hook=_json_number)


def decode_document(data: bytes | bytearray | memoryview | str) -> Any:
    """Decode a stored JSON document without losing a number: floats unless a number has more digits
    than a float holds (then a ``Decimal``, written back as a JSON number). Raises ``msgspec.DecodeError``."""
    return _document_decoder.decode(data)


def json_encode(obj: object) -> bytes:
    """Encode ``obj`` as JSON bytes (a HeerId key is a number, a RanjId its UUID string, as with
    ``msgspec.json.encode``; ``heeranjid`` objects are written as strings).

    A decoded ``Jsonb`` value passed directly gets its unknown keys written back (values nested in
    other containers are encoded with their declared fields only). Raises ``TypeError`` for a value
    msgspec cannot encode.
    """
    if type(obj) in _EXTRA_CARRIERS:
        return _encode_with_extras(obj)  # type: ignore[arg-type]
    return _encoder.encode(obj)


def _encode_with_extras(obj: msgspec.Struct) -> bytes:
    body = _encoder.encode(obj)
    extras: dict[str, Any] | None = obj.__dict__.get(EXTRAS_ATTR)
    if not extras:
        return body
    tail = _encoder.encode(extras)
    return body[:-1] + (b"," if len(body) > 2 else b"") + tail[1:]


def json_decode(data: bytes | str, type: type[T]) -> T:
    """Decode JSON into ``type``: key fields take what ``json_encode`` writes (a HeerId number, a RanjId
    UUID string); fields typed with the ``heeranjid`` classes also accept a HeerId's decimal string.

    Raises ``msgspec.ValidationError`` / ``msgspec.DecodeError`` for JSON that does not fit ``type``.
    """
    target: Any = type
    decoded: T = _decoder(target).decode(data)
    return decoded


@functools.cache
def _decoder(tp: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(tp, dec_hook=_dec_hook)


# ---------------------------------------------------------------------------------------------- Jsonb[T]

_EXTRA_CARRIERS: set[type] = set()


@functools.cache
def _carrier(tp: type[S]) -> type[S]:
    """The private subclass of ``tp`` whose instances may hold unknown keys (cached per ``tp``)."""
    config = tp.__struct_config__
    base_eq = tp.__eq__
    names = tuple(f.name for f in msgspec.structs.fields(tp))

    def __eq__(self: S, other: object) -> bool:
        if type(other) is tp or type(other) is sub:
            return bool(msgspec.structs.astuple(self) == msgspec.structs.astuple(other))
        return base_eq(self, other)

    def __hash__(self: S) -> int:  # the hash of the plain ``tp`` value (msgspec's hash includes the type)
        return hash(tp(**{name: getattr(self, name) for name in names}))

    namespace: dict[str, Any] = {
        "__eq__": __eq__,
        "__hash__": __hash__ if tp.__hash__ is not None else None,
        "__module__": tp.__module__,
        "__qualname__": tp.__qualname__,
    }
    kwargs: dict[str, Any] = {"dict": True}
    if config.tag is not None:
        kwargs.update(tag=config.tag, tag_field=config.tag_field)
    meta: Any = type(tp)
    sub: type[S] = meta(tp.__name__, (tp,), namespace, **kwargs)
    _EXTRA_CARRIERS.add(sub)
    return sub


@functools.cache
def _keeps_extras(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct) and not tp.__struct_config__.array_like


@functools.cache
def _known_keys(tp: type) -> frozenset[str]:
    keys = {f.encode_name for f in msgspec.structs.fields(tp)}
    tag_field = tp.__struct_config__.tag_field  # type: ignore[attr-defined]
    if tag_field is not None:
        keys.add(tag_field)
    return frozenset(keys)


def decode_jsonb(value: object, tp: type[T], where: str) -> T:
    """Turn a loaded JSONB document (a dict, or raw JSON bytes/str) into ``tp``.

    When ``tp`` is a Struct decoded from an object, keys it does not declare are kept (see the module
    docstring). Raises ``DecodeError`` naming ``where`` when the document does not fit ``tp``.
    """
    target: Any = tp
    try:
        if isinstance(value, bytes | bytearray | memoryview | str):
            value = decode_document(value)
        if not (isinstance(value, dict) and _keeps_extras(target)):
            return msgspec.convert(value, tp, dec_hook=_dec_hook)
        known = _known_keys(target)
        extras = {k: v for k, v in value.items() if k not in known}
        if not extras:
            return msgspec.convert(value, tp, dec_hook=_dec_hook)
        result = msgspec.convert(value, _carrier(target), dec_hook=_dec_hook)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise DecodeError(f"{where}: JSONB value does not fit {getattr(tp, '__name__', tp)}: {exc}") from None
    result.__dict__[EXTRAS_ATTR] = extras
    return result  # type: ignore[no-any-return]


def jsonb_extras(value: msgspec.Struct) -> Mapping[str, Any]:
    """The unknown keys a decoded ``Jsonb`` value carries (empty for a value built in Python)."""
    extras: Mapping[str, Any] = getattr(value, "__dict__", {}).get(EXTRAS_ATTR, {})
    return extras


def jsonb_replace(value: S, **changes: Any) -> S:
    """``msgspec.structs.replace`` that keeps the unknown keys of a decoded ``Jsonb`` value.

    Raises ``TypeError`` for a field ``value`` does not have.
    """
    result = msgspec.structs.replace(value, **changes)
    extras = jsonb_extras(value)
    if extras:
        result.__dict__[EXTRAS_ATTR] = dict(extras)
    return result
