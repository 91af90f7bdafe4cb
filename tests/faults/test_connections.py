"""Connections under real faults: a restarted server, a terminated backend, a frozen backend, a killed
postmaster during COPY, a wrong URL. Each test is bounded by ``FAULT_BOUND_S``."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from psycopg import AsyncConnection

from djogi import Field, Model
from djogi.embedded import EmbeddedServer
from djogi.errors import CommitUnknown, ConnectionFailure
from djogi.executor import Database, connect
from tests.faults.helpers import FAULT_BOUND_S, kill_all, kill_postmaster, ready

pytestmark = pytest.mark.anyio


class FaultItem(Model, table="fault_items"):
    name: Field[str]


ITEMS_DDL = (
    "DROP TABLE IF EXISTS fault_items",
    "CREATE TABLE fault_items (id bigint PRIMARY KEY DEFAULT heerid_next_desc(), "
    "created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), name text NOT NULL)",
)


async def _items_table(db: Database) -> None:
    for sql in ITEMS_DDL:
        await db.raw(sql)


@asynccontextmanager
async def _pool_and_admin(server: EmbeddedServer, **pool: Any) -> AsyncIterator[tuple[Database, AsyncConnection]]:
    """A djogi pool on ``server`` plus a plain admin connection that terminates its backends; bounded."""
    url = ready(server)
    with anyio.fail_after(FAULT_BOUND_S):
        async with connect(url, **pool) as db, await AsyncConnection.connect(url, autocommit=True) as admin:
            yield db, admin


async def _terminate(admin: AsyncConnection, pid: int) -> None:
    """End backend ``pid`` from outside (57P01, as a restart does), and let the client see it."""
    await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    await anyio.sleep(0.2)


async def _warm(db: Database, n: int) -> set[int]:
    """Check ``n`` connections out at once, so ``n`` idle ones (parked and pooled) exist afterwards."""
    pids: set[int] = set()

    async def one() -> None:
        pids.add((await db.raw("SELECT pg_backend_pid(), pg_sleep(0.1)"))[0][0])

    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(one)
    return pids


async def test_every_idle_connection_survives_a_server_restart(private_server: EmbeddedServer) -> None:
    url = ready(private_server)
    with anyio.fail_after(FAULT_BOUND_S):
        async with connect(url, min_size=4, max_size=4) as db:
            before = await _warm(db, 4)
            private_server.stop()
            private_server.start()
            # Not one statement fails: each dead connection is found before anything is sent on it.
            for _ in range(6):
                assert await db.raw("SELECT 1") == [(1,)]
            after = await _warm(db, 4)
            assert after and not after & before
            async with db.atomic():
                assert await db.raw("SELECT 2") == [(2,)]


async def test_a_statement_whose_session_is_terminated_is_sent_again(private_server: EmbeddedServer) -> None:
    async with _pool_and_admin(private_server, min_size=1, max_size=2) as (db, admin):
        victim = (await db.raw("SELECT pg_backend_pid()"))[0][0]

        async def terminate_when_sleeping() -> None:
            while not await (await admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND query LIKE '%%pg_sleep%%'", (victim,)
            )).fetchone():
                await anyio.sleep(0.01)
            await admin.execute("SELECT pg_terminate_backend(%s)", (victim,))  # 57P01 mid-statement

        async with anyio.create_task_group() as tg:
            tg.start_soon(terminate_when_sleeping)
            rows = await db.raw("SELECT pg_backend_pid(), pg_sleep(0.5)::text")
        assert rows[0][0] != victim  # answered by a fresh connection


async def test_a_statement_is_sent_again_once_not_twice(
    private_server: EmbeddedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Every backend running the statement is terminated: it runs twice (the resend), then the failure is
    raised; it is never sent a third time."""
    marker = "SELECT pg_sleep(5), 'resent-once'"
    async with _pool_and_admin(private_server, min_size=1, max_size=2) as (db, admin):
        await db.raw("SELECT 1")
        terminated: set[int] = set()

        async def terminate_every_run() -> None:
            while True:
                rows = await (await admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE query = %s AND pid <> pg_backend_pid()", (marker,)
                )).fetchall()
                for (pid,) in rows:
                    await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))  # 57P01 mid-statement
                    terminated.add(pid)
                await anyio.sleep(0.01)

        with caplog.at_level(logging.INFO, logger="djogi.sql"):
            async with anyio.create_task_group() as tg:
                tg.start_soon(terminate_every_run)
                with pytest.raises(ConnectionFailure) as info:
                    await db.raw(marker)
                await anyio.sleep(0.5)  # a third run, if there were one, would be found and counted
                tg.cancel_scope.cancel()
        assert info.value.resendable
        assert len(terminated) == 2
        resent = [r for r in caplog.records if "sending the statement again" in r.getMessage()]
        assert len(resent) == 1
        assert await db.raw("SELECT 3") == [(3,)]  # the pool recovers


