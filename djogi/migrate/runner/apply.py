"""``apply``: run (or, with a reason, fake) every pending migration of a database.

One pinned autocommit session; the ledger is created if missing; the buckets' advisory locks are taken;
applied migrations are checked against their files' checksums (drift is refused before any SQL);
unfinished rows are refused with the repair command to run; then each pending migration is recorded
``pending`` and its plan run (``steps.run``). An apply cut off (a lost connection, Ctrl-C) is recorded
as ``failed`` through a fresh session, with the command that continues.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec
import psycopg

from djogi.migrate import ledger
from djogi.migrate.checksum import PHASE_ZERO_VERSION
from djogi.migrate.ledger import Connection
from djogi.migrate.runner.discovery import Bucket, Migration, buckets, discover
from djogi.migrate.runner.errors import MigrationError, reason
from djogi.migrate.runner.lock import bucket_locks
from djogi.migrate.runner.plan import (
    DEFAULT_OPTIONS,
    Options,
    ProgressCallback,
    apply_order,
    check_history,
    out_of_order_note,
)
from djogi.migrate.runner.session import session
from djogi.migrate.runner.steps import run


class ApplyReport(msgspec.Struct, frozen=True):
    """What ``apply`` did: versions applied (or faked) and versions already applied; ``ran`` lists the
    versions run for real during a fake (the bootstrap, which later migrations' defaults need)."""

    applied: tuple[str, ...]
    skipped: tuple[str, ...]
    ran: tuple[str, ...] = ()


def apply(
    url: str, migrations_dir: Path, database: str = "main", *, app: str | Literal["*"] | None = "*",
    options: Options = DEFAULT_OPTIONS, on_progress: ProgressCallback | None = None,
    fake_reason: str | None = None,
) -> ApplyReport:  # fmt: skip
    """Apply (or, with ``fake_reason``, record without running) every pending migration of ``database``
    (``app="*"``: all buckets, the bootstrap first; else one bucket). The bootstrap is never faked: it is
    idempotent and the ``id`` defaults of later migrations call its functions, so a fake runs it (``ran``).

    Refused (``MigrationError``, exit 2, nothing run): an empty ``fake_reason``, checksum drift of an
    applied migration, an unfinished row, a hand-edited migration, an out-of-order version under the
    ``reject`` policy. A failed or interrupted migration raises ``MigrationError`` (exit 1)."""
    if fake_reason is not None and not fake_reason.strip():
        raise MigrationError("fake needs a non-empty reason", refusal=True)
    chosen = buckets(migrations_dir, database) if app == "*" else [Bucket(database, app)]
    migrations = apply_order([m for b in chosen for m in discover(migrations_dir, b)])
    applied: list[str] = []
    skipped: list[str] = []
    ran: list[str] = []
    with session(url, options) as conn:
        ledger.ensure(conn)
        with bucket_locks(conn, chosen, options, on_progress):
            for b in chosen:
                check_history([m for m in migrations if m.bucket == b], ledger.rows(conn, b.label))
            for m in migrations:
                rows = ledger.rows(conn, m.bucket.label)
                row = next((r for r in rows if r.version == m.version), None)
                if row is not None and row.status in ledger.TERMINAL_OK:
                    skipped.append(m.version)
                    continue
                problem = m.edited
                if problem:
                    raise MigrationError(problem, refusal=True, code="HandEdited")
                note = out_of_order_note(rows, m.version, options.out_of_order)
                if row is not None:
                    ledger.delete(conn, row.id)
                if fake_reason is not None and m.version != PHASE_ZERO_VERSION:
                    note = f"faked at {ledger.now_text()}; reason: {fake_reason}" + (f"\n{note}" if note else "")
                    ledger.insert(
                        conn, version=m.version, app_label=m.bucket.label, description=m.slug,
                        checksum_up=m.plan.checksum_up, checksum_down=m.plan.checksum_down, status="faked",
                        note=note, out_of_order=note is not None and "out-of-order" in note,
                    )  # fmt: skip
                else:
                    run_recorded(conn, url, m, options, on_progress, note)
                    if fake_reason is not None:
                        ran.append(m.version)
                applied.append(m.version)
    return ApplyReport(tuple(applied), tuple(skipped), tuple(ran))


def run_recorded(conn: Connection, url: str, m: Migration, options: Options,
                 on_progress: ProgressCallback | None = None, note: str | None = None) -> None:  # fmt: skip
    """Record ``m`` as ``pending`` in the ledger and run its plan (``steps.run`` marks it applied); a run cut
    off is recorded as ``failed`` through a fresh session and raised as ``MigrationError``."""
    row_id = ledger.insert(
        conn, version=m.version, app_label=m.bucket.label, description=m.slug,
        checksum_up=m.plan.checksum_up, checksum_down=m.plan.checksum_down, status="pending",
        total_steps=m.total_steps, note=note, out_of_order=note is not None,
    )  # fmt: skip
    try:
        run(conn, m, row_id, options, on_progress)
    except (psycopg.Error, KeyboardInterrupt) as exc:
        lost = "connection lost: " if conn.broken or conn.closed else ""
        cause = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else lost + reason(exc)
        raise _interrupted(url, m, row_id, cause, options) from exc


def _interrupted(url: str, m: Migration, row_id: int, cause: str, options: Options) -> MigrationError:
    """The error for an apply cut off by ``cause``: recorded on the ledger row as ``failed`` through a fresh
    session (the applying one may be gone), saying what state is left and the command that continues."""
    try:
        with session(url, options) as fresh:
            row = next(r for r in ledger.rows(fresh, m.bucket.label) if r.id == row_id)
            if row.status == "pending":
                ledger.set_status(fresh, row_id, "failed", cause)
                row = next(r for r in ledger.rows(fresh, m.bucket.label) if r.id == row_id)
    except (MigrationError, StopIteration) as exc:
        return MigrationError(
            f"{m.bucket} {m.version}: {cause}. The ledger row could not be updated ({exc}), so it stays pending. "
            f"Once the server is back: `djogi migrations status`; if the schema has none of {m.version}'s changes "
            f"(a transaction that was cut off is rolled back) run `djogi migrations repair partial-apply {m.version} "
            f"rolled-back`, else `djogi migrations repair resume-partial {m.version}`; then `djogi migrations apply`",
            refusal=False, code="Interrupted",
        )  # fmt: skip
    if row.status != "failed":  # it finished before the interruption reached it
        return MigrationError(f"{m.bucket} {m.version}: {cause} after it was {row.status}; run `djogi migrations "
                              "apply` for the rest", refusal=False, code="Interrupted")  # fmt: skip
    done = row.applied_steps_count or row.has_claim
    follow = (f"`djogi migrations repair resume-partial {m.version}` finishes it" if done and row.total_steps
              else "its open transaction was rolled back, so `djogi migrations apply` runs it again")  # fmt: skip
    return MigrationError(f"{m.bucket} {m.version}: {cause}. Recorded as failed ({row.applied_steps_count} of "
                          f"{row.total_steps or '?'} steps done); {follow}", refusal=False, code="Interrupted")
