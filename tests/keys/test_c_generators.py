"""The optional C column defaults (the djogi_heer extension, csrc/djogi_heer): when it is installed in the test
server, the bootstrap makes ``heerid_next()`` and the three others call it; its ids equal the SQL generators'
for the same clock value, follow the same clock (set forward when behind a statement's start, never back)
and interleave with the SQL and bulk generators without a duplicate. Skipped, with the reason, when the
extension is not installed (no C compiler when the environment was set up)."""

from __future__ import annotations

import concurrent.futures
import itertools
import secrets
import threading
from collections.abc import Iterator
from typing import Any

import heeranjid
import psycopg
import pytest
from psycopg.rows import TupleRow

import djogi
from djogi import Field, Model
from djogi.codecs import row_decoder
from djogi.heer_sql import EXTENSION, HEER_FLIP_MASK, HEER_LOCK_KEY, SQL_NEXT_SQL, bootstrap_sql
from djogi.model import descriptor, registry_scope

Conn = psycopg.Connection[TupleRow]
NOT_INSTALLED = (f"the {EXTENSION} extension is not installed in the embedded server (`make heer-c` builds and "
                 "installs it; make test/demo/bench run it when a C compiler is present)")
KINDS = ("heerid_next", "heerid_next_desc", "ranjid_next", "ranjid_next_desc")
# The SQL generator's HeerId (the body of the SQL heerid_next()), to draw next to the C one in one database.
SQL_HEERID = "((heer_id_draw() >> 13) << 22) | (lastval() & 8191) | (heer_id_node()::bigint << 13)"


def _installed(conn: Conn) -> bool:
    row = conn.execute("SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = %s)", (EXTENSION,)).fetchone()
    return row is not None and bool(row[0])


@pytest.fixture
def c_conn(pg_sync: Conn) -> Conn:
    """The test database's connection, when the extension is installed in the server."""
    if not _installed(pg_sync):
        pytest.skip(NOT_INSTALLED)
    return pg_sync


def _definitions(conn: Conn) -> dict[str, str]:
    return {k: str(conn.execute(f"SELECT pg_get_functiondef('{k}()'::regprocedure)").fetchone()[0])  # type: ignore[index]
            for k in KINDS}


def _one(conn: Conn, sql: str) -> Any:
    row = conn.execute(sql.encode()).fetchone()
    assert row is not None
    return row[0]


def test_the_bootstrap_puts_the_column_defaults_on_the_c_functions(c_conn: Conn) -> None:
    """The four defaults are inlinable calls of the C functions, every argument a constant in the plan;
    re-running the bootstrap keeps them, the SQL definitions put back take over the same clocks, and the
    bootstrap again puts the C ones back: ids increase across all three."""
    assert _one(c_conn, f"SELECT count(*) FROM pg_extension WHERE extname = '{EXTENSION}'") == 1
    for name, body in _definitions(c_conn).items():
        function = "djogi_ranjid_next(" if name.startswith("ranj") else "djogi_heerid_next("
        assert function in body and body.rstrip().endswith("true)" if name.endswith("desc") else "false)")
    plan = "\n".join(r[0] for r in c_conn.execute("EXPLAIN VERBOSE SELECT heerid_next(), ranjid_next_desc()"))
    assert f"djogi_heerid_next('heer_id_clock'::regclass, '{HEER_LOCK_KEY}'::bigint, '" in plan
    assert "djogi_ranjid_next('heer_ranj_clock'::regclass" in plan
    assert "heer_id_node" not in plan and "epoch" not in plan and "nextval" not in plan
    ids = [_one(c_conn, "SELECT heerid_next()")]
    c_conn.execute(bootstrap_sql(1).encode())
    assert all("djogi_" in body for body in _definitions(c_conn).values())
    ids.append(_one(c_conn, "SELECT heerid_next()"))
    c_conn.execute(SQL_NEXT_SQL.encode())
    assert not any("djogi_" in body for body in _definitions(c_conn).values())
    ids.append(_one(c_conn, "SELECT heerid_next()"))
    c_conn.execute(bootstrap_sql(1).encode())
    assert all("djogi_" in body for body in _definitions(c_conn).values())
    ids.append(_one(c_conn, "SELECT heerid_next()"))
    assert ids == sorted(ids) and len(set(ids)) == 4


