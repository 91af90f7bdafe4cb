"""``PasswordHash``: a column type holding an argon2id password hash in PHC format (``argon2-cffi``).

Declare ``password: PasswordHash`` on a model: the column is ``TEXT`` and holds the PHC string
(``$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>``). ``PasswordHash.hash(password)`` makes one with
argon2-cffi's default (RFC 9106 low-memory) parameters; ``verify(password)`` recomputes it (argon2-cffi
compares in constant time); ``needs_rehash`` says the parameters are older than today's defaults.

A ``PasswordHash`` is a ``str`` (so PostgreSQL stores the PHC text as it is), but it never shows its text:
``repr``, ``str`` and format specs print ``PasswordHash('***')``, so logs, tracebacks and the SQL log of
parameters do not carry it; ``phc`` is the text, for code that must have it. Writing a plain ``str`` to a
password column is refused (it would store a password unhashed).
"""

from __future__ import annotations

import re
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from djogi.errors import ValidationError

__all__ = ["PasswordHash"]

_HASHER: Final = PasswordHasher()
_PHC: Final = re.compile(r"\$[a-z0-9-]{1,32}(?:\$[A-Za-z0-9+/.=,-]*)+")
_SHOWN: Final = "PasswordHash('***')"


class PasswordHash(str):
    """An argon2id hash in PHC format. ``PasswordHash(text)`` takes a stored PHC string (ValidationError,
    which does not quote it, for anything else); ``PasswordHash.hash(password)`` hashes a password."""

    __slots__ = ()

    def __new__(cls, phc: str) -> PasswordHash:
        if not isinstance(phc, str) or _PHC.fullmatch(phc) is None:
            raise ValidationError("PasswordHash(...) takes a PHC string ($id$...$...); to hash a password, call "
                                  "PasswordHash.hash(password)")  # fmt: skip
        return super().__new__(cls, phc)

    @classmethod
    def hash(cls, password: str) -> PasswordHash:
        """The argon2id hash of ``password`` (a fresh random salt each call)."""
        if not isinstance(password, str):
            raise ValidationError(f"PasswordHash.hash() takes a str, not {type(password).__name__}")
        return cls(_HASHER.hash(password))

    def verify(self, password: str) -> bool:
        """Whether ``password`` is the one hashed (constant-time comparison); False for a mismatch and for a
        hash argon2 cannot read."""
        try:
            return _HASHER.verify(self.phc, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    @property
    def needs_rehash(self) -> bool:
        """True when the hash was made with other parameters than today's (hash the password again at the
        next successful login and store the new value)."""
        return _HASHER.check_needs_rehash(self.phc)

    @property
    def phc(self) -> str:
        """The PHC text, as a plain ``str``."""
        return str.__add__(self, "")

    def __repr__(self) -> str:
        return _SHOWN

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return _SHOWN

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PasswordHash) and self.phc == other.phc

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return str.__hash__(self)

    def __reduce__(self) -> tuple[type[PasswordHash], tuple[str]]:
        return PasswordHash, (self.phc,)
