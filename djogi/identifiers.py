"""SQL identifier rules: validation, quoting and deterministic constraint/index names (pure)."""

from __future__ import annotations

import hashlib
import re

MAX_IDENTIFIER_BYTES = 63
RESERVED_PREFIX = "__djogi_"

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# PostgreSQL's fully reserved key words (appendix C, "reserved" in PostgreSQL 18), lower case.
RESERVED_WORDS = frozenset(
    """
    all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate
    collation column concurrently constraint create cross current_catalog current_date current_role
    current_schema current_time current_timestamp current_user default deferrable desc distinct do else end
    except false fetch for foreign freeze from full grant group having ilike in initially inner intersect
    into is isnull join lateral leading left like limit localtime localtimestamp natural not notnull null
    offset on only or order outer overlaps placing primary references returning right select session_user
    similar some symmetric system_user table tablesample then to trailing true union unique user using
    variadic verbose when where window with
    """.split()
)


def identifier_problem(name: object) -> str | None:
    """Return why ``name`` is not a usable plain identifier (a str of ASCII letters, digits and underscores,
    not a reserved word), or None when it is."""
    if not isinstance(name, str):
        return f"must be a str, not {type(name).__name__}"
    if not _PLAIN.match(name):
        return "must be ASCII letters, digits and underscores, not starting with a digit"
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        return f"is {len(name.encode())} bytes; PostgreSQL identifiers are at most {MAX_IDENTIFIER_BYTES}"
    if name.lower() in RESERVED_WORDS:
        return "is a reserved SQL key word"
    if name.startswith(RESERVED_PREFIX):
        return f"uses the prefix {RESERVED_PREFIX!r}, which djogi reserves for its own aliases"
    return None


def check_identifier(name: str, what: str) -> str:
    """Return ``name`` when it is a valid identifier; raise ``ValueError`` naming ``what`` otherwise."""
    problem = identifier_problem(name)
    if problem is not None:
        raise ValueError(f"{what} {name!r} {problem}")
    return name


def quote_ident(name: str) -> str:
    """Double-quote an identifier for SQL (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def fit_name(name: str) -> str:
    """Shorten a generated name to 63 bytes: a 54-byte prefix, ``_`` and 8 hex digits of its sha256."""
    if len(name.encode()) <= MAX_IDENTIFIER_BYTES:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name.encode()[:54].decode(errors='ignore')}_{digest}"


def derived_name(table: str, columns: tuple[str, ...] | list[str], suffix: str) -> str:
    """The conventional name of a constraint or index: ``<table>_<col>[_<col>...]_<suffix>``, fitted."""
    return fit_name("_".join([table, *columns, suffix]))
