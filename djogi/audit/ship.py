"""The audit shipper: moves ``djogi_audit`` rows from the main database (the buffer the triggers write) to the
``crud_log`` database, in order, at least once, never duplicated at the destination.

One batch is one transaction on each side::

    main:     BEGIN; SELECT the oldest ``batch`` rows ORDER BY id ... FOR UPDATE
    crud_log: INSERT INTO djogi_audit ... ON CONFLICT (id) DO NOTHING; COMMIT
    main:     DELETE FROM djogi_audit WHERE id = ANY(<the batch>); COMMIT

A row leaves the buffer only after the log committed it; a failure between the two commits ships the batch
again, and the log keeps the first copy (dedup by id). Rows keep their buffer ids, the order of the trail.
One shipper runs at a time per main database (a session advisory lock). ``run`` ships until told to stop,
waiting out an unreachable database (nothing leaves the buffer meanwhile); ``drain`` ships what is there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

import msgspec
import psycopg

from djogi.config import DEFAULT_OPERATION_TIMEOUT
from djogi.errors import ConnectionFailure, DjogiError, ValidationError
from djogi.executor.bounded import BoundedSyncConnection, connect_bounded
from djogi.executor.errors import translate
from djogi.identifiers import quote_ident
from djogi.migrate.audit import AUDIT_COLUMNS, AUDIT_TABLE, audit_table_sql

__all__ = ["SHIP_LOCK", "ShipBatch", "ShipReport", "ShipperBusy", "drain", "run"]

logger = logging.getLogger("djogi.audit")

SHIP_LOCK: Final = 0x646A6F6769617564  # pg_advisory_lock key: "djogiaud"
"""The session advisory lock a shipper holds on the main database."""

_TABLE = quote_ident(AUDIT_TABLE)
_COLS = ", ".join(quote_ident(c) for c in AUDIT_COLUMNS)
_TAKE = (f"WITH batch AS (SELECT * FROM {_TABLE} ORDER BY id LIMIT %s FOR UPDATE) "
         "SELECT array_agg(id ORDER BY id), jsonb_agg(to_jsonb(batch) ORDER BY id)::text FROM batch")  # fmt: skip
_PUT = (f"INSERT INTO {_TABLE} ({_COLS}) SELECT {_COLS} FROM jsonb_populate_recordset(NULL::{_TABLE}, %s::jsonb) "
        "ORDER BY id ON CONFLICT (id) DO NOTHING")  # fmt: skip
_FORGET = f"DELETE FROM {_TABLE} WHERE id = ANY(%s)"


class ShipperBusy(DjogiError):
    """Another shipper holds the main database's shipping lock (``SHIP_LOCK``)."""


class ShipBatch(msgspec.Struct, frozen=True):
    """One shipped batch: how many rows, and the first and last ids."""

    rows: int
    first_id: int
    last_id: int


class ShipReport(msgspec.Struct, frozen=True):
    """What a ``run`` or ``drain`` shipped: ``rows`` in ``batches``, the last id shipped (0: none), and how
    many times a database could not be reached (``outages``)."""

    rows: int = 0
    batches: int = 0
    last_id: int = 0
    outages: int = 0


OnBatch = Callable[[ShipBatch], object]
OnOutage = Callable[[DjogiError, float], object]