def _clock(kind: str, value: Any, ranj_offset: int) -> int:
    """The clock value an id was made from, decoded by heeranjid (desc kinds decode to the ascending fields)."""
    if kind.startswith("heer"):
        heer = (heeranjid.HeerIdDesc if kind.endswith("desc") else heeranjid.HeerId)(value)
        return (heer.timestamp_ms << 13) | heer.sequence
    ranj = (heeranjid.RanjIdDesc if kind.endswith("desc") else heeranjid.RanjId).from_str(str(value))
    assert ranj.node_id == 1 and ranj.precision == "us"
    return ((ranj.timestamp - ranj_offset) << 10) | ranj.sequence


@pytest.mark.parametrize("kind", KINDS)
def test_c_ids_equal_the_sql_ids_of_the_same_clock_value(c_conn: Conn, kind: str) -> None:
    """With the clock set a minute ahead (so neither sets it forward), the SQL generator (its definitions put
    back in a transaction rolled back after: the clock is not transactional) and the C one each draw the
    next value from the same setting: the same id, carrying that value and node 1."""
    heer = kind.startswith("heer")
    clock = "heer_id_clock" if heer else "heer_ranj_clock"
    ahead = _one(c_conn, "SELECT heer_id_now() + (60000::bigint << 13)" if heer
                 else "SELECT heer_ranj_now() + (60000000::bigint << 10)")
    offset = _one(c_conn, "SELECT heer_ranj_epoch_offset()")
    with c_conn.transaction(force_rollback=True):
        c_conn.execute(SQL_NEXT_SQL.encode())
        assert "djogi_" not in _definitions(c_conn)[kind]
        c_conn.execute(f"SELECT setval('{clock}', {ahead})".encode())
        sql_id = _one(c_conn, f"SELECT {kind}()")
    assert "djogi_" in _definitions(c_conn)[kind]
    c_conn.execute(f"SELECT setval('{clock}', {ahead})".encode())
    c_id = _one(c_conn, f"SELECT {kind}()")
    assert c_id == sql_id and _clock(kind, c_id, offset) == ahead + 1
    if heer:
        ascending = ((ahead + 1) >> 13 << 22) | (1 << 13) | ((ahead + 1) & 8191)
        assert c_id == (ascending ^ HEER_FLIP_MASK if kind.endswith("desc") else ascending)
        assert heeranjid.HeerId(ascending).node_id == 1


def _statement_clocks(conn: Conn, kind: str, rows: int) -> tuple[list[int], int]:
    """The clock values of ``rows`` ids of ``kind`` drawn in one statement, and the clock's value after."""
    offset = _one(conn, "SELECT heer_ranj_epoch_offset()")
    ids = [r[0] for r in conn.execute(f"SELECT {kind}() FROM generate_series(1, {rows})".encode())]
    last = _one(conn, f"SELECT last_value FROM {'heer_id_clock' if kind.startswith('heer') else 'heer_ranj_clock'}")
    return [_clock(kind, i, offset) for i in ids], last


@pytest.mark.parametrize("kind", KINDS)
def test_a_statement_behind_the_clock_sets_it_forward_once(c_conn: Conn, kind: str) -> None:
    """A statement whose first id finds the clock behind the statement's start sets the clock forward to
    the wall clock (``setval``) for it; the ids after are the next values, one apart, and the clock ends on
    the last. A clock ahead of the wall clock is not set back: ids continue from it."""
    heer = kind.startswith("heer")
    clock, now = ("heer_id_clock", "heer_id_now()") if heer else ("heer_ranj_clock", "heer_ranj_now()")
    c_conn.execute(f"SELECT setval('{clock}', 1000::bigint << 10)".encode())  # far behind the wall clock
    before = _one(c_conn, f"SELECT {now}")
    values, last = _statement_clocks(c_conn, kind, 50)
    assert values == list(range(last - 49, last + 1)) and values[0] >= before
    ahead = _one(c_conn, f"SELECT setval('{clock}', {now} + (5000::bigint << 20))")
    values, last = _statement_clocks(c_conn, kind, 5)
    assert values == list(range(ahead + 1, ahead + 6)) and last == ahead + 5


