"""LISTEN on a dedicated connection: what wakes idle event workers (``djogi.events``).

``listen(url, channel)`` opens an autocommit connection (the executor's network options: connect timeout,
keepalives), runs ``LISTEN "<channel>"`` and yields a ``Notifications`` whose ``wait(timeout)`` returns the
payloads that arrived, or ``()`` after ``timeout`` seconds. A lost connection raises ``ConnectionFailure``
(``djogi.errors``); the caller opens a new one. The connection is closed when the block exits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg

from djogi.executor.bounded import network_options
from djogi.executor.errors import translate
from djogi.identifiers import quote_ident

__all__ = ["Notifications", "listen"]


class Notifications:
    """The notifications of one ``LISTEN`` connection."""

    def __init__(self, conn: psycopg.AsyncConnection[object]) -> None:
        self._conn = conn

    async def wait(self, timeout: float) -> tuple[str, ...]:
        """The payloads received within ``timeout`` seconds (at least one, unless the time ran out), with any
        others already queued. Raises ``ConnectionFailure`` when the connection is lost."""
        try:
            got = [n.payload async for n in self._conn.notifies(timeout=timeout, stop_after=1)]
            if got:
                got += [n.payload async for n in self._conn.notifies(timeout=0)]
        except psycopg.Error as exc:
            raise translate(exc) from exc
        return tuple(got)


@asynccontextmanager
async def listen(url: str, channel: str) -> AsyncIterator[Notifications]:
    """``LISTEN "<channel>"`` on a new connection to ``url``, closed after the block. Raises
    ``ConnectionFailure`` when the server cannot be reached."""
    try:
        options: dict[str, Any] = {**network_options(url)}
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, **options)
    except psycopg.Error as exc:
        raise translate(exc) from exc
    try:
        await conn.execute(f"LISTEN {quote_ident(channel)}")
        yield Notifications(conn)
    except psycopg.Error as exc:
        raise translate(exc) from exc
    finally:
        await conn.close()
