"""Event workers: deliver the events of outbox-enabled models to handlers, at least once.

A ``Worker`` claims a batch per outbox table (``djogi.events.sql.claim``: ``FOR UPDATE SKIP LOCKED`` and a
lease), calls the model's handler on each event in id order, then publishes the delivered ones in one
statement and schedules each failed one for a retry with exponential backoff (``failed`` with the reason
after ``max_attempts``). A worker that dies mid-batch delivers nothing more: its lease expires and another
worker claims the batch again, so a handler sees an event more than once only when a worker was lost (or
could not record the delivery) after calling it. Idle, the worker waits on ``LISTEN djogi_outbox``
(``djogi.executor.listen``: the capture triggers notify at commit), polling every ``poll`` seconds too.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import msgspec

from djogi.errors import ConnectionFailure, PoolTimeout, ValidationError
from djogi.events import sql
from djogi.executor import Database, Notifications, listen
from djogi.migrate.outbox import CHANNEL, companion_name
from djogi.model import Model, descriptor

__all__ = ["Event", "Handler", "Worker"]

logger = logging.getLogger("djogi.events")

Action = Literal["create", "save", "delete"]


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One captured write: ``model`` and its ``outbox`` table, the event's ``id`` there, the row's key
    (``row_id``), the ``action``, the row as JSON (``payload``, keyed by column, excluded columns left out),
    who acted (``actor``: ``AuthContext.user_id`` as text, or None), the row's ``tenant`` (None for a model
    without a tenant key), when the write's transaction began (``created_at``) and which delivery
    ``attempt`` this is (1 for the first)."""

    id: int
    model: type[Any]
    outbox: str
    row_id: Any
    action: Action
    payload: dict[str, Any]
    actor: str | None
    tenant: Any
    created_at: dt.datetime
    attempt: int


Handler = Callable[[Event], Awaitable[object]]
"""An event handler: returns to acknowledge the event, raises to have it retried."""


@dataclass(frozen=True, slots=True)
class _Source:
    """One outbox table a worker drains, with its handler and statements."""

    model: type[Any]
    outbox: str
    handler: Handler
    tenanted: bool
    claim: str
    ack: str
    retry: str
    release: str
    expire: str


def _source(model: type[Any], handler: Handler) -> _Source:
    desc = descriptor(model)
    if not desc.outbox:
        raise ValidationError(f"{desc.name} has no outbox: declare it with outbox=True to handle its events")
    outbox = companion_name(desc.table)
    tenant = desc.field(desc.tenant_key).column if desc.tenant_key else None
    return _Source(model, outbox, handler, tenant is not None, sql.claim(outbox, tenant), sql.ack(outbox),
                   sql.retry(outbox), sql.release(outbox), sql.expire(outbox))  # fmt: skip


