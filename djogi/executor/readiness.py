"""Waiting for a connection's socket with its reader kept registered on the event loop between waits.

psycopg's async wait (``psycopg.waiting.wait_async``) registers a reader with the event loop before every
wait and removes it after: two or more ``epoll_ctl`` system calls per wait (uvloop's libuv retries a failed
one), and a statement waits once or twice. Against a local server that cost 3 to 8 µs of a 210-260 µs
query on the quiet benchmark machine, and about 20 µs when its cores were contended.
``Readiness`` registers a connection's reader once and keeps it: a wait for a readable socket only arms a
future the reader resolves (and psycopg's wake-up timer). Everything else is psycopg's own code: a wait
for a writable socket (a large statement or COPY data that does not go out at once) goes to
``wait_async``.

What keeps the kept registration safe:

- data arriving while nothing waits (a NOTICE, the server closing an idle connection) calls the reader
  with no waiter, and it unregisters itself: a readable socket cannot keep waking the loop;
- ``release()`` unregisters before the socket can be closed or watched by other code: the connection's
  ``close()``, its collection when it is dropped without ``close()``, giving up on a silent server,
  psycopg's handling of an interrupted wait and psycopg's own waits; a descriptor closed while registered
  could be reused by another connection's socket, which the stale registration would then shadow;
- libpq closes the socket itself when it reads the server's end (a terminated backend, a restart): a wait
  that ends in an error unregisters, and so does one after which the connection is BAD
  (``BoundedConnection.wait``), before any other code can open a socket on the same number;
- a wait woken by its timer (every ``interval``, as psycopg's are) unregisters, and the next wait registers
  afresh, as psycopg's waits always do: a registration lost to code that went around ``release()``, or one
  the loop closed on a socket error (uvloop does, and keeps the closed handle until the reader is removed),
  costs at most one interval, never a hang. A wait on another event loop registers there.
"""

from __future__ import annotations

from asyncio import AbstractEventLoop, Future, get_running_loop, sleep
from time import monotonic
from typing import TypeVar

import psycopg
from psycopg import waiting
from psycopg.abc import PQGen
from psycopg.waiting import Ready, Wait

RV = TypeVar("RV")

_WAIT_R = Wait.R
_READY_R = Ready.R
_READY_NONE = Ready.NONE
_last_yield = 0.0  # when a wait here last let the loop run (see ``Readiness.wait``)


class Readiness:
    """The kept reader registration of one connection's socket (see the module)."""

    __slots__ = ("_fd", "_loop", "_waiter")

    def __init__(self) -> None:
        self._fd = -1
        self._loop: AbstractEventLoop | None = None  # the loop the reader is registered with, if any
        self._waiter: Future[Ready] | None = None

    def _readable(self) -> None:
        waiter = self._waiter
        if waiter is None:
            self.release()
        elif not waiter.done():
            waiter.set_result(_READY_R)

    def release(self) -> None:
        """Unregister the reader, if registered (safe to call at any time, also twice)."""
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self._fd)

    async def wait(self, gen: PQGen[RV], fd: int, interval: float, timeout: float | None) -> RV:
        """Drive ``gen`` (psycopg's protocol generator) on socket ``fd`` to its result, as
        ``psycopg.waiting.wait_async`` does: ``psycopg.errors._WaitTimeout`` after ``timeout`` seconds
        (None: no bound), ``psycopg.OperationalError`` when the socket is closed under it."""
        global _last_yield
        deadline = None if timeout is None else monotonic() + timeout
        try:
            try:
                state = next(gen)
            except StopIteration as done:  # no wait at all (as psycopg does: let the loop run now and then)
                if monotonic() - _last_yield >= waiting.MAX_BUSY_TIME:
                    await sleep(0)
                    _last_yield = monotonic()
                return done.value  # type: ignore[no-any-return]
            while True:
                left = None if deadline is None else deadline - monotonic()
                if state != _WAIT_R:
                    self.release()
                    ready = await waiting.wait_async(_step(state), fd, interval, left)
                else:
                    ready = await self._readable_within(fd, interval if left is None else min(interval, left))
                    _last_yield = monotonic()
                state = gen.send(ready)
                if deadline is not None and monotonic() >= deadline:
                    raise psycopg.errors._WaitTimeout("wait timeout expired")
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        except OSError as exc:  # the socket was closed under the wait
            self.release()
            raise psycopg.OperationalError("connection socket closed") from exc
        except BaseException:  # libpq may have closed the socket (it does on reading the server's end)
            self.release()
            raise

    async def _readable_within(self, fd: int, seconds: float) -> Ready | int:
        loop = get_running_loop()
        if self._loop is not loop or self._fd != fd:
            self.release()
            loop.add_reader(fd, self._readable)
            self._loop, self._fd = loop, fd
        waiter: Future[Ready] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(seconds, _wake, waiter)
        try:
            ready = await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if ready is _READY_NONE:  # woken by the timer: the next wait registers afresh (see the module)
            self.release()
        return ready


def _wake(waiter: Future[Ready]) -> None:
    if not waiter.done():
        waiter.set_result(_READY_NONE)


def _step(state: Wait) -> PQGen[Ready | int]:
    """A generator waiting once for ``state``: hands one wait to ``psycopg.waiting.wait_async``."""
    ready = yield state
    return ready


class RaisingFirst:
    """``gen`` raising ``exc`` when first advanced, then itself: an interrupted wait handed on to psycopg's
    ``AsyncConnection.wait``, whose handling of it (cancel the statement on the server and read the rest of
    ``gen``'s result, or close the connection) then runs as if psycopg's own wait had been interrupted."""

    __slots__ = ("_exc", "_gen")

    def __init__(self, exc: BaseException, gen: PQGen[RV]) -> None:
        self._exc: BaseException | None = exc
        self._gen = gen

    def __iter__(self) -> RaisingFirst:
        return self

    def __next__(self) -> object:
        exc, self._exc = self._exc, None
        if exc is not None:
            raise exc
        return next(self._gen)

    def send(self, value: object) -> object:
        return self._gen.send(value)  # type: ignore[arg-type]
