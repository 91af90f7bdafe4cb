"""Translation of psycopg and psycopg_pool exceptions into the ``djogi.errors`` hierarchy."""

from __future__ import annotations

import psycopg
import psycopg_pool

from djogi import errors

_INTEGRITY: dict[str, type[errors.IntegrityError]] = {
    "23505": errors.UniqueViolation,
    "23503": errors.ForeignKeyViolation,
    "23514": errors.CheckViolation,
    "23502": errors.NotNullViolation,
}
_LOCK_CONFLICTS = frozenset({"40001", "40P01", "55P03"})
_SESSION_ENDED = frozenset({"57P01", "57P02", "57P03"})  # admin shutdown, crash shutdown, cannot connect now


def translate(exc: BaseException) -> BaseException:
    """The djogi error for a psycopg / pool exception; any other exception is returned unchanged.

    Integrity violations (class 23) become ``IntegrityError`` subclasses carrying ``constraint`` from
    ``diag.constraint_name``; 40001 / 40P01 / 55P03 become ``LockConflict``; a session the server ended
    (57P01 / 57P02 / 57P03), a class 08 error and a connection failure without SQLSTATE (refused, lost)
    become ``ConnectionFailure``; every other server error a ``DatabaseError``; a pool timeout
    ``PoolTimeout``. The SQLSTATE is kept in ``sqlstate``. A parameter holding text UTF-8 cannot encode
    (unpaired surrogates, sent through ``raw()``) is a ``ValidationError``.
    """
    if isinstance(exc, UnicodeEncodeError):
        bad = exc.object[exc.start : exc.end]
        return errors.ValidationError(
            f"a parameter holds text UTF-8 cannot encode ({bad!r}: unpaired surrogates); remove them"
        )
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return errors.PoolTimeout(f"no pooled connection became free in time: {exc}")
    if not isinstance(exc, psycopg.Error):
        return exc
    state = exc.sqlstate
    diag = exc.diag
    message = diag.message_primary or str(exc).strip() or type(exc).__name__
    if diag.message_detail:
        message = f"{message} ({diag.message_detail})"
    if state is not None and state.startswith("23"):
        kind = _INTEGRITY.get(state, errors.IntegrityError)
        constraint = diag.constraint_name
        where = f" on table {diag.table_name!r}" if diag.table_name else ""
        prefix = f"constraint {constraint!r}{where} violated: " if constraint else ""
        return kind(prefix + message, sqlstate=state, constraint=constraint)
    if state in _SESSION_ENDED or (state or "").startswith("08") or (
        state is None and isinstance(exc, psycopg.OperationalError)
    ):
        text = f"{message} [SQLSTATE {state}]" if state else message
        return errors.ConnectionFailure(text, sqlstate=state, resendable=state in _SESSION_ENDED)
    if state in _LOCK_CONFLICTS:
        return errors.LockConflict(message, sqlstate=state)
    return errors.DatabaseError(f"{message} [SQLSTATE {state}]" if state else message, sqlstate=state)