def _positive(name: str, value: float, *, integer: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or (integer and
                                                                                       not isinstance(value, int)):
        kind = "a positive int" if integer else "a positive number of seconds"
        raise ValidationError(f"Worker({name}=...) must be {kind}, not {value!r}")


class Worker:
    """Delivers the events of the models in ``handlers`` (``{Model: handler}``, each declared ``outbox=True``).

    ``db`` must see every event: connect as a role that bypasses row-level security for tenant-keyed models
    (or pass ``db.insecurely()``); handlers get the event's ``tenant`` to scope their own work
    (``db.with_tenant(event.tenant)``). ``batch_size`` events are claimed per table at a time, leased for
    ``lease`` seconds (longer than a batch takes to handle, or another worker delivers it again); a failed
    attempt waits ``backoff * 2 ** (attempt - 1)`` seconds (at most ``max_backoff``) before the next, and
    the event is ``failed`` after ``max_attempts``. ``listen=False`` polls only. Raises ValidationError for
    a model without an outbox or a setting out of range.
    """

    def __init__(
        self, db: Database, handlers: Mapping[type[Model[Any]], Handler], *, batch_size: int = 100,
        lease: float = 30.0, max_attempts: int = 5, backoff: float = 1.0, max_backoff: float = 300.0,
        poll: float = 5.0, listen: bool = True,
    ) -> None:  # fmt: skip
        if not handlers:
            raise ValidationError("Worker() needs at least one {Model: handler}")
        for name, value in (("lease", lease), ("backoff", backoff), ("max_backoff", max_backoff), ("poll", poll)):
            _positive(name, value)
        for name, count in (("batch_size", batch_size), ("max_attempts", max_attempts)):
            _positive(name, count, integer=True)
        self.db = db
        self.sources = tuple(_source(model, handler) for model, handler in handlers.items())
        self.batch_size, self.lease, self.max_attempts = batch_size, lease, max_attempts
        self.backoff, self.max_backoff, self.poll, self.listen = backoff, max_backoff, poll, listen
        self.delivered = 0
        """Events handled and published."""
        self.retried = 0
        """Failed attempts scheduled for another."""
        self.failed = 0
        """Events given up on (``max_attempts`` reached)."""
        self.on_progress: Callable[[Worker], object] | None = None
        """Called after each batch (the CLI's progress display)."""
        self._stopping = False
        self._idle: anyio.CancelScope | None = None

    def stop(self) -> None:
        """Ask ``run()`` to return once the event in hand is handled; the rest of its batch is released for
        other workers. Call it from the worker's event loop (a signal receiver, another task)."""
        self._stopping = True
        if self._idle is not None:
            self._idle.cancel()

    @property
    def stopping(self) -> bool:
        """True once ``stop()`` was called."""
        return self._stopping

    def delay(self, attempt: int) -> float:
        """Seconds before the attempt after ``attempt`` fails: ``backoff * 2 ** (attempt - 1)``, capped."""
        return float(min(self.max_backoff, self.backoff * 2 ** min(attempt - 1, 62)))

    async def check(self) -> None:
        """ValidationError when a tenant-keyed model's events would be invisible to ``db``'s role (it neither
        is a superuser nor has ``BYPASSRLS``)."""
        if not any(s.tenanted for s in self.sources):
            return
        rows = await self.db.raw("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        if not (rows and rows[0][0]):
            names = ", ".join(s.model.__name__ for s in self.sources if s.tenanted)
            raise ValidationError(
                f"the worker's role is subject to row-level security, so it would see no events of the tenant-keyed "
                f"{names}: connect as a BYPASSRLS role or pass db.insecurely()"
            )

    async def run_once(self) -> int:
        """Claim and handle one batch per outbox table; the number of events handled (delivered, retried or
        failed). Returns 0 when nothing was due."""
        handled = 0
        for source in self.sources:
            if self._stopping:
                break
            handled += await self._batch(source)
        if handled and self.on_progress is not None:
            self.on_progress(self)
        return handled

    async def drain(self) -> int:
        """``run_once()`` until nothing is due (events waiting for a retry's backoff are not due); the number
        of events handled."""
        total = 0
        while not self._stopping and (handled := await self.run_once()):
            total += handled
        return total

    async def run(self) -> None:
        """Deliver events until ``stop()``: drain, then wait for a notification (or ``poll`` seconds). A lost
        connection (the server restarted) is logged and retried after a pause; events leased when it was
        lost are delivered again once their lease expires."""
        await self.check()
        pause = 0.1
        while not self._stopping:
            try:
                if self.listen:
                    async with listen(self.db.url, CHANNEL) as notes:
                        await self._loop(notes)
                else:
                    await self._loop(None)
            except (ConnectionFailure, PoolTimeout) as exc:
                logger.warning("event worker lost its connection (%s); retrying in %.1fs", exc, pause)
                await self._rest(None, pause)
                pause = min(pause * 2, self.poll)

    async def _loop(self, notes: Notifications | None) -> None:
        while not self._stopping:
            if await self.run_once():
                continue
            for source in self.sources:
                await self.db.raw(source.expire, (self.max_attempts,))
            await self._rest(notes, self.poll)

    async def _rest(self, notes: Notifications | None, seconds: float) -> None:
        """Wait ``seconds``, for a notification, or for ``stop()``, whichever comes first."""
        if self._stopping:
            return
        with anyio.CancelScope() as scope:
            self._idle = scope
            try:
                with anyio.move_on_after(seconds):
                    if notes is None:
                        await anyio.sleep(seconds)
                    else:
                        await notes.wait(seconds)
            finally:
                self._idle = None

    async def _batch(self, s: _Source) -> int:
        rows = await self.db.raw(s.claim, (self.batch_size, self.lease, self.max_attempts))
        if not rows:
            return 0
        rows.sort(key=lambda r: r[0])
        delivered: list[int] = []
        failures: list[tuple[Event, BaseException]] = []
        handled = 0
        for event_id, row_id, action, payload, actor, created_at, attempt, tenant in rows:
            if self._stopping:
                break
            event = Event(id=event_id, model=s.model, outbox=s.outbox, row_id=row_id, action=action,
                          payload=payload, actor=actor, tenant=tenant, created_at=created_at, attempt=attempt)
            handled += 1
            try:
                await s.handler(event)
            except Exception as exc:  # a handler's failure is the event's, retried; cancellation passes
                failures.append((event, exc))
            else:
                delivered.append(event_id)
        if delivered:
            await self.db.raw(s.ack, (delivered,))
            self.delivered += len(delivered)
        for event, error in failures:
            reason = f"attempt {event.attempt}: {type(error).__name__}: {error}"[:2000]
            await self.db.raw(s.retry, (event.id, self.delay(event.attempt), self.max_attempts, reason))
            if event.attempt >= self.max_attempts:
                self.failed += 1
                logger.error("event %s of %s failed for good: %s", event.id, s.outbox, reason)
            else:
                self.retried += 1
        rest = [r[0] for r in rows[handled:]]
        if rest:
            await self.db.raw(s.release, (rest,))
        return handled
