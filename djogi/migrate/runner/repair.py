"""The operator's commands for ledger states an edit or an interruption left, and for adopting a database:
``repair checksum-drift``, ``repair partial-apply``, ``repair resume-partial``, ``repair snapshot-rebuild``
and ``baseline``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from returns.pipeline import is_successful

from djogi.migrate import ledger
from djogi.migrate.checksum import PHASE_ZERO_VERSION, compute_checksum, is_version
from djogi.migrate.compose import bootstrap_files
from djogi.migrate.emit import adopt_files, encode_plan, write
from djogi.migrate.ledger import Connection, LedgerRow
from djogi.migrate.runner.apply import run_recorded
from djogi.migrate.runner.discovery import (
    Bucket,
    Migration,
    find,
    migration_snapshot_path,
    schema_snapshot_path,
)
from djogi.migrate.runner.errors import MigrationError
from djogi.migrate.runner.lock import bucket_lock, bucket_locks
from djogi.migrate.runner.plan import DEFAULT_OPTIONS, Options, ProgressCallback, check_history, out_of_order_note
from djogi.migrate.runner.session import session
from djogi.migrate.runner.steps import drop_invalid_index, index_is_valid, run
from djogi.migrate.runner.verify import scope
from djogi.migrate.snapshot import Snapshot, encode, write_atomic


def _row(conn: Connection, bucket: Bucket, version: str) -> LedgerRow:
    """The ledger row of ``version``; refused (``VersionNotFound``) when there is none."""
    row = (
        next((r for r in ledger.rows(conn, bucket.label) if r.version == version), None)
        if ledger.exists(conn)
        else None
    )
    if row is None:
        raise MigrationError(f"{version} is not in the ledger of {bucket}", refusal=True, code="VersionNotFound")
    return row


def repair_checksum_drift(url: str, migrations_dir: Path, bucket: Bucket, version: str, *,
                          options: Options = DEFAULT_OPTIONS) -> tuple[str, str | None]:  # fmt: skip
    """Accept the edit of ``version``'s files: record their checksums in the ledger and carry the edit into
    its ``.plan.json`` (``emit.adopt_files``: the statements and checksums), so ``apply`` on another
    database, ``check`` and ``verify`` all agree with the files; return the checksums.

    Refused (nothing changed) when the version has no files or no ledger row, or when the up file's
    blocks no longer line up with the plan's statements (lost framing, a block added or removed)."""
    m = find(migrations_dir, bucket, version)
    adopted = adopt_files(m.plan, m.up_text, m.down_text)
    if not is_successful(adopted):
        raise MigrationError(
            f"{version}: the edit cannot be carried into {version}.plan.json: {adopted.failure()}; restore the "
            "files from version control, and put the change in a new migration", refusal=True, code="EditNotAdoptable",
        )  # fmt: skip
    up, down = m.checksums
    with session(url, options) as conn:
        ledger.set_checksums(conn, _row(conn, bucket, version).id, up, down)
    if adopted.unwrap() != m.plan:
        write_atomic(bucket.directory(migrations_dir) / f"{version}.plan.json", encode_plan(adopted.unwrap()).encode())
    return up, down


def repair_partial_apply(url: str, bucket: Bucket, version: str,
                         resolution: Literal["applied", "faked", "rolled_back"], note: str, *,
                         options: Options = DEFAULT_OPTIONS) -> None:  # fmt: skip
    """Resolve a ``pending``/``failed`` row to a terminal status after checking the schema by hand."""
    with session(url, options) as conn:
        row = _row(conn, bucket, version)
        if row.status not in ("pending", "failed"):
            raise MigrationError(f"{version} is {row.status}, not pending or failed", refusal=True)
        ledger.set_status(conn, row.id, resolution, note)


def repair_resume_partial(
    url: str, migrations_dir: Path, bucket: Bucket, version: str, *, options: Options = DEFAULT_OPTIONS,
    on_progress: ProgressCallback | None = None,
) -> int:  # fmt: skip
    """Finish an interrupted migration from its first unacknowledged step; return the steps run.

    A step left *claimed* by a killed run is reconciled first: a concurrent index build that committed
    is acknowledged, an INVALID one is dropped and rebuilt; djogi's other non-transactional steps
    (``VALIDATE CONSTRAINT``, ``ADD VALUE IF NOT EXISTS``, ``DROP INDEX CONCURRENTLY IF EXISTS``) are
    idempotent and simply run again.
    """
    m = find(migrations_dir, bucket, version)
    with session(url, options) as conn, bucket_lock(conn, bucket, options, on_progress):
        row = _row(conn, bucket, version)
        if row.status not in ("pending", "failed") or row.total_steps is None:
            raise MigrationError(f"{version} ({row.status}) has no partial progress to resume", refusal=True,
                                 code="NothingToResume")  # fmt: skip
        if row.checksum_up != m.plan.checksum_up:
            raise MigrationError(f"{version}: plan.json does not match the ledger's checksum", refusal=True,
                                 code="PlanChecksumMismatch")  # fmt: skip
        start = row.applied_steps_count
        if row.has_claim and start < len(m.statements):
            sql = m.statements[start][3]
            if index_is_valid(conn, sql):
                ledger.ack(conn, row.id, start + 1, None)
                start += 1
            else:
                drop_invalid_index(conn, sql)
        conn.execute("UPDATE djogi_schema_migrations SET status = 'pending', partial_apply_note = NULL WHERE id = %s",
                     (row.id,))  # fmt: skip
        run(conn, m, row.id, options, on_progress, start=start)
        return len(m.statements) - row.applied_steps_count


