"""Encryption at rest of ``protect(..., encrypt=True)`` fields: AES-256-GCM (``cryptography``), one key ring.

The key ring is ``DJOGI_KEYRING``: comma-separated ``<id>:<64 lowercase hex digits>`` entries (key ids 0..255,
increasing; ``1:…,2:…``). New values are written under the newest (last) key; a stored value names the key
it was written under, so rotating is appending a key: old rows stay readable, new writes use the new key.
Removing a key makes the rows written under it unreadable (``EncryptedFieldError``).

A stored value (``BYTEA``) is ``0x01 | key id (1 byte) | nonce (12 random bytes) | ciphertext | tag (16
bytes)``: 29 bytes more than the UTF-8 text. Each (model, field) encrypts under its own key derived with
HKDF-SHA256 from the ring's key, and authenticates ``model\\x00field`` as associated data, so a value copied
into another field or model does not decrypt. The nonce is random, so equal texts have different
ciphertexts: the database can store an encrypted column but cannot compare, sort or index it.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Final

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from djogi.errors import EncryptedFieldError, KeyRingError

__all__ = ["FORMAT_VERSION", "KEYRING_ENV", "OVERHEAD", "KeyRing", "decrypt", "encrypt", "keyring", "parse_keyring"]

KEYRING_ENV: Final = "DJOGI_KEYRING"
FORMAT_VERSION: Final = 1
_NONCE: Final = 12
_TAG: Final = 16
_HEADER: Final = 2 + _NONCE
OVERHEAD: Final = _HEADER + _TAG
"""Bytes a stored value has beyond its UTF-8 text."""
_ENTRY: Final = re.compile(r"(\d{1,3}):([0-9a-f]{64})")


class KeyRing(msgspec.Struct, frozen=True):
    """The keys by id, oldest first; ``active`` (the newest) encrypts. Its ``repr`` names the ids only."""

    keys: tuple[tuple[int, bytes], ...]

    @property
    def active(self) -> tuple[int, bytes]:
        """The id and key new values are written under."""
        return self.keys[-1]

    def key(self, key_id: int) -> bytes | None:
        """The key called ``key_id``, or None when the ring no longer holds it."""
        return next((k for i, k in self.keys if i == key_id), None)

    def __repr__(self) -> str:
        return f"KeyRing(ids={[i for i, _ in self.keys]})"


@functools.lru_cache(maxsize=8)
def parse_keyring(text: str) -> KeyRing:
    """The ring ``text`` describes. ``KeyRingError`` for an empty ring, a malformed entry (named by its
    position, never its key), an id above 255 or ids that do not increase."""
    entries = [e.strip() for e in text.split(",") if e.strip()]
    if not entries:
        raise KeyRingError(f"{KEYRING_ENV} is empty: set it to '1:<64 hex digits>' (python -c 'import secrets; "
                           "print(secrets.token_hex(32))' makes a key) to write or read encrypted fields")  # fmt: skip
    keys: list[tuple[int, bytes]] = []
    for position, entry in enumerate(entries, 1):
        found = _ENTRY.fullmatch(entry)
        if found is None:
            raise KeyRingError(f"{KEYRING_ENV}: entry {position} is not '<id>:<64 lowercase hex digits>'")
        key_id = int(found.group(1))
        if key_id > 255:
            raise KeyRingError(f"{KEYRING_ENV}: entry {position}: key id {key_id} is above 255")
        if keys and key_id <= keys[-1][0]:
            raise KeyRingError(f"{KEYRING_ENV}: entry {position}: key ids increase (the newest key comes last); "
                               f"{key_id} follows {keys[-1][0]}")  # fmt: skip
        keys.append((key_id, bytes.fromhex(found.group(2))))
    return KeyRing(tuple(keys))


def keyring() -> KeyRing:
    """The ring ``DJOGI_KEYRING`` describes now (parsed once per distinct value); ``KeyRingError`` if none."""
    return parse_keyring(os.environ.get(KEYRING_ENV, ""))


@functools.lru_cache(maxsize=256)
def _cipher(key: bytes, model: str, field: str) -> AESGCM:
    info = b"djogi aes256-gcm v1\x00" + model.encode() + b"\x00" + field.encode()
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key))


def _aad(model: str, field: str) -> bytes:
    return model.encode() + b"\x00" + field.encode()


def encrypt(text: str, model: str, field: str) -> bytes:
    """``text`` sealed for ``model.field`` under the ring's newest key (``KeyRingError`` without a ring)."""
    key_id, key = keyring().active
    nonce = os.urandom(_NONCE)
    sealed = _cipher(key, model, field).encrypt(nonce, text.encode(), _aad(model, field))
    return bytes((FORMAT_VERSION, key_id)) + nonce + sealed


def decrypt(stored: bytes, model: str, field: str) -> str:
    """The text sealed in ``stored`` for ``model.field``. ``EncryptedFieldError`` naming the field and the
    cause (never the value): unknown format, a key the ring no longer holds, a truncated value, or a tag
    that does not match (altered, or sealed for another field); ``KeyRingError`` without a ring."""
    where = f"{model}.{field}"
    data = bytes(stored)
    if len(data) < OVERHEAD:
        raise EncryptedFieldError(f"{where}: the stored value has {len(data)} bytes, fewer than an encrypted "
                                  f"value's {OVERHEAD}: it was not written by djogi's encryption")  # fmt: skip
    if data[0] != FORMAT_VERSION:
        raise EncryptedFieldError(f"{where}: unknown encryption format {data[0]} (this djogi reads format "
                                  f"{FORMAT_VERSION})")  # fmt: skip
    key = keyring().key(data[1])
    if key is None:
        raise EncryptedFieldError(
            f"{where}: the value was encrypted under key id {data[1]}, which {KEYRING_ENV} no longer holds; add "
            "that key back to the ring (old keys stay for reading)"
        )
    try:
        plain = _cipher(key, model, field).decrypt(data[2:_HEADER], data[_HEADER:], _aad(model, field))
    except InvalidTag:
        raise EncryptedFieldError(
            f"{where}: the stored value does not authenticate: it was altered, or encrypted for another field "
            "or with another key of the same id"
        ) from None
    return plain.decode()
