"""The executor: the only part of djogi that does I/O.

``connect()`` yields a ``Database``: terminals over algebra values (``all``, ``one``, ``first``, ``get``,
``count``, ``exists``, ``scalar``, ``values``, ``in_bulk``, ``stream``, ``execute``), ``prepare`` (a query
compiled once, run with named parameters), ``pipeline`` (statements sent in one round trip), CRUD on frozen
models, bulk writes through binary COPY and ``unnest``, ``raw`` SQL, ``atomic()`` transactions with
savepoints and on-commit callbacks, ``retry_on_conflict`` and statement listeners; ``listen`` (LISTEN
on a dedicated connection, for event workers). ``Connection`` is the
type ``connect(setup=...)`` hooks receive; ``add_links`` / ``remove_links`` edit many-to-many links. For the
rest of djogi: ``connect_bounded`` (the bounded sync connection of the migration runner, ``db reset`` and
``db seed``) and ``translate`` (the one PostgreSQL error translation).

Inside: ``pool`` (connections: checkout, parking, liveness), ``session`` (where statements run: transaction
pinning, observation), ``protocol`` (one statement sent and its result decoded, without a psycopg cursor),
``rows`` (the one result-shape -> row-factory path), ``errors`` (the one PostgreSQL error translation),
``transaction``, ``prefetch``, ``bulk``, ``bounded`` (bounded connections), ``readiness`` (the kept socket
registration).
"""

from djogi.executor.bounded import connect_bounded
from djogi.executor.connect import connect
from djogi.executor.database import Database
from djogi.executor.errors import translate
from djogi.executor.events import StatementEvent
from djogi.executor.notify import Notifications, listen
from djogi.executor.pipeline import Pending, Pipeline
from djogi.executor.pool import Connection
from djogi.executor.prefetch import add_links, remove_links
from djogi.executor.prepared import Prepared
from djogi.executor.transaction import Atomic, Isolation

__all__ = [
    "Atomic",
    "Connection",
    "Database",
    "Isolation",
    "Notifications",
    "Pending",
    "Pipeline",
    "Prepared",
    "StatementEvent",
    "add_links",
    "connect",
    "connect_bounded",
    "listen",
    "remove_links",
    "translate",
]
