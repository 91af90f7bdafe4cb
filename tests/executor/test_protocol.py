"""``djogi.executor.protocol``: statements run without psycopg's cursor share psycopg's prepared statements
(threshold, DEALLOCATE after DDL, eviction), keep per-type statements apart, and fail as the cursor did."""

from __future__ import annotations

import psycopg
import pytest

from djogi import Field, Model
from djogi.algebra.query import select
from djogi.errors import DatabaseError
from djogi.executor import Database, connect

pytestmark = pytest.mark.anyio

PREPARED = "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1"


async def _prepared(db: Database, sql: str) -> int:
    rows = await db.raw(PREPARED, (sql,))
    return int(rows[0][0])


async def test_a_statement_is_prepared_at_its_second_run_and_again_after_ddl_deallocates_all(db_url: str) -> None:
    sql = "SELECT $1::bigint + 1"
    async with connect(db_url, min_size=1, max_size=1) as db:
        assert await db.raw(sql, (1,)) == [(2,)]
        assert await _prepared(db, sql) == 0
        assert await db.raw(sql, (2,)) == [(3,)]
        assert await _prepared(db, sql) == 1
        # DDL: psycopg's manager forgets its statements and DEALLOCATEs them all on the server
        await db.raw("CREATE TABLE protocol_probe (id int)")
        await db.raw("ALTER TABLE protocol_probe ADD COLUMN note text")
        assert await _prepared(db, sql) == 0
        assert await db.raw(sql, (3,)) == [(4,)]  # not "prepared statement does not exist"
        assert await db.raw(sql, (4,)) == [(5,)]
        assert await _prepared(db, sql) == 1


async def test_evicted_statements_are_deallocated_on_the_server(db_url: str) -> None:
    async with connect(db_url, min_size=1, max_size=1) as db:
        for i in range(130):  # more shapes than psycopg's manager keeps (prepared_max, 100)
            for _ in range(2):
                assert await db.raw(f"SELECT {i} + $1::int", (1,)) == [(i + 1,)]
        rows = await db.raw("SELECT count(*) FROM pg_prepared_statements")
        assert 90 <= rows[0][0] <= 101, rows  # the evicted ones are gone, the recent ones kept
        assert await _prepared(db, "SELECT 129 + $1::int") == 1
        assert await _prepared(db, "SELECT 0 + $1::int") == 0


async def test_parameters_dumped_as_different_types_run_as_different_statements(db_url: str) -> None:
    sql = "SELECT $1::bigint * 2"
    async with connect(db_url, min_size=1, max_size=1) as db:
        for _ in range(3):  # small values dump as int2, large ones as int8: two prepared statements
            assert await db.raw(sql, (7,)) == [(14,)]
            assert await db.raw(sql, (2**40,)) == [(2**41,)]
            assert await db.raw(sql, (None,)) == [(None,)]
        assert await _prepared(db, sql) >= 2


async def test_copy_and_server_errors_raise_djogi_errors_and_the_connection_stays_usable(db_url: str) -> None:
    async with connect(db_url, min_size=1, max_size=1) as db:
        with pytest.raises(DatabaseError, match=r"COPY cannot be used with this method; use copy\(\) instead"):
            await db.raw("COPY (SELECT 1) TO STDOUT")
        with pytest.raises(DatabaseError, match="does not exist"):
            await db.raw("SELECT * FROM no_such_table_here")
        assert await db.raw("SELECT $1::text", ("still fine",)) == [("still fine",)]


async def test_a_statement_of_nothing_but_a_comment_returns_no_rows(db_url: str) -> None:
    async with connect(db_url, min_size=1, max_size=1) as db:
        assert await db.raw("-- nothing to run") == []
        assert await db.raw("SELECT 1") == [(1,)]



class ProtoItem(Model, table="proto_items"):
    name: Field[str]


async def test_a_pipeline_as_the_first_work_of_a_new_connection_decodes_its_results(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute(
            "CREATE TABLE proto_items (id bigint PRIMARY KEY DEFAULT heerid_next_desc(), "
            "created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), "
            "name text NOT NULL)"
        )
        admin.execute("INSERT INTO proto_items (name) VALUES ('a'), ('b')")
    # the connection has run only its setup, through psycopg's cursor: no kept transformer yet
    async with connect(db_url, min_size=1, max_size=1) as db, db.pipeline() as p:
        counted = p.count(select(ProtoItem))
        named = p.all(select(ProtoItem).order_by(ProtoItem.name))
    assert counted.value == 2
    assert [item.name for item in named.value] == ["a", "b"]