async def test_inside_a_transaction_a_lost_session_is_transient_and_retried_whole(
    private_server: EmbeddedServer,
) -> None:
    async with _pool_and_admin(private_server, min_size=1, max_size=2) as (db, admin):
        await db.raw("DROP TABLE IF EXISTS ledger")
        await db.raw("CREATE TABLE ledger (n int)")
        attempts: list[int] = []

        async def transfer() -> None:
            pid = (await db.raw("SELECT pg_backend_pid()"))[0][0]
            attempts.append(pid)
            await db.raw("INSERT INTO ledger VALUES (1)")
            if len(attempts) == 1:
                await _terminate(admin, pid)
            await db.raw("INSERT INTO ledger VALUES (2)")

        await db.retry_on_conflict(transfer)
        assert len(attempts) == 2
        assert await db.raw("SELECT n FROM ledger ORDER BY n") == [(1,), (2,)]  # the first attempt left nothing

        with pytest.raises(ConnectionFailure) as info:
            async with db.atomic():
                await _terminate(admin, (await db.raw("SELECT pg_backend_pid()"))[0][0])
                await db.raw("SELECT 1")
        assert info.value.is_transient  # raised, not sent again: the transaction it belonged to is gone


async def test_a_commit_cut_off_is_reported_as_unknown_not_transient(private_server: EmbeddedServer) -> None:
    async with _pool_and_admin(private_server, min_size=1, max_size=1) as (db, admin):
        with pytest.raises(CommitUnknown) as info:
            async with db.atomic():
                await _terminate(admin, (await db.raw("SELECT pg_backend_pid()"))[0][0])
        assert not info.value.is_transient
        assert "may or may not have committed" in str(info.value)


async def test_a_frozen_backend_fails_the_call_within_the_operation_timeout(private_server: EmbeddedServer) -> None:
    url = ready(private_server)
    with anyio.fail_after(FAULT_BOUND_S):
        async with connect(url, min_size=1, max_size=1, operation_timeout=1.0) as db:
            await _items_table(db)
            pid = (await db.raw("SELECT pg_backend_pid()"))[0][0]
            os.kill(pid, signal.SIGSTOP)  # the server stops answering; the kernel keeps the socket open
            try:
                with pytest.raises(ConnectionFailure, match="operation_timeout"):
                    await db.raw("SELECT 1")
            finally:
                os.kill(pid, signal.SIGCONT)
            assert await db.raw("SELECT 1") == [(1,)]  # the pool replaced the closed connection

            pid = (await db.raw("SELECT pg_backend_pid()"))[0][0]
            rows = [FaultItem(name="x" * 500) for _ in range(200_000)]  # more than the socket buffers hold

            freeze = threading.Timer(0.05, os.kill, (pid, signal.SIGSTOP))  # mid-COPY
            freeze.start()
            try:
                with pytest.raises(ConnectionFailure, match="operation_timeout"):
                    await db.bulk_create(rows, returning=False)
            finally:
                freeze.join()
                os.kill(pid, signal.SIGCONT)


async def test_killing_the_postmaster_during_copy_fails_the_call(private_server: EmbeddedServer) -> None:
    url = ready(private_server)
    orphans: list[int] = []
    try:
        with anyio.fail_after(FAULT_BOUND_S):
            async with connect(url, min_size=1, max_size=1, operation_timeout=2.0) as db:
                await _items_table(db)
                rows = [FaultItem(name="x" * 200) for _ in range(200_000)]

                crash = threading.Timer(0.3, lambda: orphans.extend(kill_postmaster(private_server)))
                crash.start()
                with pytest.raises(ConnectionFailure):
                    for _ in range(50):
                        await db.bulk_create(rows, returning=False)
                crash.join()
                assert orphans
    finally:
        kill_all(orphans)


async def test_a_wrong_url_fails_at_once_with_its_cause() -> None:
    with anyio.fail_after(FAULT_BOUND_S):
        with pytest.raises(ConnectionFailure, match="Connection refused") as info:
            async with connect("postgresql://app:hunter2@127.0.0.1:1/app", timeout=30.0):
                pass
    assert "hunter2" not in str(info.value)


async def test_a_server_that_is_down_is_named_not_hidden_behind_a_pool_timeout(
    private_server: EmbeddedServer,
) -> None:
    url = ready(private_server)
    with anyio.fail_after(FAULT_BOUND_S):
        async with connect(url, min_size=1, max_size=1, timeout=1.0) as db:
            await db.raw("SELECT 1")
            private_server.stop()
            with pytest.raises(ConnectionFailure, match="Connection refused") as info:
                await db.raw("SELECT 1")
            assert info.value.is_transient
            private_server.start()
            assert await db.retry_on_conflict(lambda: db.raw("SELECT 1"), attempts=20, backoff=0.5) == [(1,)]