def repair_snapshot_rebuild(url: str, migrations_dir: Path, bucket: Bucket, *,
                            options: Options = DEFAULT_OPTIONS) -> Snapshot:  # fmt: skip
    """Re-project the bucket's live catalog into its ``schema_snapshot.json``; return the snapshot."""
    with session(url, options) as conn:
        live = scope(migrations_dir, bucket).read(conn)
    write_atomic(schema_snapshot_path(migrations_dir, bucket), encode(live))
    return live


def baseline(url: str, migrations_dir: Path, bucket: Bucket, version: str, reason: str,
             options: Options = DEFAULT_OPTIONS) -> Snapshot:  # fmt: skip
    """Adopt an existing database: install what djogi needs, record ``version`` as ``baseline`` and write
    the live schema as the bucket's snapshot (and as ``<version>.snapshot.json`` when ``version`` has no
    migration files).

    What djogi needs is the database's bootstrap migration (HeeRanjID: its tables and key functions): its
    files are written into the database's global bucket when absent, and it is applied (recorded in the
    ledger, like ``apply`` does) when the ledger does not have it, before the baseline row, so the
    bootstrap is not out of order. Its script is idempotent, so a database that already has HeeRanjID
    keeps it. Refused: an empty reason, a malformed version, a version already recorded, an unfinished
    bootstrap row (``repair`` it first)."""
    if not reason.strip():
        raise MigrationError("baseline needs a non-empty reason", refusal=True)
    if not is_version(version):
        raise MigrationError(f"{version!r} is not a migration version (V<yyyymmddHHMMSS>__<slug>)", refusal=True)
    boot = _bootstrap(migrations_dir, bucket.database)
    with session(url, options) as conn:
        ledger.ensure(conn)
        with bucket_locks(conn, sorted({bucket, boot.bucket}, key=str), options):
            rows = ledger.rows(conn, bucket.label)
            if any(r.version == version for r in rows):
                raise MigrationError(f"{version} is already recorded", refusal=True, code="VersionAlreadyApplied")
            out_of_order_note(rows, version, options.out_of_order)
            boot_rows = ledger.rows(conn, boot.bucket.label)
            row = next((r for r in boot_rows if r.version == PHASE_ZERO_VERSION), None)
            if row is None or row.status not in ledger.TERMINAL_OK:
                check_history([boot], boot_rows)
                if row is not None:  # failed before any step: run again, as apply does
                    ledger.delete(conn, row.id)
                run_recorded(conn, url, boot, options)
            live = scope(migrations_dir, bucket).read(conn)
            note = (f"baseline established at {ledger.now_text()} for bucket database={bucket.database} "
                    f"app={bucket.label}; reason: {reason}")  # fmt: skip
            ledger.insert(conn, version=version, app_label=bucket.label, description=f"<baseline> {version}",
                          checksum_up=compute_checksum([encode(live).decode()]), checksum_down=None,
                          status="baseline", note=note)  # fmt: skip
    write_atomic(schema_snapshot_path(migrations_dir, bucket), encode(live))
    if not (bucket.directory(migrations_dir) / f"{version}.plan.json").exists():
        # The schema as of the baseline, for ``verify`` after later migrations are rolled back to it.
        write_atomic(migration_snapshot_path(migrations_dir, bucket, version), encode(live))
    return live


def _bootstrap(migrations_dir: Path, database: str) -> Migration:
    """The bootstrap migration of ``database``, its files written first when the global bucket has none."""
    boot = Bucket(database)
    if not (boot.directory(migrations_dir) / f"{PHASE_ZERO_VERSION}.plan.json").exists():
        written = bootstrap_files(database, ()).bind(lambda files: write(files, boot.directory(migrations_dir)))
        if not is_successful(written):
            raise MigrationError(f"{boot}: cannot write the bootstrap migration: {written.failure()}", refusal=True)
    return find(migrations_dir, boot, PHASE_ZERO_VERSION)
