"""Running one migration's statements on a session (for ``apply`` and ``repair resume-partial``).

Transactional segments run in one transaction each; a non-transactional statement runs alone between a
progress *claim* and an *ack* on its ledger row. ``lock_timeout`` failures are retried
``Options.lock_retries`` times with backoff; before a concurrent index build is re-run, the INVALID index
a failed build left is dropped. A failure is recorded on the row (``failed``) and raised as
``MigrationError``; a lost connection is left to the caller, which records it through a fresh session.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import psycopg
from psycopg import errors as pg_errors

from djogi.migrate import ledger
from djogi.migrate.ledger import Connection
from djogi.migrate.runner.discovery import Migration
from djogi.migrate.runner.errors import failure, reason
from djogi.migrate.runner.plan import Options, Progress, ProgressCallback

Statement = tuple[int, str, str, str]  # (segment number, kind, label, sql)

_CIC = re.compile(r'^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")+"|\w+)',
                  re.IGNORECASE)  # fmt: skip


def drop_invalid_index(conn: Connection, sql: str) -> None:
    """Before (re)running a ``CREATE INDEX CONCURRENTLY``, drop an INVALID index a failed build left."""
    m = _CIC.match(sql)
    if m is None:
        return
    name = m.group(1)
    name = name[1:-1].replace('""', '"') if name.startswith('"') else name
    row = conn.execute(
        "SELECT NOT x.indisvalid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
        "WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace", (name,)
    ).fetchone()  # fmt: skip
    if row and row[0]:
        conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {m.group(1)}")


def index_is_valid(conn: Connection, sql: str) -> bool:
    """True when ``sql`` is a ``CREATE INDEX CONCURRENTLY`` whose index exists and is valid."""
    m = _CIC.match(sql)
    if m is None:
        return False
    name = m.group(1).strip('"')
    row = conn.execute(
        "SELECT x.indisvalid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
        "WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace", (name,)
    ).fetchone()  # fmt: skip
    return bool(row and row[0])


def _with_retries(options: Options, action: Callable[[], None], before_retry: Callable[[], None]) -> None:
    for attempt in range(options.lock_retries + 1):
        try:
            action()
            return
        except pg_errors.LockNotAvailable:
            if attempt == options.lock_retries:
                raise
            time.sleep(0.2 * 2**attempt)
            before_retry()


def run(conn: Connection, m: Migration, row_id: int, options: Options, on_progress: ProgressCallback | None,
        *, start: int = 0) -> None:  # fmt: skip
    """Run the migration's statements from index ``start`` (0-based) and mark the row applied."""
    began = time.monotonic()
    statements = m.statements
    total = len(statements)
    tracked = m.total_steps is not None
    if on_progress:
        on_progress(Progress("start", str(m.bucket), m.version, start, total))
    i = start
    while i < total:
        segment, kind, label, _ = statements[i]
        group = [s for s in statements[i:] if s[0] == segment]
        if kind == "transactional":
            _run_transaction(conn, m, row_id, group, i, tracked, options)
            i += len(group)
        else:
            _run_step(conn, m, row_id, statements[i], i, options)
            i += 1
        if on_progress:
            on_progress(Progress("step", str(m.bucket), m.version, i, total, label))
    elapsed = int((time.monotonic() - began) * 1000)
    rows = {r.id: r for r in ledger.rows(conn, m.bucket.label)}
    note = rows[row_id].partial_apply_note if rows[row_id].out_of_order_flag else None
    ledger.set_status(conn, row_id, "applied", note, elapsed_ms=elapsed, steps=total if tracked else 0)
    if on_progress:
        on_progress(Progress("done", str(m.bucket), m.version, total, total))


def _run_transaction(conn: Connection, m: Migration, row_id: int, group: list[Statement], first: int, tracked: bool,
                     options: Options) -> None:  # fmt: skip
    def action() -> None:
        with conn.transaction():
            for _, _, _, sql in group:
                conn.execute(sql)
            if tracked:  # progress of a transactional segment commits atomically with it
                conn.execute("UPDATE djogi_schema_migrations SET applied_steps_count = %s WHERE id = %s",
                             (first + len(group), row_id))  # fmt: skip

    try:
        _with_retries(options, action, lambda: None)
    except psycopg.Error as exc:
        if conn.broken or conn.closed:
            raise  # apply records it through a fresh session
        ledger.set_status(conn, row_id, "failed", f"transactional segment {group[0][0]} failed: {reason(exc)}")
        raise failure(f"{m.bucket} {m.version}: transactional segment {group[0][0]} failed", exc) from exc


def _run_step(conn: Connection, m: Migration, row_id: int, statement: Statement, index: int,
              options: Options) -> None:  # fmt: skip
    segment, _, label, sql = statement
    step = index + 1
    ledger.claim(conn, row_id, step, len(m.statements), label, segment, None)

    def action() -> None:
        conn.execute(sql)

    try:
        _with_retries(options, action, lambda: drop_invalid_index(conn, sql))
    except psycopg.Error as exc:
        if conn.broken or conn.closed:
            raise  # apply records it through a fresh session
        ledger.set_status(conn, row_id, "failed",
                          f"non-tx step {step} of segment {segment} failed: {label} — {reason(exc)}", steps=index)
        raise failure(f"{m.bucket} {m.version}: non-transactional step {step} ({label}) failed", exc,
                      then=f"fix the cause, then `djogi migrations repair resume-partial {m.version}`") from exc
    ledger.ack(conn, row_id, step, None)
