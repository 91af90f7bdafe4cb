"""The keyed hash a ``hash_id`` redaction shows: HMAC-SHA256 of the value's text, as 64 lowercase hex digits.

The key is ``DJOGI_PRESENTATION_HMAC_KEY`` (64 lowercase hex digits, 32 bytes), read when a hash is made.
The same hash is computed in memory (``hash_id``) and by PostgreSQL (``hash_id_sql``, from its built-in
``sha256``: ``encode(sha256(k_o || sha256(k_i || convert_to(col::text, 'UTF8'))), 'hex')`` with the key's
inner and outer pads as parameters, whose ``repr`` never shows them), so a visage query never sends the value
out of the database.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from typing import Any, Final

from djogi.algebra.conditional import case
from djogi.algebra.expr import Expr, Param, ValueType, cast, func
from djogi.errors import VisageError
from djogi.redact import Hidden

__all__ = ["KEY_ENV", "hash_id", "hash_id_sql", "presentation_key"]

KEY_ENV: Final = "DJOGI_PRESENTATION_HMAC_KEY"
_HEX_KEY: Final = re.compile(r"[0-9a-f]{64}")
_BLOCK: Final = 64
_TEXT: Final = ValueType("str", "text")


def presentation_key() -> bytes:
    """The HMAC key; ``VisageError`` when ``DJOGI_PRESENTATION_HMAC_KEY`` is unset or not 64 lowercase hex."""
    text = os.environ.get(KEY_ENV, "")
    if _HEX_KEY.fullmatch(text) is None:
        raise VisageError(f"{KEY_ENV} must hold 64 lowercase hex digits (32 bytes) to show hash_id fields; "
                          "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'")  # fmt: skip
    return bytes.fromhex(text)


def _text(value: Any) -> str:
    """A key's text as PostgreSQL's ``::text`` prints its stored value (a HeerId's BIGINT, a RanjId's UUID)."""
    for stored in ("as_int", "to_uuid"):
        method = getattr(value, stored, None)
        if method is not None:
            return str(method())
    return str(value)


def hash_id(value: Any) -> str:
    """HMAC-SHA256 of ``value``'s stored text under the presentation key, in lowercase hex."""
    return hmac.new(presentation_key(), _text(value).encode(), hashlib.sha256).hexdigest()


def _pad(key: bytes, byte: int) -> Param[str]:
    padded = key.ljust(_BLOCK, b"\x00")
    return Param(Hidden(bytes(b ^ byte for b in padded).hex()), _TEXT)


def _sha256_hex(prefix: Param[str], message_hex: Expr[Any]) -> Expr[Any]:
    digest = func("sha256", func("decode", prefix.concat(message_hex), "hex", returns="bytea"), returns="bytea")
    return func("encode", digest, "hex", returns="text")


def hash_id_sql(column: Expr[Any], nullable: bool) -> Expr[Any]:
    """``hash_id`` of ``column`` computed by PostgreSQL (NULL stays NULL)."""
    key = presentation_key()
    message = func("encode", func("convert_to", cast(column, "text"), "UTF8", returns="bytea"), "hex", returns="text")
    digest = _sha256_hex(_pad(key, 0x5C), _sha256_hex(_pad(key, 0x36), message))
    return case(column != None, digest) if nullable else digest  # noqa: E711  (IS NOT NULL)
