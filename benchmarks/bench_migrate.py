"""Migration engine benchmarks: introspection and diff of a 1,000-table schema, and online safety.

Run ``python -m benchmarks.bench_migrate`` (uses the embedded PostgreSQL 18 in a throw-away directory,
or ``DJOGI_BENCH_URL``). Targets (DESIGN.md): introspection < 1 s, diff < 3 s for 1,000 tables.

The online-safety scenario builds a 1M-row table, keeps a writer inserting one row at a time, and
applies "index on ``a`` + ``b`` becomes NOT NULL" twice: djogi's plan (``CREATE INDEX CONCURRENTLY``,
CHECK ``NOT VALID`` + ``VALIDATE`` + ``SET NOT NULL``) and the naive DDL in one transaction. It reports
the longest a single write was blocked in each case.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import tempfile
import threading
import time
import types
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.harness import measure
from djogi import Field, ForeignKey, Index, Model, field
from djogi.embedded import EmbeddedServer
from djogi.heer_sql import bootstrap_sql
from djogi.migrate import apply, compose, diff, introspect, project
from djogi.migrate.snapshot import EMPTY
from djogi.model import models, registry_scope

TABLES = 1000


def declare(n: int, extra: bool = False) -> None:
    """``n`` tables of 8 columns, an FK to the previous table, a column index, a unique and a 2-column index."""
    for i in range(n):
        ann: dict[str, Any] = {
            "title": Field[str],
            "code": Field[str],
            "price": Field[float],
            "qty": Field[int | None],
            "born": Field[dt.date | None],
            "flag": Field[bool],
        }
        ns: dict[str, Any] = {
            "title": field(max_length=120, index=True),
            "code": field(unique=True),
            "price": field(check="price >= 0", db_default="0", default=0.0),
            "qty": field(default=None),
            "born": field(default=None),
        }
        if i:
            ann["parent"] = ForeignKey[f"T{i - 1} | None"]
            ns["parent"] = field(default=None)
        if extra:
            ann["note"] = Field[str | None]
            ns["note"] = field(default=None)
        ns["__annotations__"] = ann
        options = {"table": f"t{i:04d}", "indexes": (Index(columns=("flag", "-qty")),)}
        types.new_class(f"T{i}", (Model,), options, lambda body, ns=ns: body.update(ns))


def schema_benchmarks(url: str) -> dict[str, float]:
    """Median seconds of project, diff (create and alter) and introspection for ``TABLES`` tables."""
    with registry_scope(isolated=True):
        declare(TABLES)
        descriptors = models()
        snap = project(descriptors, "main", None).unwrap()
        t_project = measure(lambda: project(descriptors, "main", None), repeat=3).median
        with tempfile.TemporaryDirectory() as tmp:
            compose(Path(tmp), descriptors, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).unwrap()
            apply(url, Path(tmp))
    with registry_scope(isolated=True):
        declare(TABLES, extra=True)
        changed = project(models(), "main", None).unwrap()
    t_diff_create = measure(lambda: diff(EMPTY, snap), repeat=3).median
    t_diff_alter = measure(lambda: diff(snap, changed), repeat=3).median
    assert len(diff(snap, changed).unwrap().operations) == TABLES
    with psycopg.connect(url, autocommit=True) as conn:
        assert introspect(conn).structure() == snap.structure()
        t_introspect = measure(lambda: introspect(conn), repeat=5).median
    return {"project": t_project, "diff_create": t_diff_create, "diff_alter": t_diff_alter,
            "introspect": t_introspect}  # fmt: skip


def _writer(url: str, stop: threading.Event, worst: list[float]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            began = time.perf_counter()
            conn.execute("INSERT INTO big (a, b) VALUES (1, 1)")
            worst[0] = max(worst[0], time.perf_counter() - began)


def online_scenario(url: str, rows: int = 1_000_000) -> dict[str, float]:
    """Longest blocked single-row write while applying the change with djogi's plan vs naive DDL."""
    out: dict[str, float] = {}
    with registry_scope(isolated=True):

        def v1() -> None:
            class Big(Model[__import__("djogi").Serial], table="big"):
                a: Field[int]
                b: Field[int | None] = field(default=None)

        def v2() -> None:
            class Big(Model[__import__("djogi").Serial], table="big"):
                a: Field[int] = field(index=True)
                b: Field[int]

        for mode in ("djogi", "naive"):
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("DROP TABLE IF EXISTS big; DROP TABLE IF EXISTS djogi_schema_migrations")
            with tempfile.TemporaryDirectory() as tmp:
                with registry_scope(isolated=True):
                    v1()
                    compose(Path(tmp), models(), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).unwrap()
                apply(url, Path(tmp))
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"INSERT INTO big (a, b) SELECT g, g FROM generate_series(1, {rows}) g")
                    conn.execute("VACUUM ANALYZE big")
                with registry_scope(isolated=True):
                    v2()
                    compose(
                        Path(tmp), models(), dt.datetime(2026, 1, 2, tzinfo=dt.UTC), allow_destructive=True
                    ).unwrap()
                stop, worst = threading.Event(), [0.0]
                writer = threading.Thread(target=_writer, args=(url, stop, worst))
                writer.start()
                time.sleep(0.5)
                worst[0] = 0.0
                began = time.perf_counter()
                if mode == "djogi":
                    apply(url, Path(tmp))
                else:
                    with psycopg.connect(url) as conn:
                        conn.execute("CREATE INDEX big_a_idx ON big (a); ALTER TABLE big ALTER COLUMN b SET NOT NULL")
                elapsed = time.perf_counter() - began
                time.sleep(0.2)
                stop.set()
                writer.join()
                out[f"{mode}_longest_blocked_write_ms"] = worst[0] * 1000
                out[f"{mode}_migration_s"] = elapsed
    return out


def main() -> None:
    url = os.environ.get("DJOGI_BENCH_URL")
    root = None
    if url is None:
        root = Path(tempfile.mkdtemp(prefix="djogi-bench-"))
        server = EmbeddedServer(root / "pgdata", fast_unsafe=True)
        server.start()
        url = server.url()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS bench_migrate WITH (FORCE)")
            conn.execute("CREATE DATABASE bench_migrate")
        url = url.rsplit("/", 1)[0] + "/bench_migrate"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(bootstrap_sql(1).encode())
            conn.execute("ALTER DATABASE bench_migrate SET heer.node_id = '1'")
        figures = schema_benchmarks(url)
        if "--no-online" not in sys.argv:
            figures |= online_scenario(url)
        for key, value in figures.items():
            print(f"{key:36s} {value:10.3f}")
    finally:
        if root is not None:
            server.stop()
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
