"""Search values through the real server: a random ``TsVector`` sent in binary comes back as PostgreSQL
stores it (lexemes in byte order, positions ascending) and prints as PostgreSQL's own text form says; a
random ``Vector`` comes back as its single-precision values.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from djogi import TsLexeme, TsVector, Vector
from djogi.codecs import configure_adapters
from djogi.codecs.values import normalize

EXAMPLES = int(os.environ.get("DJOGI_PROPERTY_EXAMPLES", "60"))

_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), min_size=1, max_size=12)
_positions = st.dictionaries(st.integers(1, 16383), st.sampled_from("ABCD"), max_size=5).map(
    lambda d: tuple(d.items())
)
_lexemes = st.lists(st.builds(TsLexeme, _text, _positions), max_size=6, unique_by=lambda x: x.text)
_vectors = st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=16)


@pytest.fixture
def conn(pg_sync: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    pg_sync.execute("CREATE EXTENSION IF NOT EXISTS vector")
    row = pg_sync.execute("SELECT 'vector'::regtype::oid").fetchone()
    assert row is not None
    configure_adapters(pg_sync.adapters, vector_oid=row[0])
    yield pg_sync


def _stored(value: TsVector) -> TsVector:
    """``value`` as PostgreSQL stores it: lexemes by their UTF-8 bytes, positions ascending."""
    lexemes = sorted(value.lexemes, key=lambda x: x.text.encode())
    return TsVector(tuple(TsLexeme(x.text, tuple(sorted(x.positions))) for x in lexemes))


def _quoted(lexeme: TsLexeme) -> str:
    text = "'" + lexeme.text.replace("\\", "\\\\").replace("'", "''") + "'"
    positions = ",".join(f"{p}{'' if w == 'D' else w}" for p, w in lexeme.positions)
    return text + (":" + positions if positions else "")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lexemes=_lexemes)
@example(lexemes=[TsLexeme("b"), TsLexeme("a:b", ((7, "B"), (1, "A"))), TsLexeme("é'\\", ((3, "D"),))])
def test_tsvector_round_trip(conn: psycopg.Connection[Any], lexemes: list[TsLexeme]) -> None:
    value = TsVector(tuple(lexemes))
    assert normalize("tsvector", value) is value
    with conn.cursor(binary=True) as cur:
        cur.execute("SELECT %b::tsvector, %b::tsvector::text", (value, value))
        row = cur.fetchone()
    assert row is not None
    back, text = row
    assert back == _stored(value)
    assert text == " ".join(_quoted(x) for x in back.lexemes)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(numbers=_vectors)
def test_vector_round_trip(conn: psycopg.Connection[Any], numbers: list[float]) -> None:
    value = normalize("vector", numbers)
    assert isinstance(value, Vector)
    assert value.to_list() == [struct.unpack("f", struct.pack("f", x))[0] for x in numbers]
    with conn.cursor(binary=True) as cur:
        cur.execute("SELECT %b::vector", (value,))
        row = cur.fetchone()
    assert row is not None and row[0] == value
