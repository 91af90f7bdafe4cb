"""Keep database passwords out of everything djogi prints, logs or raises.

``redact`` replaces the password of every ``scheme://user:password@host`` URL and every ``password=``
value (URL query or keyword/value conninfo) in a text with ``***``; given the conninfo a message is
about, it also replaces that conninfo's password wherever it appears verbatim.
"""

from __future__ import annotations

import re
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
