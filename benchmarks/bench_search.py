"""Search benchmark: a full-text query and a k-nearest-neighbour vector query, djogi against the same SQL
through raw psycopg, side by side.

Run with ``python -m benchmarks.bench_search [--rows N]`` (``make bench`` runs it after the peer workloads).
It uses ``DJOGI_DATABASE_URL`` or the benchmark's embedded server. Each workload runs ``QUERIES`` searches
with distinct arguments; djogi builds the query value each time (compile cache hit), runs it and decodes
the rows, raw psycopg runs the SQL djogi compiled (a raw cursor, binary results, prepared, tuples). "djogi
prepared" runs the same query compiled once (``db.prepare`` with ``param("term", "text")`` or
``param("probe", "vector")``): each run checks its value, sends, decodes. The sides take turns query by
query (``harness.interleaved``: after an untimed pass, every side runs search ``i`` before any runs search
``i + 1``) and the median of the single queries is reported (target: at most 1.05x).

- full text: ``WHERE words @@ websearch_to_tsquery(...)`` over a GIN index, the first 10 by id projecting
  ``(id, title)``, and the 10 best by ``ts_rank(...)`` projecting the rank too (the tsquery then appears
  three times, its values bound three times: a compile-cache hit, the repeated values kept as ties);
- kNN: ``ORDER BY embedding <-> $1 LIMIT 10`` over an HNSW index (32 dimensions), into model instances
  (raw psycopg reads the vectors with pgvector's loader).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import psycopg
from pgvector.psycopg import register_vector_async

from benchmarks.harness import Timing, interleaved
from benchmarks.report import load_average, standalone, write_page
from djogi import Field, Model, SqlType, TsVector, Vector, field, param
from djogi.algebra import select
from djogi.algebra.search import l2_distance, to_tsvector, ts_match, ts_rank, websearch_to_tsquery
from djogi.executor import Prepared, connect
from djogi.heer_sql import bootstrap_sql, installed_sql
from djogi.loop import loop_factory

RESULTS = Path(__file__).resolve().parent / "results"
ROWS = 20_000
QUERIES = 300
REPEAT = 5
DIMENSIONS = 32
VOCABULARY = [f"w{i:04d}" for i in range(3_000)]


class SearchDoc(Model, table="bench_search_docs"):
    title: Field[str]
    words: Field[TsVector | None] = field(default=None)


class SearchEmbedding(Model, table="bench_search_embeddings"):
    name: Field[str]
    embedding: Field[Annotated[Vector, SqlType(f"VECTOR({DIMENSIONS})")]]


_FRAMEWORK = (
    "id bigint PRIMARY KEY DEFAULT heerid_next_desc(), created_at timestamptz NOT NULL DEFAULT now(), "
    "updated_at timestamptz NOT NULL DEFAULT now()"
)
DDL = f"""
CREATE EXTENSION IF NOT EXISTS vector;
DROP TABLE IF EXISTS bench_search_docs, bench_search_embeddings;
CREATE UNLOGGED TABLE bench_search_docs ({_FRAMEWORK}, title text NOT NULL, words tsvector);
CREATE UNLOGGED TABLE bench_search_embeddings ({_FRAMEWORK}, name text NOT NULL, embedding vector({DIMENSIONS}) NOT NULL);
"""  # noqa: E501
INDEXES = """
CREATE INDEX bench_search_docs_words ON bench_search_docs USING gin (words);
CREATE INDEX bench_search_embeddings_hnsw ON bench_search_embeddings USING hnsw (embedding vector_l2_ops);
ANALYZE bench_search_docs, bench_search_embeddings;
"""


def _load(url: str, rows: int, rng: random.Random) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        if not (conn.execute(installed_sql()).fetchone() or (False,))[0]:
            conn.execute(bootstrap_sql(1).encode())
        conn.execute(f"ALTER DATABASE {conn.info.dbname} SET heer.node_id = '1'".encode())
        conn.execute(DDL.encode())
        conn.execute(b"SET heer.node_id = '1'")  # the database setting applies to new sessions
        with conn.cursor() as cur, cur.copy("COPY bench_search_docs (title) FROM STDIN") as copy:
            for _ in range(rows):
                copy.write_row((" ".join(rng.choices(VOCABULARY, k=30)),))
        with conn.cursor() as cur, cur.copy("COPY bench_search_embeddings (name, embedding) FROM STDIN") as copy:
            for i in range(rows):
                vec = "[" + ",".join(f"{rng.uniform(-1, 1):.4f}" for _ in range(DIMENSIONS)) + "]"
                copy.write_row((str(i), vec))


def full_text_query(term: object, ranked: bool) -> Any:
    """The full-text workload's query for one search ``term`` (or ``param("term", "text")``): the first 10
    matches by id, or (``ranked``) the 10 best by ``ts_rank``, projecting the rank too."""
    query = websearch_to_tsquery("simple", term)
    matches = select(SearchDoc).where(ts_match(SearchDoc.words, query))
    if not ranked:
        return matches.order_by(SearchDoc.id).limit(10).values(SearchDoc.id, SearchDoc.title)
    rank = ts_rank(SearchDoc.words, query)
    return matches.order_by(rank.desc()).limit(10).values(SearchDoc.id, SearchDoc.title, rank)


def knn_query(vector: object) -> Any:
    """The kNN workload's query for one probe ``vector`` (or ``param("probe", "vector")``)."""
    return select(SearchEmbedding).order_by(l2_distance(SearchEmbedding.embedding, vector).asc()).limit(10)


