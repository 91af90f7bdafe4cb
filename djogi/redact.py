"""Keep database passwords and protected values out of everything djogi prints, logs or raises.

``redact`` replaces the password of every ``scheme://user:password@host`` URL and every ``password=``
value (URL query or keyword/value conninfo) in a text with ``***``; given the conninfo a message is
about, it also replaces that conninfo's password wherever it appears verbatim. ``Hidden`` text and ``conceal_repr``
keep protected field values (``djogi.protect``) out of parameters and ``repr``s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from psycopg import ProgrammingError
from psycopg.conninfo import conninfo_to_dict

MASK: Final = "***"
# Userinfo runs from "://" to the last "@" before the path: a password may hold ":" and "@".
_URL_PASSWORD: Final = re.compile(r"(?<=://)([^/?#:@\s]*):[^/?#\s]*@")
_KEYWORD_PASSWORD: Final = re.compile(r"(?<=password=)(?:'(?:[^'\\]|\\.)*'|[^&#\s]*)")


def password_of(conninfo: str) -> str | None:
    """The password a URL or keyword/value conninfo carries, or None (none, or not parseable)."""
    try:
        password = conninfo_to_dict(conninfo).get("password")
    except ProgrammingError:
        return None
    return str(password) if password else None


def redact(text: str, conninfo: str | None = None) -> str:
    """``text`` with every URL or keyword password, and ``conninfo``'s password, replaced by ``***``."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
    text = _KEYWORD_PASSWORD.sub(MASK, text)
    password = password_of(conninfo) if conninfo is not None else None
    return text.replace(password, MASK) if password else text


class Hidden(str):
    """Text that must not be printed (a protected field's value, a key's pad): its ``repr`` is ``'***'``, so
    statement parameters logged or shown by ``repr`` hide it; psycopg still sends the text."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"'{MASK}'"


def conceal_repr(cls: type, hidden: frozenset[str]) -> None:
    """Make the ``repr`` (and rich's pretty-printing) of Struct class ``cls`` show ``***`` for the fields
    ``hidden``; nothing changes when there are none."""
    if not hidden:
        return
    names: tuple[str, ...] = tuple(getattr(cls, "__struct_fields__", ()))

    def shown(self: object) -> Iterator[tuple[str, object]]:
        for name in names:
            yield name, _Masked() if name in hidden else getattr(self, name)

    def __repr__(self: object) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={v!r}' for n, v in shown(self))})"

    type.__setattr__(cls, "__repr__", __repr__)
    type.__setattr__(cls, "__rich_repr__", shown)


class _Masked:
    """Stands for a hidden value in a ``repr``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return MASK
