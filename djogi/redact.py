"""Keep database passwords and protected values out of everything djogi prints, logs or raises.

``redact`` replaces the password of every ``scheme://user:password@host`` URL and every ``password=``
value (URL query or keyword/value conninfo) in a text with ``***``; given the conninfo a message is
about, it also replaces that conninfo's password wherever it appears verbatim. ``Hidden`` text and ``conceal_repr``
keep protected field values (``djogi.protect``) out of parameters and ``repr``s.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Final

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


def hidden(value: object) -> object:
    """``value`` for a statement's parameters, never shown: text as ``Hidden``; an int, float, Decimal,
    bytes, UUID, date, time, datetime or timedelta as the same value of a subclass of its type whose ``repr``
    is ``'***'`` (psycopg adapts a subclass as its base type, so what is sent is unchanged). A value of any
    other type (bool, which cannot be subclassed, arrays, JSON) is returned as it is."""
    if isinstance(value, str):
        return Hidden(value)
    make = _HIDING.get(type(value))
    return value if make is None else make(value)


def _masked_type(base: type) -> Any:
    return type(f"Hidden{base.__name__.capitalize()}", (base,), {"__slots__": (), "__repr__": Hidden.__repr__})


def _hiding() -> dict[type, Callable[[Any], object]]:
    """For each type ``hidden`` masks, the function building the masked copy of a value."""
    out: dict[type, Callable[[Any], object]] = {t: _masked_type(t) for t in (int, float, decimal.Decimal, bytes)}
    masked_uuid = _masked_type(uuid.UUID)
    out[uuid.UUID] = lambda v: masked_uuid(int=v.int)
    masked_date, masked_datetime = _masked_type(dt.date), _masked_type(dt.datetime)
    masked_time, masked_delta = _masked_type(dt.time), _masked_type(dt.timedelta)
    out[dt.date] = lambda v: masked_date(v.year, v.month, v.day)
    out[dt.datetime] = lambda v: masked_datetime.combine(v.date(), v.timetz(), v.tzinfo)
    out[dt.time] = lambda v: masked_time(v.hour, v.minute, v.second, v.microsecond, v.tzinfo, fold=v.fold)
    out[dt.timedelta] = lambda v: masked_delta(v.days, v.seconds, v.microseconds)
    return out


_HIDING = _hiding()


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
