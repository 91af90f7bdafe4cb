"""HeeRanjID key generation in SQL: the sequence clocks (one ``nextval`` per row, nothing updated per row),
their ids' layout and order, the bulk generators on the same clocks, and the upgrade of an older install."""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
import uuid
from typing import Any

import heeranjid
import psycopg
import pytest
from psycopg.rows import TupleRow

from djogi.heer_sql import bootstrap_sql, installed_sql
from tests.keys.helpers import V1_SQL

Conn = psycopg.Connection[TupleRow]
N = 20_000  # the slowest case: 20k default keys in one statement took 21.5 s


def _table(conn: Conn, default: str, sql_type: str = "bigint") -> None:
    conn.execute(f"CREATE TABLE keyed (id {sql_type} PRIMARY KEY DEFAULT {default}, n int NOT NULL)")


def _insert(conn: Conn, count: int) -> list[tuple[int, Any]]:
    rows = conn.execute(f"INSERT INTO keyed (n) SELECT g FROM generate_series(1, {count}) AS g RETURNING n, id")
    return sorted(rows.fetchall(), key=lambda r: r[0])


def test_default_keys_update_no_state_row_per_row(pg_sync: Conn) -> None:
    """The quadratic cost came from one node-state UPDATE per id inside the statement (every lookup walked
    the row's versions). Now a statement of N default keys updates no state row and each key is one
    ``nextval`` of the clock, inlined into the statement's plan."""
    _table(pg_sync, "heerid_next_desc()")
    plan = "\n".join(r[0] for r in pg_sync.execute("EXPLAIN VERBOSE INSERT INTO keyed (n) VALUES (1)"))
    assert "nextval('heer_id_clock'::regclass)" in plan and "generate_ids" not in plan
    before = pg_sync.execute("SELECT last_value FROM heer_id_clock").fetchone()
    with pg_sync.transaction():
        _insert(pg_sync, N)
        updates = pg_sync.execute(
            "SELECT coalesce(sum(n_tup_upd + n_tup_hot_upd), 0) FROM pg_stat_xact_user_tables "
            "WHERE relname IN ('heer_node_state', 'heer_ranj_node_state')").fetchone()
    assert updates == (0,)
    after = pg_sync.execute("SELECT last_value FROM heer_id_clock").fetchone()
    assert before is not None and after is not None and after[0] - before[0] >= N


@pytest.mark.parametrize(("default", "kind"), [
    ("heerid_next()", heeranjid.HeerId), ("heerid_next_desc()", heeranjid.HeerIdDesc),
])
def test_heerids_are_unique_ordered_and_decode(pg_sync: Conn, default: str, kind: type) -> None:
    _table(pg_sync, default)
    now_ms = pg_sync.execute(
        "SELECT floor(extract(epoch FROM clock_timestamp() - c.epoch) * 1000)::bigint FROM heer_config c"
    ).fetchone()
    rows = _insert(pg_sync, N)
    ids = [r[1] for r in rows]
    assert len(set(ids)) == N
    descending = kind is heeranjid.HeerIdDesc
    assert ids == sorted(ids, reverse=descending)  # generation order, newest first for the desc kind
    decoded = [kind(i) for i in ids]
    assert {d.node_id for d in decoded} == {1}
    assert now_ms is not None and decoded[0].timestamp_ms >= now_ms[0]
    # ids follow the clock: within one statement they span at most the time it took plus borrowed ticks
    assert decoded[-1].timestamp_ms - decoded[0].timestamp_ms < 60_000
    logical = [(d.timestamp_ms, d.sequence) for d in decoded]  # decoded to the ascending fields
    assert all(a < b for a, b in itertools.pairwise(logical))


@pytest.mark.parametrize(("default", "kind"), [
    ("ranjid_next()", heeranjid.RanjId), ("ranjid_next_desc()", heeranjid.RanjIdDesc),
])
def test_ranjids_are_unique_ordered_and_decode(pg_sync: Conn, default: str, kind: type) -> None:
    _table(pg_sync, default, "uuid")
    rows = _insert(pg_sync, 5_000)
    ids = [r[1] for r in rows]
    assert isinstance(ids[0], uuid.UUID) and len(set(ids)) == len(ids)
    descending = kind is heeranjid.RanjIdDesc
    assert ids == sorted(ids, reverse=descending)
    decoded = [kind.from_str(str(i)) for i in ids]  # type: ignore[attr-defined]
    assert {d.node_id for d in decoded} == {1} and {d.precision for d in decoded} == {"us"}


def test_bulk_generators_share_the_clock_with_defaults(pg_sync: Conn) -> None:
    _table(pg_sync, "heerid_next()")
    first = _insert(pg_sync, 10)
    batch = [r[0] for r in pg_sync.execute("SELECT id FROM generate_ids(1, 1000, true)")]
    last = _insert(pg_sync, 10)
    ids = [r[1] for r in first] + batch + [r[1] for r in last]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    ranj = [r[0] for r in pg_sync.execute(
        "SELECT ranjid_next() UNION ALL SELECT id FROM generate_ranjids(1, 3000, true) UNION ALL SELECT ranjid_next()")]
    assert ranj == sorted(ranj) and len(set(ranj)) == len(ranj)


def test_spanning_refused_when_asked(pg_sync: Conn) -> None:
    with pytest.raises(psycopg.errors.RaiseException, match="requested 8193 IDs but only"):
        pg_sync.execute("SELECT count(*) FROM generate_ids(1, 8193, false)")
    with pytest.raises(psycopg.errors.RaiseException, match="requested 1025 IDs but only"):
        pg_sync.execute("SELECT count(*) FROM generate_ranjids(1, 1025, false)")