class _Shipper:
    """The two connections of a shipper, opened on demand and closed after a failure."""

    def __init__(self, source: str, target: str, operation_timeout: float) -> None:
        if source == target:
            raise ValidationError("the audit shipper's source and target are the same database: configure a "
                                  "crud_log database apart from main")  # fmt: skip
        self.urls = (source, target)
        self.timeout = operation_timeout
        self.source: BoundedSyncConnection | None = None
        self.target: BoundedSyncConnection | None = None

    def connect(self) -> tuple[BoundedSyncConnection, BoundedSyncConnection]:
        if self.source is None:
            source = connect_bounded(self.urls[0], self.timeout, autocommit=True)
            row = source.execute("SELECT pg_try_advisory_lock(%s)", (SHIP_LOCK,)).fetchone()
            if row is None or not row[0]:
                source.close()
                raise ShipperBusy(f"another audit shipper is running against this main database (it holds the "
                                  f"advisory lock {SHIP_LOCK}); one shipper at a time keeps the trail in "
                                  "order")  # fmt: skip
            self.source = source
        if self.target is None:
            self.target = connect_bounded(self.urls[1], self.timeout, autocommit=True)
            self.target.execute(audit_table_sql(buffer=False))
        return self.source, self.target

    def ship(self, batch: int) -> ShipBatch | None:
        """One batch (None when the buffer is empty). Errors are raised as djogi errors, after closing both
        connections (the next batch opens them again)."""
        try:
            source, target = self.connect()
            with source.transaction():
                ids, rows = source.execute(_TAKE, (batch,)).fetchone() or (None, None)
                if not ids:
                    return None
                with target.transaction():
                    target.execute(_PUT, (rows,))
                source.execute(_FORGET, (ids,))
            return ShipBatch(len(ids), ids[0], ids[-1])
        except psycopg.Error as exc:
            self.close()
            raise translate(exc) from exc

    def close(self) -> None:
        for conn in (self.source, self.target):
            if conn is not None:
                conn.close()
        self.source = self.target = None


def drain(source: str, target: str, *, batch: int = 500, operation_timeout: float = DEFAULT_OPERATION_TIMEOUT,
          on_batch: OnBatch | None = None) -> ShipReport:  # fmt: skip
    """Ship every row in the buffer of ``source`` (the main database's URL) to ``target`` (the crud_log
    database's), ``batch`` rows per transaction, and return. Raises ``ConnectionFailure`` (and the other
    djogi errors) when a database fails, with the batches before it shipped and the rest still buffered;
    ``ShipperBusy`` when another shipper runs; ValidationError when the two URLs are the same."""
    shipper = _Shipper(source, target, operation_timeout)
    report = ShipReport()
    try:
        while (done := shipper.ship(_positive(batch))) is not None:
            report = _add(report, done, on_batch)
    finally:
        shipper.close()
    return report


def run(source: str, target: str, *, stop: threading.Event, batch: int = 500, poll: float = 1.0,
        backoff: tuple[float, float] = (0.5, 30.0), operation_timeout: float = DEFAULT_OPERATION_TIMEOUT,
        on_batch: OnBatch | None = None, on_outage: OnOutage | None = None) -> ShipReport:  # fmt: skip
    """Ship from ``source`` to ``target`` until ``stop`` is set: a full batch is followed at once by the next,
    an empty buffer is polled every ``poll`` seconds. A database that cannot be reached (or ends the session)
    is retried after ``backoff[0]`` seconds, doubling up to ``backoff[1]``, and reported to ``on_outage(error,
    delay)``; nothing leaves the buffer meanwhile. Setting ``stop`` ends the loop after the batch in flight
    (graceful shutdown). Raises ``ShipperBusy`` when another shipper runs and the djogi error of any failure
    that is not a lost connection (a missing table, a permission refused)."""
    shipper = _Shipper(source, target, operation_timeout)
    report = ShipReport()
    delay = backoff[0]
    try:
        while not stop.is_set():
            try:
                done = shipper.ship(_positive(batch))
            except ConnectionFailure as error:
                report = msgspec.structs.replace(report, outages=report.outages + 1)
                logger.warning("audit shipper: %s; retrying in %.1f s", error, delay)
                if on_outage is not None:
                    on_outage(error, delay)
                stop.wait(delay)
                delay = min(delay * 2, backoff[1])
                continue
            delay = backoff[0]
            if done is None:
                stop.wait(poll)
            else:
                report = _add(report, done, on_batch)
    finally:
        shipper.close()
    return report


def _positive(batch: int) -> int:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValidationError(f"batch must be a positive int, not {batch!r}")
    return batch


def _add(report: ShipReport, done: ShipBatch, on_batch: OnBatch | None) -> ShipReport:
    if on_batch is not None:
        on_batch(done)
    return ShipReport(rows=report.rows + done.rows, batches=report.batches + 1, last_id=done.last_id,
                      outages=report.outages)  # fmt: skip
