"""The connection classes of djogi (every wait on the server bounded, TCP keepalives on): the async one of
the executor's pools (and of its one-off connections, ``connect_bounded_async``) and the sync one of the
migration runner, ``db reset`` and ``db seed`` (``connect_bounded``); and ``unreachable``: one connection
attempt that says why a server cannot be reached.

A server can stop answering without closing the socket (a backend orphaned by a killed postmaster keeps
running; a host that vanished never sends a FIN): a plain connection then waits forever. Here each step
of the protocol psycopg waits on (a statement's result, one COPY chunk, a COMMIT) gives up after
``operation_timeout`` seconds, closes the connection and raises ``psycopg.OperationalError`` (translated
to ``ConnectionFailure``).
"""

from __future__ import annotations

import weakref
from asyncio import CancelledError
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar, cast

import psycopg
from psycopg.abc import PQGen
from psycopg.conninfo import conninfo_to_dict

from djogi.executor.errors import translate
from djogi.executor.readiness import RaisingFirst, Readiness
from djogi.redact import redact

RV = TypeVar("RV")
_BAD = psycopg.pq.ConnStatus.BAD

# libpq parameters added when the URL does not set them: connect within 10 s; probe an idle TCP connection
# after 30 s, every 10 s, 3 times; drop a connection whose sent data stays unacknowledged for 60 s.
NETWORK_DEFAULTS: Final[Mapping[str, str]] = {
    "connect_timeout": "10",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
    "tcp_user_timeout": "60000",
}


def network_options(url: str) -> dict[str, str]:
    """The ``NETWORK_DEFAULTS`` the URL does not set itself (the URL's own values win; all of them for a
    URL that does not parse, whose connection attempt then reports the problem)."""
    try:
        given = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        given = {}
    return {key: value for key, value in NETWORK_DEFAULTS.items() if key not in given}


async def unreachable(
    url: str, kwargs: Mapping[str, Any],
    probe: Callable[[BoundedConnection], Awaitable[BaseException | None]] | None = None,
) -> BaseException | None:
    """Open one connection, run ``probe`` on it (its error, if it returns one, is returned) and close it:
    None when that works, else the djogi error saying why (translated, the password redacted; psycopg's
    exception is not kept, as it may quote the conninfo)."""
    try:
        conn = await BoundedConnection.connect(url, **kwargs)
        async with conn:
            return None if probe is None else await probe(conn)
    except psycopg.Error as exc:
        error = translate(exc)
        error.args = (redact(str(error), url),)
        return error


def _gave_up(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any], bound: float) -> psycopg.OperationalError:
    """Close ``conn`` (its server stopped answering) and return the error saying so."""
    conn.pgconn.finish()
    return psycopg.OperationalError(
        f"no answer from the server within {bound:g} s (operation_timeout); the connection was closed"
    )


class BoundedConnection(psycopg.AsyncConnection[tuple[Any, ...]]):
    """An async connection whose waits on the server give up after ``operation_timeout`` seconds
    (None: no bound), closing the connection. Its waits keep the socket's reader registered with the event
    loop from one to the next (``djogi.executor.readiness``)."""

    operation_timeout: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._readiness = readiness = Readiness()
        # A connection dropped without close() closes its socket when collected: unregister first.
        weakref.finalize(self, readiness.release).atexit = False

    async def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        bound = self.operation_timeout if timeout is None else timeout
        try:
            result = await self._readiness.wait(gen, self.pgconn.socket, interval, bound)
        except psycopg.errors._WaitTimeout:
            self._readiness.release()
            if timeout is not None or bound is None:  # the caller's own bound (psycopg's cancellation path)
                raise
            raise _gave_up(self, bound) from None
        except (CancelledError, KeyboardInterrupt, SystemExit) as exc:  # psycopg's handling of an interruption
            self._readiness.release()
            return await psycopg.AsyncConnection.wait(self, cast(PQGen[RV], RaisingFirst(exc, gen)), interval, bound)
        if self.pgconn.status == _BAD:  # libpq read the server's end and closed the socket (see readiness)
            self._readiness.release()
        return result

    async def close(self) -> None:
        self._readiness.release()  # before the socket is closed (see djogi.executor.readiness)
        await super().close()


class BoundedSyncConnection(psycopg.Connection[tuple[Any, ...]]):
    """The sync twin of ``BoundedConnection`` (same bound, same error)."""

    operation_timeout: float | None = None

    def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        bound = self.operation_timeout if timeout is None else timeout
        try:
            return super().wait(gen, interval=interval, timeout=bound)
        except psycopg.errors._WaitTimeout:
            if timeout is not None or bound is None:
                raise
            raise _gave_up(self, bound) from None


def connect_bounded(url: str, operation_timeout: float, **kwargs: Any) -> BoundedSyncConnection:
    """A sync connection to ``url`` with the ``NETWORK_DEFAULTS`` the URL does not set, each wait on the
    server bounded by ``operation_timeout`` seconds (0: no bound). ``kwargs`` go to ``psycopg.connect``.
    Raises ``psycopg.OperationalError`` when the server cannot be reached within ``connect_timeout``."""
    conn = BoundedSyncConnection.connect(url, **{**network_options(url), **kwargs})
    conn.operation_timeout = operation_timeout or None
    return conn


async def connect_bounded_async(url: str, operation_timeout: float, **kwargs: Any) -> BoundedConnection:
    """The async twin of ``connect_bounded``: a ``BoundedConnection`` to ``url`` with the ``NETWORK_DEFAULTS``
    the URL does not set, each wait on the server bounded by ``operation_timeout`` seconds (0: no bound).
    Raises ``psycopg.OperationalError`` when the server cannot be reached within ``connect_timeout``."""
    conn = await BoundedConnection.connect(url, **{**network_options(url), **kwargs})
    conn.operation_timeout = operation_timeout or None
    return conn