Side = Callable[[int], Awaitable[Sequence[object]]]
Results = list[tuple[str, dict[str, Timing]]]


def _raw_side(cur: psycopg.AsyncCursor[Any], sql: str, params: list[tuple[Any, ...]]) -> Side:
    """Raw psycopg's call ``i``: the SQL djogi compiled with the ``i``-th parameters, prepared, tuples."""

    async def call(i: int) -> Sequence[object]:
        await cur.execute(sql, params[i], prepare=True)
        return await cur.fetchall()

    return call


async def _compare(sides: dict[str, Side], repeat: int) -> dict[str, Timing]:
    """Check that every side finds the same number of rows for every call (and some rows in all), then time
    them ``interleaved``."""
    total = 0
    for i in range(QUERIES):
        found = {name: len(await side(i)) for name, side in sides.items()}
        assert len(set(found.values())) == 1, (i, found)
        total += found["raw"]
    assert total > 0, sides
    return await interleaved(sides, QUERIES, repeat)


async def _measure(url: str, terms: list[str], probes: list[Vector], repeat: int) -> Results:
    """Each workload's timings per side: ``djogi``, ``djogi prepared`` and ``raw``."""
    out: Results = []
    async with contextlib.AsyncExitStack() as stack:
        # Each side on a server backend of its own (as in ``bench_hot``): the prepared side has its own pool.
        db = await stack.enter_async_context(connect(url, min_size=1, max_size=1))
        db_prepared = await stack.enter_async_context(connect(url, min_size=1, max_size=1))
        raw = await psycopg.AsyncConnection.connect(url, autocommit=True, cursor_factory=psycopg.AsyncRawCursor)
        stack.push_async_callback(raw.close)
        await db.execute(select(SearchDoc).update(words=to_tsvector("simple", SearchDoc.title)))
        await raw.execute(INDEXES.encode())
        await db.reload_types()
        await db_prepared.reload_types()
        await register_vector_async(raw)
        cur = await stack.enter_async_context(raw.cursor(binary=True))
        for ranked, label in ((False, "match, first 10 by id"), (True, "match, top 10 by ts_rank")):
            prepared_text = db_prepared.prepare(full_text_query(param("term", "text"), ranked))
            text_sql = full_text_query(terms[0], ranked).sql().sql

            async def text(i: int, r: bool = ranked) -> Sequence[object]:
                return await db.values(full_text_query(terms[i], r))

            async def text_prepared(i: int, p: Prepared[Any] = prepared_text) -> Sequence[object]:
                return await p.all(term=terms[i])

            raw_text = _raw_side(cur, text_sql, [full_text_query(t, ranked).sql().params for t in terms])
            sides: dict[str, Side] = {"djogi": text, "djogi prepared": text_prepared, "raw": raw_text}
            out.append((f"full text: {label}", await _compare(sides, repeat)))
        prepared_knn = db_prepared.prepare(knn_query(param("probe", "vector")))

        async def knn(i: int) -> Sequence[object]:
            return await db.all(knn_query(probes[i]))

        async def knn_prepared(i: int) -> Sequence[object]:
            return await prepared_knn.all(probe=probes[i])

        knn_sql, knn_params = knn_query(probes[0]).sql().sql, [knn_query(v).sql().params for v in probes]
        sides = {"djogi": knn, "djogi prepared": knn_prepared, "raw": _raw_side(cur, knn_sql, knn_params)}
        out.append((f"kNN: HNSW, {DIMENSIONS} dims, top 10 into models", await _compare(sides, repeat)))
    return out


def run(url: str, rows: int, repeat: int, out: Path = RESULTS) -> str:
    """Load the tables and run the workloads against ``url``; the Markdown table (also ``out/search.md``)."""
    rng = random.Random(23)
    load_before = load_average()
    _load(url, rows, rng)
    terms = [f"{rng.choice(VOCABULARY)} {rng.choice(VOCABULARY)}" for _ in range(QUERIES)]
    probes = [Vector([rng.uniform(-1, 1) for _ in range(DIMENSIONS)]) for _ in range(QUERIES)]
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            results = runner.run(_measure(url, terms, probes, repeat))
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(b"DROP TABLE bench_search_docs, bench_search_embeddings")
    load_after = load_average()
    lines = ["| workload | side | µs per query (median) | middle half | ratio to raw psycopg | over raw, µs |",
             "|---|---|---:|---:|---:|---:|"]  # fmt: skip
    for label, timings in results:
        base = timings["raw"].median
        for side, t in timings.items():
            lines.append(f"| {label} | {side} | {t.median * 1e6:.0f} | {t.p25 * 1e6:.0f}–{t.p75 * 1e6:.0f} | "
                         f"{t.median / base:.2f}x | {(t.median - base) * 1e6:+.0f} |")  # fmt: skip
    text = (f"Search queries over {rows:,} rows, djogi against the same SQL through raw psycopg: {QUERIES} "
            f"distinct searches, each run by every side in turn ({repeat} rounds after an untimed one), the "
            f"median of the single queries. Load average {load_before} before, {load_after} after "
            f"({os.cpu_count()} cores).\n\n" + "\n".join(lines) + "\n")  # fmt: skip
    return write_page(out, "search.md", text)


def main() -> None:
    options = {"rows": (ROWS, "rows of each table"), "repeat": (REPEAT, "timed rounds of every search")}
    standalone(__doc__ or "", run, options)


if __name__ == "__main__":
    main()
