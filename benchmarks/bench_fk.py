"""Foreign-key index benchmark: deleting parents whose children cascade, with and without the index djogi
now puts on every foreign-key column by default.

Run with ``python -m benchmarks.bench_fk [--repeat R]`` (``make bench`` runs it too). Two pairs of tables,
created by the SQL djogi's migration planner emits for two model pairs that differ only in
``field(index=False)`` on the child's ``ForeignKey(on_delete="cascade")``: ``N_PARENTS`` parents with
``N_CHILDREN`` children in all. A run deletes ``DELETED`` parents through ``db.execute(<query>.delete())``
inside ``atomic()`` and rolls back, so every run sees the same rows; the two sides alternate, and the table
gives the median milliseconds and their ratio. Results go to ``results/fk.md``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path

import psycopg

from benchmarks.report import load_average, standalone, write_page
from djogi import Field, ForeignKey, Model, Serial, field
from djogi.executor import Database, connect
from djogi.loop import loop_factory
from djogi.migrate.diff import diff
from djogi.migrate.project import project
from djogi.migrate.snapshot import EMPTY
from djogi.model import descriptor

RESULTS = Path(__file__).resolve().parent / "results"
REPEAT = 5
N_PARENTS = 1_000
N_CHILDREN = 100_000
DELETED = 20


class FkParent(Model[Serial], table="bench_fk_parents"):
    name: Field[str]


class FkChild(Model[Serial], table="bench_fk_children"):
    parent: ForeignKey[FkParent] = field(on_delete="cascade")


class BareParent(Model[Serial], table="bench_fk_bare_parents"):
    name: Field[str]


class BareChild(Model[Serial], table="bench_fk_bare_children"):
    parent: ForeignKey[BareParent] = field(on_delete="cascade", index=False)


PAIRS = {"indexed (default)": (FkParent, FkChild), "field(index=False)": (BareParent, BareChild)}


def create(admin: psycopg.Connection[tuple[object, ...]]) -> None:
    """(Re)create both pairs with the planner's SQL (the indexed child gets ``CREATE INDEX``) and load them."""
    models = [descriptor(m) for pair in PAIRS.values() for m in pair]
    tables = ", ".join(d.table for d in models)
    admin.execute(f"DROP TABLE IF EXISTS {tables} CASCADE".encode())
    steps = diff(EMPTY, project(models, "main", None).unwrap()).unwrap().steps
    for step in steps:
        admin.execute(step.up.encode())
    for parent, child in PAIRS.values():
        p, c = descriptor(parent).table, descriptor(child).table
        admin.execute(f"INSERT INTO {p} (id, name) SELECT g, 'p' || g FROM generate_series(1, {N_PARENTS}) g".encode())
        admin.execute(f"INSERT INTO {c} (id, parent_id) SELECT g, g % {N_PARENTS} + 1 "
                      f"FROM generate_series(1, {N_CHILDREN}) g".encode())  # fmt: skip
        admin.execute(f"VACUUM ANALYZE {p}, {c}".encode())


class _Rollback(Exception):
    """Leaves ``atomic()`` so the deletion is rolled back."""


async def _delete(db: Database, parent: type[Model], child: type[Model], run: int) -> float:
    first = run * DELETED % N_PARENTS + 1
    query = parent.objects.where(parent.id.between(first, first + DELETED - 1))
    started = time.perf_counter()
    try:
        async with db.atomic():
            assert await db.execute(query.delete()) == DELETED
            raise _Rollback
    except _Rollback:
        pass
    return time.perf_counter() - started


async def _measure(url: str, repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {side: [] for side in PAIRS}
    async with connect(url, min_size=1, max_size=2) as db:
        for pair in PAIRS.values():
            await _delete(db, *pair, run=repeat)  # untimed warm-up, on rows no timed run deletes
        for r in range(repeat):
            order = list(PAIRS.items())
            for side, pair in order if r % 2 == 0 else order[::-1]:
                times[side].append(await _delete(db, *pair, run=r))
    return times


def run(url: str, repeat: int = REPEAT, out: Path = RESULTS) -> str:
    """Create and load the tables on ``url``, measure both sides; the Markdown text (also ``out/fk.md``)."""
    with psycopg.connect(url, autocommit=True) as admin:
        create(admin)
    load_before = load_average()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        times = runner.run(_measure(url, repeat))
    load_after = load_average()
    ms = {side: statistics.median(t) * 1e3 for side, t in times.items()}
    base = ms["indexed (default)"]
    lines = ["| child foreign key | ms per delete | ratio to indexed |", "|---|---:|---:|"]
    lines += [f"| {side} | {value:.1f} | {value / base:.1f}x |" for side, value in ms.items()]
    text = (f"Deleting {DELETED} of {N_PARENTS:,} parents, cascading to {DELETED * N_CHILDREN // N_PARENTS:,} of "
            f"{N_CHILDREN:,} children (rolled back each run); medians of {repeat} alternating runs. Load average "
            f"{load_before} before, {load_after} after ({os.cpu_count()} cores, shared with other work).\n\n"
            + "\n".join(lines) + "\n")  # fmt: skip
    return write_page(out, "fk.md", text)


def main() -> None:
    standalone(__doc__ or "", run, {"repeat": (REPEAT, "timed runs of each side")})


if __name__ == "__main__":
    main()
