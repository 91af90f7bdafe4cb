"""The executor: the only part of djogi that does I/O.

``connect()`` yields a ``Database``: terminals over algebra values (``all``, ``one``, ``first``, ``get``,
``count``, ``exists``, ``scalar``, ``values``, ``in_bulk``, ``stream``, ``execute``), CRUD on frozen
models, bulk writes through binary COPY and ``unnest``, ``raw`` SQL, ``atomic()`` transactions with
savepoints and on-commit callbacks, ``retry_on_conflict`` and statement listeners. ``Connection`` is the
type ``connect(setup=...)`` hooks receive.

Inside: ``pool`` (connections: checkout, parking, liveness), ``session`` (where statements run: transaction
pinning, observation), ``rows`` (the one result-shape -> row-factory path), ``errors`` (the one
PostgreSQL error translation), ``transaction``, ``prefetch``, ``bulk``, ``bounded`` (bounded connections).
"""

from djogi.executor.connect import connect
from djogi.executor.database import Database
from djogi.executor.events import StatementEvent
from djogi.executor.pool import Connection
from djogi.executor.transaction import Atomic, Isolation

__all__ = ["Atomic", "Connection", "Database", "Isolation", "StatementEvent", "connect"]