def test_default_keys_of_a_table_and_djogi_codecs(c_conn: Conn) -> None:
    """Column defaults filled by the C functions (``INSERT ... SELECT``), read back by djogi's row decoder
    as the key kinds, unique and in generation order (newest first for the desc kinds)."""
    c_conn.execute("CREATE TABLE c_ranj (id uuid PRIMARY KEY DEFAULT ranjid_next_desc(), n int NOT NULL, "
                   "created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())")
    c_conn.execute("CREATE TABLE c_heer (id bigint PRIMARY KEY DEFAULT heerid_next(), n int NOT NULL, "
                   "created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())")
    with registry_scope():

        class CRanj(Model[djogi.RanjIdDesc], table="c_ranj"):
            n: Field[int]

        class CHeer(Model[djogi.HeerId], table="c_heer"):
            n: Field[int]

        for model, table, kind in ((CRanj, "c_ranj", djogi.RanjIdDesc), (CHeer, "c_heer", djogi.HeerId)):
            c_conn.execute(f"INSERT INTO {table} (n) SELECT g FROM generate_series(1, 3000) AS g".encode())
            columns = descriptor(model).columns
            with psycopg.RawCursor(c_conn, row_factory=row_decoder(model, columns).row_factory) as cur:
                cur.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY n".encode(), binary=True)
                rows = cur.fetchall()
            ids = [r.id for r in rows]
            assert all(isinstance(i, kind) for i in ids)
            stored = [r[0] for r in c_conn.execute(f"SELECT id FROM {table} ORDER BY n".encode())]
            assert ids == stored
            assert len(set(stored)) == 3000 and stored == sorted(stored, reverse=kind is djogi.RanjIdDesc)


def test_bad_arguments_are_errors_with_their_sqlstate(c_conn: Conn) -> None:
    """The C functions check their arguments (no NULL, a node within its layout, a sequence) and keep the
    caller's privileges on the sequence, as ``nextval`` in SQL does (why the extension can be trusted)."""
    cases = [
        ("djogi_heerid_next(NULL, 1, 0, 1, false)", psycopg.errors.NullValueNotAllowed),
        ("djogi_heerid_next('heer_id_clock', 1, 0, 1, NULL)", psycopg.errors.NullValueNotAllowed),
        ("djogi_heerid_next('heer_id_clock', 1, 0, 512, false)", psycopg.errors.NumericValueOutOfRange),
        ("djogi_ranjid_next('heer_ranj_clock', 1, 0, 0, 32768, false)", psycopg.errors.NumericValueOutOfRange),
        ("djogi_ranjid_next('heer_ranj_clock', 1, 0, 0, -1, false)", psycopg.errors.NumericValueOutOfRange),
        ("djogi_heerid_next('heer_nodes', 1, 0, 1, false)", psycopg.errors.WrongObjectType),
        ("djogi_heerid_next('heer_id_clock', 1, -9223372036854775807, 1, false)",
         psycopg.errors.NumericValueOutOfRange),
    ]
    for call, error in cases:
        with pytest.raises(error):
            c_conn.execute(f"SELECT {call}".encode())
    role = f"heerc_{secrets.token_hex(4)}"
    c_conn.execute(f"CREATE ROLE {role}".encode())
    try:
        with c_conn.transaction(force_rollback=True):
            c_conn.execute(f"SET LOCAL ROLE {role}".encode())
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="heer_id_clock"):
                c_conn.execute(f"SELECT djogi_heerid_next('heer_id_clock', {HEER_LOCK_KEY}, 0, 1, false)".encode())
    finally:
        c_conn.execute(f"DROP ROLE {role}".encode())


@pytest.fixture
def c_url(db_url: str) -> Iterator[str]:
    """The test database's URL, when the extension is installed in the server."""
    with psycopg.connect(db_url) as conn:
        if not _installed(conn):
            pytest.skip(NOT_INSTALLED)
    yield db_url


WORKERS, TRANSACTIONS, ROWS = 6, 8, 200


