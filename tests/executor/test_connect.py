"""connect(): URL resolution, per-connection setup, prepared-statement switch, pool timeouts, logging."""

from __future__ import annotations

import logging

import anyio
import pytest

from djogi.errors import ConfigError, PoolTimeout, ValidationError
from djogi.executor import Connection, Database, connect

pytestmark = pytest.mark.anyio


async def test_url_from_the_environment_and_node_id(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJOGI_DATABASE_URL", db_url)
    with pytest.raises(ConfigError, match=r"node is 1 but this connection's node_id is 7: .* heer_set_node\(7\)"):
        async with connect(node_id=7):
            pass
    async with connect() as db:
        assert await db.raw("SELECT heer_set_node(7)") == [(7,)]
    async with connect(node_id=7) as db:
        assert await db.raw("SELECT current_setting('heer.node_id'), current_setting('heer.ranj_node_id')") == [
            ("7", "7")
        ]
    with pytest.raises(ValidationError):
        async with connect(db_url, node_id=512):
            pass


async def test_setup_hook_runs_once_per_connection(db_url: str) -> None:
    calls: list[int] = []

    async def setup(conn: Connection) -> None:
        calls.append(conn.info.backend_pid)
        await conn.execute("SET application_name = 'djogi-test'")

    async with connect(db_url, min_size=1, max_size=1, setup=setup) as db:
        for _ in range(3):
            assert await db.raw("SELECT current_setting('application_name')") == [("djogi-test",)]
    assert len(calls) == 1


async def test_prepared_statements_can_be_disabled(db_url: str) -> None:
    sql = "SELECT $1::int"
    async with connect(db_url, max_size=1, prepare=False) as db:
        for i in range(5):
            await db.raw(sql, (i,))
        assert await db.raw("SELECT count(*) FROM pg_prepared_statements") == [(0,)]
    async with connect(db_url, max_size=1) as db:
        for i in range(5):
            await db.raw(sql, (i,))
        assert await db.raw("SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", (sql,)) == [(1,)]


async def test_pool_timeout_is_transient(db_url: str) -> None:
    async with connect(db_url, min_size=1, max_size=1, timeout=0.2) as db:
        holding, done = anyio.Event(), anyio.Event()

        async def hold() -> None:
            async with db.atomic():
                holding.set()
                await done.wait()

        async with anyio.create_task_group() as tg:
            tg.start_soon(hold)
            await holding.wait()
            with pytest.raises(PoolTimeout) as info:
                await db.raw("SELECT 1")
            done.set()
        assert info.value.is_transient
        assert await db.raw("SELECT 1") == [(1,)]


async def test_statements_are_logged_at_debug(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="djogi.sql"):
        await db.raw("SELECT $1::text", ("hello",))
    assert any("SELECT $1::text" in r.getMessage() and "ms" in r.getMessage() for r in caplog.records)
