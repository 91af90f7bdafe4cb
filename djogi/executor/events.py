"""Statement observability: the ``djogi.sql`` logger and per-statement listener events."""

from __future__ import annotations

import logging
from collections.abc import Callable

import msgspec

logger = logging.getLogger("djogi.sql")


class StatementEvent(msgspec.Struct, frozen=True):
    """One statement the executor ran: its SQL (``$n`` placeholders), parameters, wall time in seconds
    and affected or returned row count (``-1`` when the server reported none)."""

    sql: str
    params: tuple[object, ...]
    duration_s: float
    rowcount: int


Listener = Callable[[StatementEvent], None]
