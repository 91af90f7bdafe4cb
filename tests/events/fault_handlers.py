"""The handler the worker-fault test's ``djogi events run`` processes load: it records each delivery
(event id and attempt) in ``ev_delivered`` on its own connection, reopened after the server restarts."""

from __future__ import annotations

import os
from typing import Any

import anyio
import psycopg

from djogi.events import Event, Handler
from tests.events.helpers import Order

_conn: list[psycopg.AsyncConnection[Any]] = []


async def record(event: Event) -> None:
    """INSERT the delivery, then take a moment, so that a kill finds batches in hand."""
    if not _conn or _conn[0].closed:
        _conn[:] = [await psycopg.AsyncConnection.connect(os.environ["DJOGI_DATABASE_URL"], autocommit=True)]
    try:
        await _conn[0].execute("INSERT INTO ev_delivered (event_id, attempt) VALUES (%s, %s)",
                               (event.id, event.attempt))
    except psycopg.OperationalError:
        await _conn[0].close()
        raise
    await anyio.sleep(0.002)


HANDLERS: dict[type[Any], Handler] = {Order: record}
