"""Transactions: ``atomic()`` scopes (outermost = BEGIN/COMMIT, nested = savepoints) and their state."""

from __future__ import annotations

import inspect
import random
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Literal, TypeVar

import anyio

from djogi.errors import CommitUnknown, ConnectionFailure, DjogiError, ValidationError
from djogi.executor.events import logger

if TYPE_CHECKING:
    from djogi.auth import AuthContext
    from djogi.executor.pool import Connection
    from djogi.executor.session import Session

Isolation = Literal["read committed", "repeatable read", "serializable"]
OnCommit = Callable[[], object]
T = TypeVar("T")

_ISOLATIONS: frozenset[str] = frozenset({"read committed", "repeatable read", "serializable"})


CLEAN: tuple[str, str, str] = ("", "none", "")
"""The scope of a transaction that set none: no tenant, the session's own role, no actor."""


class TransactionState:
    """The open transaction of one task: its pinned connection, savepoint depth, on-commit queue, the auth
    context set on it (``Database.set_auth``) and the scope (tenant, role, actor) applied on the connection (None
    after a savepoint rollback, which may have undone it)."""

    __slots__ = ("applied", "auth", "callbacks", "conn", "depth", "owner")

    def __init__(self, conn: Connection, owner: int) -> None:
        self.conn = conn
        self.owner = owner
        self.depth = 0
        self.callbacks: list[OnCommit] = []
        self.auth: AuthContext | None = None
        self.applied: tuple[str, str, str] | None = CLEAN


def begin_sql(isolation: Isolation | None, read_only: bool, deferrable: bool) -> str:
    """``BEGIN [ISOLATION LEVEL ...] [READ ONLY] [DEFERRABLE]``; ValidationError for an unknown level."""
    parts = ["BEGIN"]
    if isolation is not None:
        if isolation not in _ISOLATIONS:
            raise ValidationError(f"isolation must be one of {sorted(_ISOLATIONS)}, not {isolation!r}")
        parts.append(f"ISOLATION LEVEL {isolation.upper()}")
    if read_only:
        parts.append("READ ONLY")
    if deferrable:
        parts.append("DEFERRABLE")
    return " ".join(parts)


class Atomic:
    """``async with db.atomic(...)``: a transaction, or a savepoint when one is already open in this task.

    The outermost scope checks a connection out of the pool, runs ``BEGIN`` and pins the connection to
    the current task, so every terminal inside runs on it. On a clean exit it runs ``COMMIT`` (or
    ``RELEASE SAVEPOINT``); on any exception, cancellation included, ``ROLLBACK`` (or ``ROLLBACK TO
    SAVEPOINT``) under a shielded cancel scope, so the connection goes back to the pool idle, or is
    closed when it cannot be rolled back. On-commit callbacks run after the outermost COMMIT only.
    Raises ValidationError for isolation options on a nested scope; a failed COMMIT raises its djogi error,
    and CommitUnknown (not transient) when the connection failed during COMMIT. A BEGIN the server
    answered by ending the session (a restart) is sent again once on a fresh connection.
    """

    __slots__ = ("_begin", "_db", "_mark", "_savepoint", "_state", "_token")

    def __init__(self, db: Session, isolation: Isolation | None, read_only: bool, deferrable: bool) -> None:
        self._db = db
        self._begin = begin_sql(isolation, read_only, deferrable)
        self._savepoint: str | None = None
        self._mark = 0

    async def __aenter__(self) -> None:
        db = self._db
        state = db.own_transaction()
        if state is None:
            conn = await self._begin_on(db)
            state = TransactionState(conn, anyio.get_current_task().id)
            self._state = state
            self._token = db.transaction_var.set(state)
            return
        if self._begin != "BEGIN":
            raise ValidationError(
                "isolation, read_only and deferrable apply to the outermost atomic() only; "
                "this one is nested in an open transaction"
            )
        self._state = state
        state.depth += 1
        self._savepoint = f"djogi_sp_{state.depth}"
        self._mark = len(state.callbacks)
        await db.control(state.conn, f"SAVEPOINT {self._savepoint}")

    async def _begin_on(self, db: Session) -> Connection:
        """A checked-out connection with the transaction begun; a BEGIN the server answered by ending the
        session (``ConnectionFailure.resendable``) is sent once more on a fresh connection."""
        for attempt in (1, 2):
            conn = await db.acquire()
            try:
                await db.control(conn, self._begin)
                return conn
            except ConnectionFailure as exc:
                await db.release(conn)
                if attempt == 2 or not exc.resendable:
                    raise
            except BaseException:
                await db.release(conn)
                raise
        raise AssertionError("unreachable")

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        db, state = self._db, self._state
        if self._savepoint is not None:
            state.depth -= 1
            if exc is None:
                await db.control(state.conn, f"RELEASE SAVEPOINT {self._savepoint}")
                return
            del state.callbacks[self._mark :]
            state.applied = None  # the rollback may have undone a set_config() of the savepoint
            with anyio.CancelScope(shield=True):
                await db.control(state.conn, f"ROLLBACK TO SAVEPOINT {self._savepoint}")
                await db.control(state.conn, f"RELEASE SAVEPOINT {self._savepoint}")
            return
        db.transaction_var.reset(self._token)
        conn = state.conn
        if exc is None:
            try:
                await db.control(conn, "COMMIT")
            except ConnectionFailure as lost:
                raise CommitUnknown(
                    f"the connection failed during COMMIT ({lost}); the transaction may or may not have "
                    "committed: check the data before running it again", sqlstate=lost.sqlstate
                ) from lost
            finally:
                await db.release(conn)
            for callback in state.callbacks:
                await _run_callback(callback)
        else:
            await db.release(conn)


async def _run_callback(callback: OnCommit) -> None:
    """Run one on-commit callback (awaiting it when it returns an awaitable); log, never raise, failures."""
    try:
        result = callback()
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("on_commit callback %r failed after the transaction committed", callback)


async def retry_loop(
    db: Session,
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    backoff: float,
    max_backoff: float,
    isolation: Isolation | None,
    read_only: bool,
) -> T:
    """Run ``fn`` in a fresh ``atomic()`` up to ``attempts`` times while it fails with a transient error."""
    if attempts < 1:
        raise ValidationError(f"attempts must be at least 1, not {attempts}")
    if db.own_transaction() is not None:
        raise ValidationError(
            "retry_on_conflict() re-runs a whole transaction and cannot start inside atomic(); "
            "call it outside any open transaction"
        )
    failures = 0
    while True:
        try:
            async with Atomic(db, isolation, read_only, False):
                return await fn()
        except DjogiError as exc:
            failures += 1
            if not exc.is_transient or failures >= attempts:
                raise
            logger.debug("retry_on_conflict: attempt %d failed (%s); retrying", failures, exc.sqlstate)
        # "Full jitter" exponential backoff: uniform in [0, min(cap, base * 2^n)].
        await anyio.sleep(random.uniform(0, min(max_backoff, backoff * 2 ** (failures - 1))))
