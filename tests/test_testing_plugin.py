"""The pytest plugin: a fresh database per test, cloned from the HeeRanjID template."""

from __future__ import annotations

import uuid

import heeranjid
import psycopg
import pytest
from psycopg.rows import TupleRow

from djogi.errors import ValidationError
from djogi.heer_sql import bootstrap_sql, node_settings_sql

DJOGI_FUNCTIONS = {
    "heerid_flip_mask", "heerid_to_desc", "heerid_to_asc", "ranjid_to_desc", "ranjid_to_asc",
    "heerid_next", "ranjid_next", "heerid_next_desc", "ranjid_next_desc",
    "generate_ids_desc", "generate_ranjids_desc", "generate_ids", "generate_ranjids",
}


def test_fresh_database_has_only_heeranjid(pg_sync: psycopg.Connection[TupleRow]) -> None:
    tables = {r[0] for r in pg_sync.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert tables == {"heer_nodes", "heer_config", "heer_node_state", "heer_ranj_node_state"}
    functions = {r[0] for r in pg_sync.execute(
        "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace")}
    assert functions >= DJOGI_FUNCTIONS
    assert pg_sync.execute("SELECT current_setting('heer.node_id'), current_setting('heer.ranj_node_id')"
                           ).fetchone() == ("1", "1")


@pytest.mark.parametrize("turn", [1, 2])
def test_tests_do_not_see_each_others_tables(pg_sync: psycopg.Connection[TupleRow], turn: int) -> None:
    assert pg_sync.execute("SELECT to_regclass('probe')").fetchone() == (None,)
    pg_sync.execute("CREATE TABLE probe (turn int)")
    pg_sync.execute("INSERT INTO probe VALUES (%s)", [turn])


@pytest.mark.anyio
async def test_heer_vectors_hold_in_sql(pg: psycopg.AsyncConnection[TupleRow]) -> None:
    cur = await pg.execute(
        "SELECT heerid_to_desc(4194345002), heerid_to_asc(9223372032656326613), heerid_flip_mask(),"
        " ranjid_to_desc('00000000-0000-8000-8007-a120006400c8'),"
        " ranjid_to_asc('ffffffff-ffff-8fff-8ff8-5edf8064ff37')")
    assert await cur.fetchone() == (
        9223372032656326613, 4194345002, 0x7FFFFFFFFFC01FFF,
        uuid.UUID("ffffffff-ffff-8fff-8ff8-5edf8064ff37"), uuid.UUID("00000000-0000-8000-8007-a120006400c8"))


@pytest.mark.anyio
async def test_generated_ids_decode_on_node_one(pg: psycopg.AsyncConnection[TupleRow]) -> None:
    cur = await pg.execute("SELECT heerid_next_desc(), heerid_next(), ranjid_next_desc(), ranjid_next()")
    row = await cur.fetchone()
    assert row is not None
    heer_desc, heer, ranj_desc, ranj = row
    assert heeranjid.HeerIdDesc(heer_desc).node_id == 1
    assert heeranjid.HeerId(heer).node_id == 1
    assert heeranjid.RanjIdDesc.from_str(str(ranj_desc)).node_id == 1
    assert heeranjid.RanjId.from_str(str(ranj)).node_id == 1
    cur = await pg.execute("SELECT id FROM generate_ids_desc(5)")
    batch = [r[0] for r in await cur.fetchall()]
    assert len(batch) == 5 and batch == sorted(batch, reverse=True)


def test_template_sql_fixture_adds_schema_to_every_database(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('''
import pytest

@pytest.fixture(scope="session")
def djogi_template_sql() -> str:
    return "CREATE TABLE book (id bigint PRIMARY KEY DEFAULT heerid_next_desc(), title text)"
''')
    pytester.makepyfile('''
import pytest

def test_book_exists(pg_sync):
    pg_sync.execute("INSERT INTO book (title) VALUES ('Dune')")
    assert pg_sync.execute("SELECT count(*) FROM book").fetchone() == (1,)

@pytest.mark.anyio
async def test_book_is_empty_again(pg, anyio_backend):
    assert anyio_backend == "asyncio"
    cur = await pg.execute("SELECT count(*) FROM book")
    assert await cur.fetchone() == (0,)
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_bootstrap_is_idempotent_and_registers_the_node(pg_sync: psycopg.Connection[TupleRow]) -> None:
    pg_sync.execute(bootstrap_sql(7).encode())
    pg_sync.execute(bootstrap_sql(7).encode())
    nodes = [r[0] for r in pg_sync.execute("SELECT node_id FROM heer_nodes ORDER BY node_id")]
    assert nodes == [1, 7]
    row = pg_sync.execute("SELECT generate_id(7)").fetchone()
    assert row is not None and heeranjid.HeerId(row[0]).node_id == 7


def test_node_settings_sql_quotes_and_validates() -> None:
    assert node_settings_sql("shop", 3) == (
        "ALTER DATABASE \"shop\" SET heer.node_id = '3';\nALTER DATABASE \"shop\" SET heer.ranj_node_id = '3';\n")
    with pytest.raises(ValidationError):
        node_settings_sql('shop"; DROP DATABASE x; --', 1)
    with pytest.raises(ValidationError):
        node_settings_sql("shop", 512)
    with pytest.raises(ValidationError):
        bootstrap_sql(-1)