def test_unset_and_out_of_range_nodes_are_refused(pg_sync: Conn) -> None:
    """Whether the row sets the clock forward (which checks the node is registered) or not (the domain
    checks its range), a node that cannot fit the layout is refused, never truncated."""
    pg_sync.execute("SET heer.node_id = ''")
    with pytest.raises(psycopg.errors.RaiseException, match=r"heer\.node_id is not set for this session"):
        pg_sync.execute("SELECT heerid_next_desc()")
    pg_sync.execute("SET heer.node_id = '512'")
    with pytest.raises(psycopg.Error, match=r"out of range for HeerId|heer\.node_id must be in 0\.\.511"):
        pg_sync.execute("SELECT heerid_next()")
    pg_sync.execute("SET heer.ranj_node_id = '40000'")
    with pytest.raises(psycopg.Error, match=r"out of range for RanjId|heer\.ranj_node_id must be in 0\.\.32767"):
        pg_sync.execute("SELECT ranjid_next()")


def test_clock_never_goes_back(pg_sync: Conn) -> None:
    """A clock ahead of the wall clock (a large batch borrowed ticks, or the wall clock stepped back) is
    not an error: ids continue from it, still increasing."""
    ahead = pg_sync.execute("SELECT setval('heer_id_clock', heer_id_now() + (5000::bigint << 13))").fetchone()
    assert ahead is not None
    nxt = pg_sync.execute("SELECT heerid_next()").fetchone()
    assert nxt is not None and heeranjid.HeerId(nxt[0]).timestamp_ms == (ahead[0] + 1) >> 13


def test_bootstrap_upgrades_an_older_install(empty_db: str) -> None:
    """A database bootstrapped by the previous djogi (per-node state rows, per-row state updates) is brought
    up to date by running the current bootstrap: the functions are replaced, existing column defaults use
    the clocks, and new ids continue after every id the old generator handed out."""
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(V1_SQL.encode())
        assert conn.execute(installed_sql()).fetchone() == (False,)
        _table(conn, "heerid_next_desc()")
        old = [r[1] for r in _insert(conn, 100)]
        # the old generator's state a few seconds ahead (as a large batch leaves it): the clock starts after it
        conn.execute("UPDATE heer_node_state SET last_id_time = last_id_time + 3000")
        conn.execute("UPDATE heer_ranj_node_state SET last_id_time = last_id_time + 3000000")
        old_state = conn.execute("SELECT last_id_time, last_sequence FROM heer_node_state WHERE node_id = 1").fetchone()
        old_ranj = conn.execute("SELECT ranjid_next()").fetchone()
        conn.execute(bootstrap_sql(1).encode())
        assert conn.execute(installed_sql()).fetchone() == (True,)
        new = [r[1] for r in _insert(conn, 100)]
        assert len(set(old + new)) == 200 and max(new) < min(old)  # newest first: desc values shrink
        assert old_state is not None
        assert heeranjid.HeerIdDesc(new[0]).timestamp_ms >= old_state[0]
        new_ranj = conn.execute("SELECT ranjid_next()").fetchone()
        assert old_ranj is not None and new_ranj is not None and new_ranj[0] > old_ranj[0]
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN VERBOSE INSERT INTO keyed (n) VALUES (1)"))
        assert "heer_id_clock" in plan
        conn.execute(bootstrap_sql(1).encode())  # idempotent: a second run changes nothing it needs
        again = [r[1] for r in _insert(conn, 10)]
        assert max(again) < min(new)


WORKERS, TRANSACTIONS, ROWS = 6, 8, 300


def _worker(url: str, start: threading.Barrier, me: int) -> list[tuple[list[int], list[uuid.UUID]]]:
    """``TRANSACTIONS`` transactions, each with default keys of both kinds and a bulk batch."""
    done = []
    with psycopg.connect(url) as conn:
        start.wait(timeout=60)
        for t in range(TRANSACTIONS):
            with conn.transaction():
                heer = [r[0] for r in conn.execute(
                    f"INSERT INTO keyed (n) SELECT g FROM generate_series(1, {ROWS}) g RETURNING id")]
                if (me + t) % 2:
                    heer += [r[0] for r in conn.execute("SELECT id FROM generate_ids(1, 500, true)")]
                ranj = [r[0] for r in conn.execute(
                    f"SELECT ranjid_next() FROM generate_series(1, {ROWS}) UNION ALL "
                    "SELECT id FROM generate_ranjids(1, 500, true)")]
            done.append((heer, ranj))
    return done


def test_concurrent_sessions_never_share_or_interleave_ids(db_url: str) -> None:
    """Several connections generating at once: every id is unique, each transaction's ids increase in the
    order generated, and transactions never interleave (each holds the clock until it commits, as the old
    generator's state-row lock did), so one transaction's ids all sort before or after another's."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        _table(conn, "heerid_next()")
    start = threading.Barrier(WORKERS)
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(_worker, db_url, start, me) for me in range(WORKERS)]
        results = [t for f in futures for t in f.result(timeout=300)]
    for pick in (0, 1):
        batches: list[list[Any]] = [r[pick] for r in results]
        flat = [i for b in batches for i in b]
        assert len(flat) == len(set(flat))
        assert all(b == sorted(b) for b in batches)
        spans = sorted((b[0], b[-1]) for b in batches)
        assert all(prev[1] < nxt[0] for prev, nxt in itertools.pairwise(spans))
    heer_nodes = {heeranjid.HeerId(i).node_id for r in results for i in r[0]}
    assert heer_nodes == {1}
