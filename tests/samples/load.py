"""Load the public sample databases (trimmed, see each ``tests/samples/<name>/SOURCE.md``) into a fresh database.

The data files are not committed to this repository (fetched material stays out of developers' commits):
they are read from ``$DJOGI_SAMPLES`` or, by default, ``shared/samples/`` beside the checkout, laid out as
``<name>/<file>``; ``trim.py`` rebuilds them from the originals. Tests skip when they are absent.

Each sample's files run in order, unmodified, as ``psql -f`` would run them, with two minimal stand-ins
for psql:

- ``COPY ... FROM stdin;`` followed by data lines up to ``\\.``: the lines are sent through COPY as they are.
- ``\\c``/``\\connect`` (chinook's script creates its own database, then connects to it): everything before
  it (``DROP DATABASE IF EXISTS ...; CREATE DATABASE ...;``) is skipped, the database at ``url`` stands
  in for the one created. Any other psql meta-command raises ``ValueError``.

Every other stretch of SQL between these runs as one simple-protocol query (one implicit transaction), so
statements run in order and the first error stops the load (psql would go on after an error).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psycopg

HERE = Path(__file__).parent
DATA = Path(os.environ.get("DJOGI_SAMPLES") or HERE.parents[2] / "shared" / "samples")

SAMPLES: dict[str, tuple[str, ...]] = {
    "pagila": ("pagila/pagila-schema.sql", "pagila/pagila-data.sql"),
    "chinook": ("chinook/Chinook_PostgreSql_AutoIncrementPKs.sql",),
    "northwind": ("northwind/northwind.sql",),
}


@dataclass(frozen=True)
class Copy:
    """A ``COPY ... FROM stdin;`` line and its data lines (each ending in a newline, without ``\\.``)."""

    statement: str
    data: str


@dataclass(frozen=True)
class Meta:
    """A psql meta-command line, such as ``\\c chinook;``."""

    line: str


Part = str | Copy | Meta


def split_script(text: str) -> list[Part]:
    """Split a psql script into SQL text, COPY blocks and meta-command lines, losslessly.

    ``render(split_script(text)) == text`` for any text ending in a newline.
    """
    parts: list[Part] = []
    sql: list[str] = []
    lines = iter(text.splitlines(keepends=True))
    for line in lines:
        if line.startswith("COPY ") and line.rstrip().endswith("FROM stdin;"):
            data = "".join(iter(lines.__next__, "\\.\n"))
            parts.extend(["".join(sql), Copy(line, data)])
            sql = []
        elif line.startswith("\\"):
            parts.extend(["".join(sql), Meta(line)])
            sql = []
        else:
            sql.append(line)
    parts.append("".join(sql))
    return [p for p in parts if p != ""]


def render(parts: list[Part]) -> str:
    """The script text of ``parts`` (the inverse of ``split_script``)."""
    return "".join(_text(p) for p in parts)


def _text(part: Part) -> str:
    if isinstance(part, Copy):
        return part.statement + part.data + "\\.\n"
    return part.line if isinstance(part, Meta) else part


def run_script(conn: psycopg.Connection[tuple[object, ...]], text: str) -> None:
    """Run a psql script on ``conn`` (autocommit) as described in the module docstring."""
    parts = split_script(text)
    metas = [(i, part) for i, part in enumerate(parts) if isinstance(part, Meta)]
    for _, meta in metas:
        if meta.line.split()[0] not in ("\\c", "\\connect"):
            raise ValueError(f"unsupported psql meta-command: {meta.line.strip()}")
    for part in parts[metas[-1][0] + 1 if metas else 0:]:
        if isinstance(part, Copy):
            with conn.cursor().copy(part.statement.encode()) as copy:
                copy.write(part.data.encode())
        elif isinstance(part, str) and part.strip():
            conn.execute(part.encode())


def available(name: str) -> bool:
    """Whether every data file of sample ``name`` is present under ``DATA``."""
    return all((DATA / path).is_file() for path in SAMPLES[name])


def load_sample(name: str, url: str) -> None:
    """Load sample ``name`` (a key of ``SAMPLES``) into the existing, empty database at ``url``."""
    with psycopg.connect(url, autocommit=True) as conn:
        for path in SAMPLES[name]:
            run_script(conn, (DATA / path).read_text(encoding="utf-8"))
