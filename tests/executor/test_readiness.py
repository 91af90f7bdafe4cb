"""A djogi connection keeps its socket's reader registered with the event loop from one wait to the next
(``djogi.executor.readiness``), and unregisters it before anything can close or reuse the socket.

Each test runs its own event loop (asyncio's selector loop, and uvloop's when installed), subclassed only to
record when a reader is added or removed and whether the descriptor was still open then; the server is real.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg
import pytest

from djogi.executor.bounded import BoundedConnection, connect_bounded_async


def _recording(base: type[asyncio.AbstractEventLoop]) -> type[asyncio.AbstractEventLoop]:
    class Recording(base):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.events: list[tuple[str, int, bool]] = []  # (added/removed, fd, fd still open)

        def add_reader(self, fd: Any, callback: Any, *args: Any) -> None:
            self.events.append(("added", fd, _open(fd)))
            super().add_reader(fd, callback, *args)

        def remove_reader(self, fd: Any) -> bool:
            self.events.append(("removed", fd, _open(fd)))
            return bool(super().remove_reader(fd))

    return Recording


def _open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _loops() -> list[Any]:
    loops: list[Any] = [pytest.param(asyncio.SelectorEventLoop, id="asyncio")]
    try:
        import uvloop
    except ImportError:
        return loops
    return [*loops, pytest.param(uvloop.Loop, id="uvloop")]


def _run(base: type[asyncio.AbstractEventLoop], work: Callable[[Any], Coroutine[Any, Any, None]]) -> Any:
    loop = _recording(base)()
    with asyncio.Runner(loop_factory=lambda: loop) as runner:
        runner.run(asyncio.wait_for(work(loop), 30))
    return loop


async def _connect(url: str) -> BoundedConnection:
    return await connect_bounded_async(url, 10, autocommit=True)


@pytest.mark.parametrize("base", _loops())
def test_one_registration_serves_many_statements_and_close_removes_it_first(db_url: str, base: Any) -> None:
    fds: list[int] = []

    async def work(loop: Any) -> None:
        conn = await _connect(db_url)
        fds.append(conn.pgconn.socket)
        loop.events.clear()  # the connection attempt's own waits are psycopg's
        for n in range(20):
            assert await (await conn.execute("SELECT %s::int", (n,))).fetchone() == (n,)
        assert [e for e in loop.events if e[1] == fds[0]] == [("added", fds[0], True)]
        await conn.close()

    loop = _run(base, work)
    assert [e for e in loop.events if e[1] == fds[0]] == [("added", fds[0], True), ("removed", fds[0], True)]


@pytest.mark.parametrize("base", _loops())
def test_a_statement_too_large_for_the_socket_and_copy_still_complete(db_url: str, base: Any) -> None:
    big = "x" * (16 << 20)  # more than a socket buffer: psycopg's own wait sends it, then ours reads

    async def work(loop: Any) -> None:
        conn = await _connect(db_url)
        assert await (await conn.execute("SELECT length(%s::text)", (big,))).fetchone() == (len(big),)
        await conn.execute("CREATE TEMP TABLE copied (n int, s text)")
        async with conn.cursor() as cur, cur.copy("COPY copied FROM STDIN") as copy:
            for n in range(2000):
                await copy.write_row((n, big[:1000]))
        assert await (await conn.execute("SELECT count(*), sum(length(s)) FROM copied")).fetchone() == (2000, 2000000)
        assert await (await conn.execute("SELECT 1")).fetchone() == (1,)
        await conn.close()

    _run(base, work)


@pytest.mark.parametrize("base", _loops())
def test_a_connection_closed_by_the_server_while_idle_unregisters_and_then_fails(db_url: str, base: Any) -> None:
    async def work(loop: Any) -> None:
        conn = await _connect(db_url)
        fd = conn.pgconn.socket
        loop.events.clear()  # the connection attempt's own waits are psycopg's
        pid = (await (await conn.execute("SELECT pg_backend_pid()")).fetchone() or [0])[0]
        async with await _connect(db_url) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(100):  # the socket turns readable (the server's goodbye) with nothing waiting on it
            if ("removed", fd, True) in loop.events:
                break
            await asyncio.sleep(0.01)
        # once: a readable socket with nothing waiting does not keep waking the loop
        assert [e for e in loop.events if e[1] == fd] == [("added", fd, True), ("removed", fd, True)]
        with pytest.raises(psycopg.OperationalError):
            await conn.execute("SELECT 1")
        await conn.close()

    _run(base, work)


@pytest.mark.parametrize("base", _loops())
def test_a_descriptor_reused_by_the_next_connection_serves_it(db_url: str, base: Any) -> None:
    async def work(loop: Any) -> None:
        first = await _connect(db_url)
        await first.execute("SELECT 1")
        fd = first.pgconn.socket
        await first.close()
        second = await _connect(db_url)
        reused = second.pgconn.socket == fd
        for n in range(5):
            assert await (await second.execute("SELECT %s::int", (n,))).fetchone() == (n,)
        await second.close()
        assert reused or second.pgconn.socket != fd  # (the kernel normally hands out the lowest free number)

    _run(base, work)


@pytest.mark.parametrize("base", _loops())
def test_a_cancelled_statement_is_cancelled_on_the_server_and_the_connection_stays_usable(
    db_url: str, base: Any
) -> None:
    async def work(loop: Any) -> None:
        conn = await _connect(db_url)
        with pytest.raises(TimeoutError):  # the task is cancelled inside the wait: psycopg's handling runs
            await asyncio.wait_for(conn.execute("SELECT pg_sleep(30)"), 0.3)
        assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert await (await conn.execute("SELECT 7")).fetchone() == (7,)
        await conn.close()

    _run(base, work)


@pytest.mark.parametrize("base", _loops())
def test_a_connection_dropped_without_close_unregisters_before_its_socket_closes(db_url: str, base: Any) -> None:
    fds: list[int] = []

    async def work(loop: Any) -> None:
        conn = await _connect(db_url)
        await conn.execute("SELECT 1")
        fds.append(conn.pgconn.socket)
        with pytest.warns(ResourceWarning):  # psycopg's own warning about a connection deleted while open
            del conn
            gc.collect()

    loop = _run(base, work)
    assert [e for e in loop.events if e[1] == fds[0]][-1] == ("removed", fds[0], True)


@pytest.mark.parametrize("base", _loops())
def test_a_statement_cut_off_by_the_server_unregisters_before_the_next_socket_opens(db_url: str, base: Any) -> None:
    """libpq closes the socket when it reads the server's end mid-statement; the registration must go with
    it, before the next connection can be given the same descriptor number."""

    async def work(loop: Any) -> None:
        conn = await _connect(db_url)
        fd = conn.pgconn.socket
        pid = (await (await conn.execute("SELECT pg_backend_pid()")).fetchone() or [0])[0]
        loop.events.clear()

        async def terminate() -> None:
            await asyncio.sleep(0.3)
            async with await _connect(db_url) as admin:
                await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

        killer = asyncio.ensure_future(terminate())
        with pytest.raises(psycopg.OperationalError):
            await conn.execute("SELECT pg_sleep(30)")
        await killer
        # removed once, before any new socket: the admin connection's own fd came and went while ours was
        # still registered and open, so its number differs; nothing is registered for ``fd`` now
        ours = [e for e in loop.events if e[1] == fd]
        assert ours[-1][0] == "removed", ours
        assert not loop.remove_reader(fd)
        second = await _connect(db_url)  # typically given ``fd`` again
        for n in range(3):
            assert await (await second.execute("SELECT %s::int", (n,))).fetchone() == (n,)
        await second.close()
        await conn.close()

    _run(base, work)
