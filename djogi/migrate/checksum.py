"""Byte-exact helpers shared with the Rust djogi: checksums, versions, slugs, lock keys, file parsing (pure).

- ``compute_checksum(fragments)``: ``"V1:" + sha256("\\n".join(fragments))``.
- ``file_checksums(up_text, down_text)``: the checksums recomputed from composed ``.sdjql`` files (header,
  labels and ``-- LOSSY:`` lines excluded; down fragments back in plan order; ``None`` for a comment-only
  down); a file without the composed framing is hashed whole.
- ``advisory_lock_key(database, app)``: the per-bucket ``bigint`` key (big-endian sha256 prefix).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from pglast.parser import ParseError, scan

from djogi.errors import ValidationError

UP_BANNER = "-- Djogi composed migration — up"
DOWN_BANNER = "-- Djogi composed migration — down"
LOSSY_PREFIX = "-- LOSSY"
PHASE_ZERO_VERSION = "V00000000000000__phase_zero_bootstrap"
GLOBAL_DIR = "_global_"

_CHECKSUM = re.compile(r"V1:[0-9a-f]{64}")
_VERSION = re.compile(r"V\d{14}__[a-z0-9_]+")


def compute_checksum(fragments: list[str] | tuple[str, ...]) -> str:
    """``V1:`` + lowercase sha256 of the fragments joined by a single newline."""
    return "V1:" + hashlib.sha256("\n".join(fragments).encode()).hexdigest()


def is_checksum(value: str) -> bool:
    """True for a well-formed ``V1:<64 lowercase hex>`` checksum."""
    return _CHECKSUM.fullmatch(value) is not None


def down_checksum(fragments: list[str] | tuple[str, ...]) -> str | None:
    """The down checksum: ``None`` when every fragment is a ``--`` placeholder."""
    if all(f.lstrip().startswith("--") for f in fragments):
        return None
    return compute_checksum(fragments)


def advisory_lock_key(database: str, app: str) -> int:
    """The bucket's advisory-lock key (``app`` is the ledger label, ``""`` for the global bucket)."""
    digest = hashlib.sha256(b"djogi:advisory_lock:" + database.encode() + b"\x00" + app.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def sanitize_slug(name: str) -> str:
    """The reference slug rules: lowercase ``[a-z0-9_]``, runs of ``_`` collapsed, at most 63 chars."""
    text = re.sub(r"[ \t\n\r.\-]", "_", name.lower())
    text = re.sub(r"[^a-z0-9_]", "", text)
    text = re.sub(r"_+", "_", text).strip("_") or "migration"
    if text[0].isdigit():
        text = "m_" + text
    return text[:63].rstrip("_")


def version_for(now: dt.datetime, slug: str) -> str:
    """``V<UTC yyyymmddHHMMSS>__<slug>``."""
    return f"V{now.astimezone(dt.UTC):%Y%m%d%H%M%S}__{sanitize_slug(slug)}"


def is_version(value: str) -> bool:
    """True for a migration version string."""
    return value == PHASE_ZERO_VERSION or _VERSION.fullmatch(value) is not None


_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")
# A string constant holding one of these would break the file framing (blank lines delimit fragments,
# ``-- LOSSY`` lines are notes, files are read with universal newlines): it is re-quoted as E'...'.
_UNSAFE_IN_FILE = re.compile(r"\r|\n[ \t]*\n|\n" + re.escape(LOSSY_PREFIX))


_E_BREAK = re.compile(r"\\[\s\S]|[\r\n]")
_BREAK_ESCAPES = {"\n": "\\n", "\r": "\\r"}


def _escape_string(token: str) -> str:
    """``token`` (a string constant) as an ``E'...'`` constant with the same value and no line break."""
    if token[0] in "eE":  # already escapes: write a raw (or backslash-escaped) line break as its escape
        return _E_BREAK.sub(lambda m: _BREAK_ESCAPES.get(m[0][-1], m[0]), token)
    if token[0] == "$":
        tag = token[: token.index("$", 1) + 1]
        value = token[len(tag) : -len(tag)]
    else:
        value = token[1:-1].replace("''", "'")
    escaped = value.replace("\\", "\\\\").replace("'", "''").replace("\r", "\\r").replace("\n", "\\n")
    return f"E'{escaped}'"


def tidy(sql: str) -> str:
    """A fragment as written to files: trimmed, without blank lines or carriage returns between tokens
    (blank lines delimit fragments); string constants keep their value exactly, one that holds a line
    break the files cannot carry is re-quoted as ``E'...'``. Tokens come from PostgreSQL's own scanner
    (pglast). Raises ValidationError when ``sql`` does not scan (an unterminated quote), or when another
    token (a quoted identifier) holds such a line break."""
    try:
        tokens = scan(sql)
    except ParseError as exc:
        raise ValidationError(f"SQL does not scan ({exc}): {sql!r}") from exc
    out: list[str] = []
    pos = 0
    for tok in tokens:
        out.append(sql[pos : tok.start])
        text = sql[tok.start : tok.end + 1]
        if tok.name == "SCONST" and _UNSAFE_IN_FILE.search(text):
            text = _escape_string(text)
        elif tok.name in ("SQL_COMMENT", "C_COMMENT"):
            text = _BLANK_LINES.sub("\n", text.replace("\r", ""))
        elif _UNSAFE_IN_FILE.search(text):
            raise ValidationError(f"{text!r} holds a line break a migration file cannot carry; only string "
                                  f"constants can be re-quoted: {sql!r}")  # fmt: skip
        out.append(text)
        pos = tok.end + 1
    out.append(sql[pos:])
    gaps = [_BLANK_LINES.sub("\n", part.replace("\r", "")) if i % 2 == 0 else part for i, part in enumerate(out)]
    return "".join(gaps).strip()


def one_line(text: str) -> str:
    """``text`` for a ``--`` comment line of a file: line breaks shown as ``\\n`` / ``\\r``."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def parse_fragments(text: str) -> list[tuple[str, str]] | None:
    """``(label, sql)`` per operation block of a composed file, or None without the composed framing."""
    if not (text.startswith(UP_BANNER) or text.startswith(DOWN_BANNER)):
        return None
    blocks = [b for b in text.split("\n\n")[1:] if b.strip()]
    out = []
    for block in blocks:
        first, _, rest = block.partition("\n")
        if not first.startswith("-- "):
            return None
        body = "\n".join(line for line in rest.split("\n") if not line.startswith(LOSSY_PREFIX))
        out.append((first[3:], body.strip("\n")))
    return out


def file_checksums(up_text: str, down_text: str | None) -> tuple[str, str | None]:
    """``(checksum_up, checksum_down)`` recomputed from the files' text."""
    up = parse_fragments(up_text)
    up_sum = compute_checksum([sql for _, sql in up]) if up is not None else compute_checksum([up_text])
    if down_text is None:
        return up_sum, None
    down = parse_fragments(down_text)
    if down is None:
        return up_sum, down_checksum([down_text])
    return up_sum, down_checksum([sql for _, sql in reversed(down)])