def _worker(url: str, start: threading.Barrier, me: int) -> list[tuple[list[int], list[int]]]:
    """``TRANSACTIONS`` transactions of clock values: HeerIds from the C default, the SQL generator
    (alternate workers) and the bulk generator (every other transaction), RanjIds from the C default, the
    SQL draw and the bulk generator, each transaction's values in the order generated."""
    done: list[tuple[list[int], list[int]]] = []
    with psycopg.connect(url) as conn:
        offset = _one(conn, "SELECT heer_ranj_epoch_offset()")
        conn.commit()
        start.wait(timeout=60)
        for t in range(TRANSACTIONS):
            with conn.transaction():
                draw = SQL_HEERID if me % 2 else "heerid_next()"
                heer = [_clock("heerid_next", r[0], 0) for r in conn.execute(
                    f"INSERT INTO keyed (n) SELECT g FROM generate_series(1, {ROWS}) g RETURNING id".encode())]
                heer += [_clock("heerid_next", r[0], 0) for r in conn.execute(
                    f"SELECT {draw} FROM generate_series(1, {ROWS})".encode())]
                if (me + t) % 2:
                    heer += [_clock("heerid_next", r[0], 0) for r in conn.execute(
                        b"SELECT id FROM generate_ids(1, 300, true)")]
                ranj = [_clock("ranjid_next_desc", r[0], offset) for r in conn.execute(
                    f"SELECT ranjid_next_desc() FROM generate_series(1, {ROWS})".encode())]
                ranj += [r[0] for r in conn.execute(
                    f"SELECT heer_ranj_draw() FROM generate_series(1, {ROWS})".encode())]
                ranj += [_clock("ranjid_next", r[0], offset) for r in conn.execute(
                    b"SELECT id FROM generate_ranjids(1, 300, true)")]
            done.append((heer, ranj))
    return done


def test_concurrent_c_sql_and_bulk_generators_share_the_clocks(c_url: str) -> None:
    """Six connections drawing at once from the C defaults, the SQL generator and the bulk generators: no
    clock value is handed out twice, each transaction's values increase in the order generated, and
    transactions never interleave (the C functions take the same lock as the SQL ones)."""
    with psycopg.connect(c_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE keyed (id bigint PRIMARY KEY DEFAULT heerid_next(), n int NOT NULL)")
        assert "djogi_heerid_next" in _definitions(conn)["heerid_next"]
    start = threading.Barrier(WORKERS)
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(_worker, c_url, start, me) for me in range(WORKERS)]
        results = [t for f in futures for t in f.result(timeout=300)]
    for pick in (0, 1):
        batches = [r[pick] for r in results]
        flat = [v for b in batches for v in b]
        assert len(flat) == len(set(flat))
        assert all(a < b for batch in batches for a, b in itertools.pairwise(batch))
        spans = sorted((b[0], b[-1]) for b in batches)
        assert all(prev[1] < nxt[0] for prev, nxt in itertools.pairwise(spans))


def test_without_the_privilege_to_create_it_the_bootstrap_warns_and_keeps_sql(blank_url: str) -> None:
    """The bootstrap run by the database's owner without ``CREATE`` on it (which creating a trusted
    extension needs): a WARNING naming the extension and what to run, the SQL column defaults, which work."""
    role = f"heerc_{secrets.token_hex(4)}"
    with psycopg.connect(blank_url, autocommit=True) as admin:
        if not _installed(admin):
            pytest.skip(NOT_INSTALLED)
        database = admin.info.dbname
        admin.execute(f"CREATE ROLE {role} LOGIN".encode())
        admin.execute(f"ALTER DATABASE {database} OWNER TO {role}".encode())
        admin.execute(f"REVOKE CREATE ON DATABASE {database} FROM {role}".encode())
        try:
            notices: list[str] = []
            with psycopg.connect(blank_url.replace("//postgres@", f"//{role}@", 1), autocommit=True) as conn:
                conn.add_notice_handler(lambda d: notices.append(f"{d.severity_nonlocalized} {d.message_primary}"))
                conn.execute(bootstrap_sql(1).encode())
                assert not any("djogi_" in body for body in _definitions(conn).values())
                assert _one(conn, f"SELECT count(*) FROM pg_extension WHERE extname = '{EXTENSION}'") == 0
                ids = [r[0] for r in conn.execute(b"SELECT heerid_next() FROM generate_series(1, 3)")]
                assert ids == sorted(ids) and {heeranjid.HeerId(i).node_id for i in ids} == {1}
            assert [n for n in notices if n.startswith("WARNING") and f"{EXTENSION} extension was not created" in n
                    and f"run CREATE EXTENSION {EXTENSION} as a superuser" in n]
        finally:
            admin.execute(f"ALTER DATABASE {database} OWNER TO postgres".encode())
            admin.execute(f"REASSIGN OWNED BY {role} TO postgres".encode())
            admin.execute(f"DROP OWNED BY {role}".encode())
            admin.execute(f"DROP ROLE {role}".encode())
