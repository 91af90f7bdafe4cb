"""HeeRanjID key generation in SQL: the sequence clocks (one ``nextval`` per row, nothing updated per row),
their ids' layout and order, the bulk generators on the same clocks, and the upgrade of an older install."""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import threading
import time
import uuid
from typing import Any

import heeranjid
import psycopg
import pytest
from psycopg.rows import TupleRow

from djogi.heer_sql import HEER_LOCK_KEY, bootstrap_sql, installed_sql
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
    ``nextval`` of the clock, inlined into the statement's plan (in SQL, or a call of the C function when
    the djogi_heer extension is installed)."""
    _table(pg_sync, "heerid_next_desc()")
    plan = "\n".join(r[0] for r in pg_sync.execute("EXPLAIN VERBOSE INSERT INTO keyed (n) VALUES (1)"))
    draws = ("nextval('heer_id_clock'::regclass)", "djogi_heerid_next('heer_id_clock'::regclass")
    assert any(d in plan for d in draws) and "generate_ids" not in plan
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


def test_the_node_is_fixed_per_database(pg_sync: Conn) -> None:
    """The node is the database's (``heer_set_node``), folded into the plan as a constant: the session's
    ``heer.node_id`` is not read per row, a node that cannot fit the layout is refused (never truncated),
    and a new node takes effect in every kind."""
    plan = "\n".join(r[0] for r in pg_sync.execute("EXPLAIN VERBOSE SELECT heerid_next_desc()"))
    assert "current_setting" not in plan and "heer_id_node" not in plan
    pg_sync.execute("SET heer.node_id = '7'")
    row = pg_sync.execute("SELECT heerid_next(), ranjid_next()").fetchone()
    assert row is not None and heeranjid.HeerId(row[0]).node_id == 1
    assert heeranjid.RanjId.from_str(str(row[1])).node_id == 1
    for bad in (512, -1):
        with pytest.raises(psycopg.errors.NumericValueOutOfRange, match=r"node -?\d+ is out of range \(0\.\.511\)"):
            pg_sync.execute(f"SELECT heer_set_node({bad})")
    assert pg_sync.execute("SELECT heer_set_node(5)").fetchone() == (5,)
    row = pg_sync.execute("SELECT heerid_next_desc(), ranjid_next_desc()").fetchone()
    assert row is not None and heeranjid.HeerIdDesc(row[0]).node_id == 5
    assert heeranjid.RanjIdDesc.from_str(str(row[1])).node_id == 5
    assert {r[0] for r in pg_sync.execute("SELECT node_id FROM heer_nodes WHERE is_active")} >= {1, 5}
    ids = [r[0] for r in pg_sync.execute("SELECT id FROM generate_ids(3)")]
    assert {heeranjid.HeerId(i).node_id for i in ids} == {5}  # the overloads without a node use it too


def test_clock_never_goes_back(pg_sync: Conn) -> None:
    """A clock ahead of the wall clock (a large batch borrowed ticks, or the wall clock stepped back) is
    not an error: ids continue from it, still increasing."""
    ahead = pg_sync.execute("SELECT setval('heer_id_clock', heer_id_now() + (5000::bigint << 13))").fetchone()
    assert ahead is not None
    nxt = pg_sync.execute("SELECT heerid_next()").fetchone()
    assert nxt is not None and heeranjid.HeerId(nxt[0]).timestamp_ms == (ahead[0] + 1) >> 13


def test_a_statement_sets_the_clock_forward_once_and_its_ids_carry_the_clock(pg_sync: Conn) -> None:
    """A statement finding the clock behind its start sets it forward (``setval``) for its first id; that id
    and the ones after it are exactly the clock's values (the second read, ``lastval()``, follows the
    ``setval``), one apart, and the clock ends on the last."""
    pg_sync.execute("SELECT setval('heer_id_clock', 1000::bigint << 13)")  # far behind the wall clock
    ids = [r[0] for r in pg_sync.execute("SELECT heerid_next() FROM generate_series(1, 5)")]
    last = pg_sync.execute("SELECT last_value FROM heer_id_clock").fetchone()
    clock = [(heeranjid.HeerId(i).timestamp_ms << 13) | heeranjid.HeerId(i).sequence for i in ids]
    assert last is not None and clock == list(range(last[0] - 4, last[0] + 1))
    assert clock[0] > 1000 << 13


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


# The previous djogi's default key (inlined into plans that may still run during an upgrade): the clock
# synced to the wall clock per row (``clock_timestamp()``), the same lock and the same sequence.
PREVIOUS_HEERID = (f"((((CASE WHEN pg_advisory_xact_lock({HEER_LOCK_KEY}) IS NULL THEN NULL "
                   "WHEN nextval('heer_id_clock') < heer_id_now() THEN heer_id_reserve(1) "
                   "ELSE currval('heer_id_clock') END) >> 13) << 22) | (currval('heer_id_clock') & 8191) | 8192)")
STATEMENTS = 60


def _session(url: str, start: threading.Barrier, me: int) -> tuple[list[int], list[uuid.UUID]]:
    """One session's ids in the order it generated them: many short autocommit statements (each one's first
    row finds the clock behind the wall clock and sets it forward), some in transactions, some bulk
    batches, the first worker drawing with the previous djogi's expression, the last one stepping the clock
    ahead of the wall clock (as a wall-clock step back leaves it) now and then."""
    heer: list[int] = []
    ranj: list[uuid.UUID] = []
    draw = PREVIOUS_HEERID if me == 0 else "heerid_next()"
    with psycopg.connect(url, autocommit=True) as conn:
        start.wait(timeout=60)
        for i in range(STATEMENTS):
            if me == WORKERS - 1 and i % 10 == 5:
                conn.execute("SELECT heer_id_reserve(50::bigint << 13), heer_ranj_reserve(50000::bigint << 10)")
            with conn.transaction() if i % 3 == 0 else contextlib.nullcontext():
                heer += [r[0] for r in conn.execute(f"SELECT {draw} FROM generate_series(1, {5 + i % 7 * 40})")]
                if i % 4 == 1:
                    heer += [r[0] for r in conn.execute("SELECT id FROM generate_ids(1, 300, true)")]
                ranj += [r[0] for r in conn.execute(f"SELECT ranjid_next() FROM generate_series(1, {5 + i % 5 * 30})")]
            time.sleep(0.002 * (i % 3))  # the wall clock moves past the sequence between statements
    return heer, ranj


def test_concurrent_sessions_across_clock_resyncs(db_url: str) -> None:
    """Real connections generating at once, the clock set forward to the wall clock at the start of nearly
    every statement, pushed ahead of it now and then, and one session on the previous djogi's expression:
    every id is unique, and each session's ids strictly increase in the order it generated them."""
    start = threading.Barrier(WORKERS)
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(_session, db_url, start, me) for me in range(WORKERS)]
        sessions = [f.result(timeout=300) for f in futures]
    for pick in (0, 1):
        flat = [i for s in sessions for i in s[pick]]
        assert len(flat) == len(set(flat))
        assert all(s[pick] == sorted(s[pick]) for s in sessions)
    assert {heeranjid.HeerId(i).node_id for s in sessions for i in s[0]} == {1}
