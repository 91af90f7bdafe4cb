"""Search benchmark: a full-text query and a k-nearest-neighbour vector query, djogi against the same SQL
through raw psycopg, side by side.

Run with ``python -m benchmarks.bench_search [--rows N]`` (``make bench`` runs it after the peer workloads).
It uses ``DJOGI_DATABASE_URL`` or the benchmark's embedded server. Each workload runs ``QUERIES`` searches
with distinct arguments; djogi builds the query value each time (compile cache hit), runs it and decodes
the rows, raw psycopg runs the SQL djogi compiled (a raw cursor, binary results, prepared, tuples). "djogi
prepared" runs the same query compiled once (``db.prepare`` with ``param("term", "text")`` or
``param("probe", "vector")``): each run checks its value, sends, decodes. The sides alternate (after one
warm-up of each) and the medians are reported (target: at most 1.05x).

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
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import psycopg
from pgvector.psycopg import register_vector_async

from benchmarks.report import load_average, standalone, write_page
from djogi import Field, Model, SqlType, TsVector, Vector, field, param
from djogi.algebra import select
from djogi.algebra.search import l2_distance, to_tsvector, ts_match, ts_rank, websearch_to_tsquery
from djogi.executor import Database, Prepared, connect
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


async def _prepared_text(prepared: Prepared[Any], terms: list[str]) -> int:
    return sum([len(await prepared.all(term=t)) for t in terms])


async def _prepared_knn(prepared: Prepared[Any], probes: list[Vector]) -> int:
    return sum([len(await prepared.all(probe=v)) for v in probes])


def _alternate(sides: list[Callable[[], object]], repeat: int) -> list[float]:
    """Median seconds of each side, the sides run in turn ``repeat`` times after one warm-up of each."""
    for side in sides:
        side()
    times: list[list[float]] = [[] for _ in sides]
    for _ in range(repeat):
        for side, spent in zip(sides, times, strict=True):
            started = time.perf_counter()
            side()
            spent.append(time.perf_counter() - started)
    return [statistics.median(spent) for spent in times]


async def _djogi_text(db: Database, terms: list[str], ranked: bool) -> int:
    return sum([len(await db.values(full_text_query(t, ranked))) for t in terms])


async def _djogi_knn(db: Database, probes: list[Vector]) -> int:
    return sum([len(await db.all(knn_query(v))) for v in probes])


async def _raw(conn: psycopg.AsyncConnection[Any], sql: str, params: list[tuple[Any, ...]]) -> int:
    total = 0
    async with conn.cursor(binary=True) as cur:
        for p in params:
            await cur.execute(sql, p, prepare=True)
            total += len(await cur.fetchall())
    return total


def run(url: str, rows: int, repeat: int, out: Path = RESULTS) -> str:
    """Load the tables and run both workloads against ``url``; the Markdown table (also ``out/search.md``)."""
    rng = random.Random(23)
    load_before = load_average()
    _load(url, rows, rng)
    terms = [f"{rng.choice(VOCABULARY)} {rng.choice(VOCABULARY)}" for _ in range(QUERIES)]
    probes = [Vector([rng.uniform(-1, 1) for _ in range(DIMENSIONS)]) for _ in range(QUERIES)]
    knn_sql = knn_query(probes[0]).sql().sql
    knn_params = [knn_query(v).sql().params for v in probes]
    results: list[tuple[str, float, float, int]] = []
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        stack = contextlib.AsyncExitStack()
        db = runner.run(stack.enter_async_context(connect(url, min_size=1, max_size=2)))
        raw = runner.run(psycopg.AsyncConnection.connect(url, autocommit=True, cursor_factory=psycopg.AsyncRawCursor))
        try:
            runner.run(db.execute(select(SearchDoc).update(words=to_tsvector("simple", SearchDoc.title))))
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(INDEXES.encode())
            runner.run(db.reload_types())
            runner.run(register_vector_async(raw))
            for ranked, label in ((False, "match, first 10 by id"), (True, "match, top 10 by ts_rank")):
                text_sql = full_text_query(terms[0], ranked).sql().sql
                text_params = [full_text_query(t, ranked).sql().params for t in terms]
                prepared = db.prepare(full_text_query(param("term", "text"), ranked))
                found = (runner.run(_djogi_text(db, terms, ranked)), runner.run(_prepared_text(prepared, terms)),
                         runner.run(_raw(raw, text_sql, text_params)))  # fmt: skip
                assert found[0] == found[1] == found[2] > 0, found
                ours, ready, base = _alternate(
                    [lambda r=ranked: runner.run(_djogi_text(db, terms, r)),  # type: ignore[misc]
                     lambda p=prepared: runner.run(_prepared_text(p, terms)),  # type: ignore[misc]
                     lambda p=text_params, q=text_sql: runner.run(_raw(raw, q, p))],  # type: ignore[misc]
                    repeat)  # fmt: skip
                results.append((f"full text: {label} (×{QUERIES})", ours, base, QUERIES))
                results.append((f"full text: {label}, djogi prepared (×{QUERIES})", ready, base, QUERIES))
            prepared_knn = db.prepare(knn_query(param("probe", "vector")))
            found = (runner.run(_djogi_knn(db, probes)), runner.run(_prepared_knn(prepared_knn, probes)),
                     runner.run(_raw(raw, knn_sql, knn_params)))  # fmt: skip
            assert found[0] == found[1] == found[2] == 10 * QUERIES, found
            ours, ready, base = _alternate([lambda: runner.run(_djogi_knn(db, probes)),
                                            lambda: runner.run(_prepared_knn(prepared_knn, probes)),
                                            lambda: runner.run(_raw(raw, knn_sql, knn_params))], repeat)  # fmt: skip
            label = f"kNN: HNSW, {DIMENSIONS} dims, top 10 into models"
            results.append((f"{label} (×{QUERIES})", ours, base, QUERIES))
            results.append((f"{label}, djogi prepared (×{QUERIES})", ready, base, QUERIES))
        finally:
            runner.run(raw.close())
            runner.run(stack.aclose())
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(b"DROP TABLE bench_search_docs, bench_search_embeddings")
    load_after = load_average()
    lines = ["| workload | djogi | raw psycopg | ratio | djogi µs/query | psycopg µs/query |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for label, ours, base, n in results:
        lines.append(f"| {label} | {ours:.3f} s | {base:.3f} s | {ours / base:.2f}x | "
                     f"{ours / n * 1e6:.0f} | {base / n * 1e6:.0f} |")  # fmt: skip
    text = (f"Search queries over {rows:,} rows, djogi against the same SQL through raw psycopg; medians of "
            f"{repeat} alternating runs each. Load average {load_before} before, {load_after} after "
            f"({os.cpu_count()} cores).\n\n" + "\n".join(lines) + "\n")  # fmt: skip
    return write_page(out, "search.md", text)


def main() -> None:
    options = {"rows": (ROWS, "rows of each table"), "repeat": (REPEAT, "timed runs of each side")}
    standalone(__doc__ or "", run, options)


if __name__ == "__main__":
    main()
