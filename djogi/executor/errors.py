"""The one translation of psycopg and psycopg_pool exceptions into the ``djogi.errors`` hierarchy: used by
the executor, seeds (``djogi.seeds``) and the command line (``djogi.cli.app.main``)."""

from __future__ import annotations

import psycopg
import psycopg_pool

from djogi import errors

_INTEGRITY: dict[str, type[errors.IntegrityError]] = {
    "23505": errors.UniqueViolation,
    "23503": errors.ForeignKeyViolation,
    "23001": errors.ForeignKeyViolation,  # restrict_violation: an ON DELETE/UPDATE RESTRICT action
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

    The message is the server's primary message, its detail in parentheses, ``[SQLSTATE xxxxx]``, then on
    the following lines what else libpq reported (``LINE n:`` with a caret under the error's position,
    ``HINT:``, ``CONTEXT:``); a connection failure keeps libpq's whole text.
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
    text = str(exc).strip()
    primary = diag.message_primary
    message = primary or text or type(exc).__name__
    if diag.message_detail:
        message = f"{message} ({diag.message_detail})"
    more = _more(text, primary, diag.message_detail)
    if state is not None and state.startswith("23"):
        kind = _INTEGRITY.get(state, errors.IntegrityError)
        constraint = diag.constraint_name
        where = f" on table {diag.table_name!r}" if diag.table_name else ""
        prefix = f"constraint {constraint!r}{where} violated: " if constraint else ""
        return kind(prefix + message + more, sqlstate=state, constraint=constraint)
    if state in _SESSION_ENDED or (state or "").startswith("08") or (
        state is None and isinstance(exc, psycopg.OperationalError)
    ):
        said = f"{message} [SQLSTATE {state}]{more}" if state else message
        return errors.ConnectionFailure(said, sqlstate=state, resendable=state in _SESSION_ENDED)
    if state in _LOCK_CONFLICTS:
        return errors.LockConflict(message + more, sqlstate=state)
    return errors.DatabaseError(f"{message} [SQLSTATE {state}]{more}" if state else message, sqlstate=state)


def _more(text: str, primary: str | None, detail: str | None) -> str:
    """The lines libpq's ``text`` adds after the ``primary`` message (statement position, HINT, CONTEXT),
    without the DETAIL line the message already holds; empty when there are none."""
    if not primary or not text.startswith(primary):
        return ""
    rest = text[len(primary) :]
    if detail:
        rest = rest.replace(f"\nDETAIL:  {detail}", "", 1)
    return rest.rstrip()
