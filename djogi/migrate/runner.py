"""The migration runner (effectful): apply, fake, baseline, rollback, repair, status, verify.

Every entry point takes a database URL, the migrations directory and a ``Bucket`` (or a database name),
and returns a result value; refusals and failures raise ``MigrationError`` whose ``refusal`` flag maps to
the CLI's exit code (2 for a refusal an operator must resolve, 1 for a runtime failure).

How ``apply`` runs: one pinned autocommit session; the ledger is created if missing; the bucket's
advisory lock is taken by polling ``pg_try_advisory_lock`` (never blocking); applied migrations are
checked against their files' checksums (drift is refused before any SQL); unfinished rows are refused
with the repair command to run; then each pending migration is recorded ``pending`` and its plan run:
transactional segments in one transaction each, non-transactional statements one by one between a
progress claim and an ack. ``SET lock_timeout`` bounds every lock wait and lock timeouts are retried a
few times with backoff. ``on_progress`` receives a ``Progress`` event per migration and per step.

What the live schema should be (``expected_snapshot``): the snapshot of the bucket's *applied head*, the
newest ``applied``/``faked``/``baseline`` row in ledger order. When every migration on disk is applied
that is ``schema_snapshot.json`` (which ``baseline`` and ``repair snapshot-rebuild`` also write); when
some are not (after a rollback, or before an apply) it is the head's ``<version>.snapshot.json``, written
by compose and by ``baseline`` (the bootstrap changes no tables, so it is looked through; with no head
the schema is empty). ``verify`` compares with it, and ``rollback`` re-checks it once the down files
have run. A head composed before these files existed has none: ``verify`` then compares with
``schema_snapshot.json`` as it always did and ``rollback`` skips its check, both saying so (``D630``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Literal

import msgspec
import pglast
import psycopg
from pglast import ast as pg_ast
from pglast.enums import AlterTableType, ConstrType
from psycopg import errors as pg_errors
from psycopg import sql
from returns.pipeline import is_successful

from djogi.config import DEFAULT_OPERATION_TIMEOUT
from djogi.errors import DjogiError
from djogi.executor.bounded import connect_bounded
from djogi.migrate import ledger
from djogi.migrate.checksum import (
    GLOBAL_DIR,
    PHASE_ZERO_VERSION,
    advisory_lock_key,
    compute_checksum,
    file_checksums,
    is_version,
)
from djogi.migrate.emit import SNAPSHOT_SUFFIX, PlanFile, decode_plan
from djogi.migrate.introspect import introspect
from djogi.migrate.ledger import Connection, LedgerRow
from djogi.migrate.snapshot import EMPTY, Snapshot, encode, load, write_atomic


class MigrationError(DjogiError):
    """A migration command refused (``refusal=True``: exit 2) or failed at runtime (exit 1)."""

    def __init__(self, message: str, *, refusal: bool, code: str = "") -> None:
        super().__init__(message)
        self.refusal = refusal
        self.code = code


class Bucket(msgspec.Struct, frozen=True):
    """A ``(database, app)`` bucket; ``app`` None is the global bucket."""

    database: str
    app: str | None = None

    @property
    def label(self) -> str:
        """The ledger's ``app_label`` (``''`` for the global bucket)."""
        return self.app or ""

    @property
    def dir_name(self) -> str:
        """The folder name (``_global_`` for the global bucket)."""
        return self.app or GLOBAL_DIR

    def directory(self, migrations_dir: Path) -> Path:
        """``<migrations>/<database>/<app or _global_>``."""
        return migrations_dir / self.database / self.dir_name

    def __str__(self) -> str:
        return f"{self.database}/{self.dir_name}"


class Migration(msgspec.Struct, frozen=True):
    """One migration on disk: its plan and file texts."""

    bucket: Bucket
    version: str
    plan: PlanFile
    up_text: str
    down_text: str | None

    @property
    def slug(self) -> str:
        """The description recorded in the ledger."""
        return self.version.split("__", 1)[1]

    @property
    def statements(self) -> list[tuple[int, str, str, str]]:
        """``(segment number, kind, label, sql)`` per statement, in order."""
        return [(i, seg.kind, s.label, s.up) for i, seg in enumerate(self.plan.segments, 1) for s in seg.statements]

    @property
    def total_steps(self) -> int | None:
        """Statement count when any segment is non-transactional (progress is then tracked per step)."""
        return len(self.statements) if self.plan.non_transactional_steps else None


class Progress(msgspec.Struct, frozen=True):
    """A progress event: ``kind`` is ``waiting`` (for the lock), ``start``, ``step`` or ``done``."""

    kind: Literal["waiting", "start", "step", "done"]
    bucket: str
    version: str = ""
    step: int = 0
    total: int = 0
    label: str = ""


ProgressCallback = Callable[[Progress], None]
OutOfOrder = Literal["reject", "allow"]


class ApplyReport(msgspec.Struct, frozen=True):
    """What ``apply`` did: versions applied (or faked) and versions already applied; ``ran`` lists the
    versions run for real during a fake (the bootstrap, which later migrations' defaults need)."""

    applied: tuple[str, ...]
    skipped: tuple[str, ...]
    ran: tuple[str, ...] = ()


class Options(msgspec.Struct, frozen=True, kw_only=True):
    """Runner knobs: lock polling, ``lock_timeout`` and its retries, the out-of-order policy, and
    ``operation_timeout`` (seconds, 0: no bound): each wait of the runner's session on the server (a
    statement's result, a COMMIT) gives up past it, so a frozen or killed server fails the command
    (``MigrationError``, exit 1) instead of hanging it."""

    lock_poll_s: float = 0.05
    lock_attempts: int = 600
    lock_timeout_ms: int = 5000
    lock_retries: int = 3
    out_of_order: OutOfOrder = "allow"
    operation_timeout: float = DEFAULT_OPERATION_TIMEOUT


DEFAULT_OPTIONS = Options()


def out_of_order_policy(profile: str, env: dict[str, str]) -> OutOfOrder:
    """``reject`` in production or CI, ``allow`` (with a flag in the ledger) otherwise."""
    return "reject" if profile == "production" or env.get("CI", "").lower() == "true" else "allow"


# -------------------------------------------------------------------------------------- discovery


def buckets(migrations_dir: Path, database: str) -> list[Bucket]:
    """The buckets of ``database`` that have a folder, global first."""
    root = migrations_dir / database
    if not root.is_dir():
        return []
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [Bucket(database, None if n == GLOBAL_DIR else n) for n in sorted(names, key=lambda n: n != GLOBAL_DIR)]


def discover(migrations_dir: Path, bucket: Bucket) -> list[Migration]:
    """The bucket's migrations, by version; a plan that disagrees with its ``.sdjql`` file is refused."""
    directory = bucket.directory(migrations_dir)
    found = []
    for plan_path in sorted(directory.glob("V*.plan.json")):
        version = plan_path.name.removesuffix(".plan.json")
        if not is_version(version):
            raise MigrationError(f"{plan_path}: not a migration version", refusal=True)
        plan = decode_plan(plan_path.read_bytes())
        if not is_successful(plan):
            raise MigrationError(f"{plan_path}: {plan.failure()}", refusal=True)
        up_path, down_path = directory / f"{version}.sdjql", directory / f"{version}.down.sdjql"
        if not up_path.exists():
            raise MigrationError(f"{up_path} is missing", refusal=True)
        migration = Migration(
            bucket=bucket, version=version, plan=plan.unwrap(), up_text=up_path.read_text(),
            down_text=down_path.read_text() if down_path.exists() else None,
        )  # fmt: skip
        found.append(migration)
    return found


def _edited(m: Migration) -> str | None:
    """Why the migration's files disagree with its plan (a hand edit), or None."""
    up, down = file_checksums(m.up_text, m.down_text)
    if compute_checksum(m.plan.fragments) != m.plan.checksum_up:
        return f"{m.version}.plan.json statements do not match its checksum_up"
    if up != m.plan.checksum_up or (m.down_text is not None and down != m.plan.checksum_down):
        return f"{m.version}: the .sdjql files were edited after compose (checksums differ from plan.json)"
    return None


# -------------------------------------------------------------------------------------- sessions and locks


@contextmanager
def _session(url: str, options: Options) -> Iterator[Connection]:
    try:
        conn = connect_bounded(url, options.operation_timeout, autocommit=True)
    except psycopg.Error as exc:
        raise MigrationError(f"cannot connect: {exc}", refusal=False) from exc
    try:
        conn.execute(f"SET lock_timeout = {int(options.lock_timeout_ms)}")
        yield conn
    finally:
        conn.close()


@contextmanager
def bucket_lock(conn: Connection, bucket: Bucket, options: Options,
                on_progress: ProgressCallback | None = None) -> Iterator[None]:  # fmt: skip
    """Hold the bucket's session advisory lock, polling ``pg_try_advisory_lock``."""
    key = advisory_lock_key(bucket.database, bucket.label)
    for attempt in range(options.lock_attempts):
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if row and row[0]:
            break
        if attempt == 0 and on_progress:
            on_progress(Progress("waiting", str(bucket)))
        time.sleep(options.lock_poll_s)
    else:
        raise MigrationError(
            f"could not take the advisory lock of {bucket} (key=0x{key & (2**64 - 1):016x}) after "
            f"{options.lock_attempts} attempts; another migration is running", refusal=False,
        )  # fmt: skip
    try:
        yield
    finally:
        # A session lock ends with its connection: a lost one has nothing to unlock.
        row = None if conn.broken or conn.closed else conn.execute("SELECT pg_advisory_unlock(%s)", (key,)).fetchone()
        if row is not None and not row[0]:
            raise MigrationError(f"D274: advisory unlock of {bucket} returned false", refusal=True, code="D274")


_CIC = re.compile(r'^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")+"|\w+)',
                  re.IGNORECASE)  # fmt: skip


def _drop_invalid_index(conn: Connection, sql: str) -> None:
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


def _index_is_valid(conn: Connection, sql: str) -> bool:
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


# -------------------------------------------------------------------------------------- running plans


def _run(conn: Connection, m: Migration, row_id: int, options: Options, on_progress: ProgressCallback | None,
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


def _run_transaction(conn: Connection, m: Migration, row_id: int, group: list[tuple[int, str, str, str]],
                     first: int, tracked: bool, options: Options) -> None:  # fmt: skip
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
        ledger.set_status(conn, row_id, "failed", f"transactional segment {group[0][0]} failed: {exc}".strip())
        raise MigrationError(f"{m.bucket} {m.version}: transactional segment {group[0][0]} failed: {exc}",
                             refusal=False) from exc  # fmt: skip


def _run_step(conn: Connection, m: Migration, row_id: int, statement: tuple[int, str, str, str], index: int,
              options: Options) -> None:  # fmt: skip
    segment, _, label, sql = statement
    step = index + 1
    ledger.claim(conn, row_id, step, len(m.statements), label, segment, None)

    def action() -> None:
        conn.execute(sql)

    try:
        _with_retries(options, action, lambda: _drop_invalid_index(conn, sql))
    except psycopg.Error as exc:
        if conn.broken or conn.closed:
            raise  # apply records it through a fresh session
        ledger.set_status(conn, row_id, "failed", f"non-tx step {step} of segment {segment} failed: {label} — {exc}",
                          steps=index)  # fmt: skip
        raise MigrationError(
            f"{m.bucket} {m.version}: non-transactional step {step} ({label}) failed: {exc}; fix the cause, then "
            f"`djogi migrations repair resume-partial {m.version}`", refusal=False,
        ) from exc  # fmt: skip
    ledger.ack(conn, row_id, step, None)


# -------------------------------------------------------------------------------------- apply / fake


def _check_history(conn: Connection, migrations: list[Migration], rows: list[LedgerRow]) -> None:
    """Refuse on checksum drift of applied migrations and on unfinished rows."""
    on_disk = {m.version: m for m in migrations}
    for row in rows:
        m = on_disk.get(row.version)
        if row.status in ("applied", "faked") and m is not None:
            up, down = file_checksums(m.up_text, m.down_text)
            if (up, down) != (row.checksum_up, row.checksum_down):
                raise MigrationError(
                    f"checksum drift: {m.bucket} {row.version} was applied with {row.checksum_up} but its files now "
                    f"hash to {up}; restore the files, or record the edit with "
                    f"`djogi migrations repair checksum-drift {row.version}`", refusal=True, code="ChecksumMismatch",
                )  # fmt: skip
        if row.status == "pending" or (row.status == "failed" and (row.applied_steps_count or row.has_claim)):
            resumable = row.total_steps is not None
            fix = (
                f"`djogi migrations repair resume-partial {row.version}`"
                if resumable
                else f"`djogi migrations repair partial-apply {row.version} rolled-back` (after checking the schema)"
            )
            raise MigrationError(
                f"{row.version} ({row.app_label or GLOBAL_DIR}) is unfinished (status {row.status}, "
                f"{row.applied_steps_count} of {row.total_steps or '?'} steps done); run {fix}", refusal=True,
                code="UnfinishedMigration",
            )  # fmt: skip


def _out_of_order(rows: list[LedgerRow], version: str, policy: OutOfOrder) -> str | None:
    later = sorted((r for r in rows if r.status in ledger.TERMINAL_OK and r.version > version),
                   key=lambda r: r.version)  # fmt: skip
    if not later:
        return None
    peer = later[-1]
    if policy == "reject":
        raise MigrationError(f"out-of-order: {version} is older than the applied {peer.version}; refused by policy",
                             refusal=True, code="OutOfOrderRejected")  # fmt: skip
    return f"out-of-order apply: peer {peer.version} was already applied at {peer.applied_at.isoformat()}"


def apply(
    url: str, migrations_dir: Path, database: str = "main", *, app: str | Literal["*"] | None = "*",
    options: Options = DEFAULT_OPTIONS, on_progress: ProgressCallback | None = None,
    fake_reason: str | None = None,
) -> ApplyReport:  # fmt: skip
    """Apply (or, with ``fake_reason``, record without running) every pending migration of ``database``
    (``app="*"``: all buckets, the bootstrap first; else one bucket). The bootstrap is never faked: it is
    idempotent and the ``id`` defaults of later migrations call its functions, so a fake runs it (``ran``)."""
    if fake_reason is not None and not fake_reason.strip():
        raise MigrationError("fake needs a non-empty reason", refusal=True)
    chosen = buckets(migrations_dir, database) if app == "*" else [Bucket(database, app)]
    migrations = sorted(
        (m for b in chosen for m in discover(migrations_dir, b)),
        key=lambda m: (m.version != PHASE_ZERO_VERSION, m.version, m.bucket.label),
    )
    applied: list[str] = []
    skipped: list[str] = []
    ran: list[str] = []
    with _session(url, options) as conn:
        ledger.ensure(conn)
        with _locks(conn, chosen, options, on_progress):
            history = {b.label: ledger.rows(conn, b.label) for b in chosen}
            for b in chosen:
                _check_history(conn, [m for m in migrations if m.bucket == b], history[b.label])
            for m in migrations:
                rows = ledger.rows(conn, m.bucket.label)
                row = next((r for r in rows if r.version == m.version), None)
                if row is not None and row.status in ledger.TERMINAL_OK:
                    skipped.append(m.version)
                    continue
                problem = _edited(m)
                if problem:
                    raise MigrationError(problem, refusal=True, code="HandEdited")
                note = _out_of_order(rows, m.version, options.out_of_order)
                if row is not None:
                    ledger.delete(conn, row.id)
                if fake_reason is not None and m.version != PHASE_ZERO_VERSION:
                    note = f"faked at {ledger.now_text()}; reason: {fake_reason}" + (f"\n{note}" if note else "")
                    ledger.insert(
                        conn,
                        version=m.version,
                        app_label=m.bucket.label,
                        description=m.slug,
                        checksum_up=m.plan.checksum_up,
                        checksum_down=m.plan.checksum_down,
                        status="faked",
                        note=note,
                        out_of_order=note is not None and "out-of-order" in note,
                    )
                else:
                    row_id = ledger.insert(
                        conn, version=m.version, app_label=m.bucket.label, description=m.slug,
                        checksum_up=m.plan.checksum_up, checksum_down=m.plan.checksum_down, status="pending",
                        total_steps=m.total_steps, note=note, out_of_order=note is not None,
                    )  # fmt: skip
                    try:
                        _run(conn, m, row_id, options, on_progress)
                    except (psycopg.Error, KeyboardInterrupt) as exc:
                        lost = "connection lost: " if conn.broken or conn.closed else ""
                        cause = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else f"{lost}{exc}".strip()
                        raise _interrupted(url, m, row_id, cause, options) from exc
                    if fake_reason is not None:
                        ran.append(m.version)
                applied.append(m.version)
    return ApplyReport(tuple(applied), tuple(skipped), tuple(ran))


def _interrupted(url: str, m: Migration, row_id: int, cause: str, options: Options) -> MigrationError:
    """The error for an apply cut off by ``cause``: recorded on the ledger row as ``failed`` through a fresh
    session (the applying one may be gone), saying what state is left and the command that continues."""
    try:
        with _session(url, options) as fresh:
            row = next(r for r in ledger.rows(fresh, m.bucket.label) if r.id == row_id)
            if row.status == "pending":
                ledger.set_status(fresh, row_id, "failed", cause)
                row = next(r for r in ledger.rows(fresh, m.bucket.label) if r.id == row_id)
    except (MigrationError, psycopg.Error, StopIteration) as exc:
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


@contextmanager
def _locks(conn: Connection, chosen: list[Bucket], options: Options,
           on_progress: ProgressCallback | None) -> Iterator[None]:  # fmt: skip
    """Hold the advisory locks of several buckets (taken in key order)."""
    if not chosen:
        yield
        return
    ordered = sorted(chosen, key=lambda b: advisory_lock_key(b.database, b.label))
    with bucket_lock(conn, ordered[0], options, on_progress), _locks(conn, ordered[1:], options, on_progress):
        yield


# -------------------------------------------------------------------------------------- rollback


class RollbackReport(msgspec.Struct, frozen=True):
    """Versions rolled back, newest first; then the re-check of the live schema against the snapshot of
    the new applied ``head`` (``diagnostics`` as ``verify`` would report them, empty when they match;
    nothing is checked on a dry run)."""

    rolled_back: tuple[str, ...]
    head: str | None = None
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def ok(self) -> bool:
        """The live schema matches the head's snapshot (no error-severity diagnostic)."""
        return all(d.severity != "error" for d in self.diagnostics)


def rollback(
    url: str, migrations_dir: Path, bucket: Bucket, *, to: str | None = None, allow_data_loss: bool = False,
    reason: str | None = None, options: Options = DEFAULT_OPTIONS, dry_run: bool = False,
) -> RollbackReport:  # fmt: skip
    """Roll back the newest applied migration, or every one newer than ``to``, running the down files.

    Downs with ``-- LOSSY`` steps need ``allow_data_loss`` and a ``reason``; a down that is only
    comments (the bootstrap) stops the rollback. ``dry_run`` only reports what would be rolled back.
    Afterwards the live schema is compared with the snapshot of the new applied head (the report's
    ``head`` and ``diagnostics``; ``ok`` when they match).
    """
    if allow_data_loss and not (reason and reason.strip()):
        raise MigrationError("--allow-data-loss needs a non-empty --reason", refusal=True)
    migrations = discover(migrations_dir, bucket)
    on_disk = {m.version: m for m in migrations}
    done: list[str] = []
    with _session(url, options) as conn:
        if not ledger.exists(conn):
            raise MigrationError("no migrations recorded", refusal=True)
        with bucket_lock(conn, bucket, options):
            targets = _rollback_targets(ledger.rows(conn, bucket.label), to)
            for row in targets:
                m = on_disk.get(row.version)
                if m is None or m.down_text is None:
                    raise MigrationError(f"{row.version}: its files are missing; cannot roll back", refusal=True)
                up, down = file_checksums(m.up_text, m.down_text)
                if (up, down) != (row.checksum_up, row.checksum_down):
                    raise MigrationError(f"{row.version}: checksum drift; run `djogi migrations repair checksum-drift "
                                         f"{row.version}` first", refusal=True, code="ChecksumDrift")  # fmt: skip
                if down is None:
                    raise MigrationError(f"{row.version} has no reverse (its down file is only comments)", refusal=True,
                                         code="VersionNotRollbackable")  # fmt: skip
                lossy = [line for line in m.down_text.splitlines() if line.startswith("-- LOSSY")]
                if lossy and not allow_data_loss:
                    raise MigrationError(
                        f"{row.version} cannot be rolled back without data loss:\n  " + "\n  ".join(lossy)
                        + "\npass --allow-data-loss with --reason to proceed",
                        refusal=True, code="LossyRollbackRefused",
                    )  # fmt: skip
                if dry_run:
                    done.append(row.version)
                    continue
                blocked = _unfillable_in_down(conn, m.down_text)
                if blocked:
                    before = f" (already rolled back: {', '.join(done)})" if done else ""
                    raise MigrationError(
                        f"{row.version} cannot be rolled back{before}: its down SQL re-adds {', '.join(blocked)} as "
                        "NOT NULL without a default, which fails on the rows the table has now. Roll forward "
                        "instead: declare the field again (optional, or with db_default=...) and compose",
                        refusal=True, code="DownCannotRun",
                    )  # fmt: skip
                try:
                    with conn.transaction():
                        conn.execute(m.down_text)
                except psycopg.Error as exc:
                    raise MigrationError(f"{row.version}: down SQL failed: {exc}", refusal=False) from exc
                note = f"rolled back at {ledger.now_text()}" + (f"; lossy reason: {reason}" if lossy else "")
                conn.execute(
                    "UPDATE djogi_schema_migrations SET status = 'rolled_back', applied_steps_count = 0, "
                    "total_steps = NULL, partial_apply_note = %s WHERE id = %s", (note, row.id),
                )  # fmt: skip
                done.append(row.version)
            if dry_run:
                return RollbackReport(tuple(done))
            rows = ledger.rows(conn, bucket.label)
            expected, version = expected_snapshot(migrations_dir, bucket, rows, migrations)
            live = _scope(migrations_dir, bucket, expected).read(conn) if expected is not None else None
    head = applied_head(rows)
    if expected is None or live is None:
        consequence = "the schema after the rollback was not checked"
        return RollbackReport(tuple(done), head.version if head else None,
                              (_no_snapshot_file(version or "", consequence),))  # fmt: skip
    return RollbackReport(tuple(done), head.version if head else None, tuple(_compare(expected, live)))


def _unfillable_in_down(conn: Connection, down_sql: str) -> list[str]:
    """``table.column`` of each ``ADD COLUMN ... NOT NULL`` without a default or identity in ``down_sql``
    (parsed with pglast) whose table has rows: PostgreSQL would refuse it."""
    found = []
    fillers = {ConstrType.CONSTR_DEFAULT, ConstrType.CONSTR_IDENTITY}
    for raw in pglast.parse_sql(down_sql):
        stmt = raw.stmt
        if not isinstance(stmt, pg_ast.AlterTableStmt) or stmt.relation is None:
            continue
        table = str(stmt.relation.relname)
        for cmd in stmt.cmds or ():
            column = cmd.def_ if cmd.subtype == AlterTableType.AT_AddColumn else None
            if not isinstance(column, pg_ast.ColumnDef):
                continue
            kinds = {c.contype for c in column.constraints or ()}
            if ConstrType.CONSTR_NOTNULL in kinds and not kinds & fillers:
                query = sql.SQL("SELECT EXISTS (SELECT FROM {})").format(sql.Identifier(table))
                exists = conn.execute(query).fetchone()
                if exists and exists[0]:
                    found.append(f"{table}.{column.colname}")
    return found


def _rollback_targets(rows: list[LedgerRow], to: str | None) -> list[LedgerRow]:
    targets: list[LedgerRow] = []
    if to is not None and not any(r.version == to and r.status in ledger.TERMINAL_OK for r in rows):
        raise MigrationError(f"{to} is not an applied version of this bucket", refusal=True, code="VersionNotFound")
    for row in sorted(rows, key=lambda r: r.id, reverse=True):
        if row.status == "rolled_back":
            continue
        if row.status in ("pending", "failed"):
            raise MigrationError(f"{row.version} is {row.status}; resolve it with `djogi migrations repair` first",
                                 refusal=True)  # fmt: skip
        if row.version == to:
            break
        if row.status == "baseline" or row.version == PHASE_ZERO_VERSION:
            if to is not None:
                raise MigrationError(f"rolling back to {to} would cross {row.version}", refusal=True)
            break
        targets.append(row)
        if to is None:
            break
    if not targets:
        raise MigrationError("nothing to roll back", refusal=True, code="NothingToRollBack")
    return targets


# -------------------------------------------------------------------------------------- repair


def repair_checksum_drift(url: str, migrations_dir: Path, bucket: Bucket, version: str, *,
                          options: Options = DEFAULT_OPTIONS) -> tuple[str, str | None]:  # fmt: skip
    """Record the files' current checksums for ``version``; return them."""
    m = _migration(migrations_dir, bucket, version)
    up, down = file_checksums(m.up_text, m.down_text)
    with _session(url, options) as conn:
        ledger.set_checksums(conn, _row(conn, bucket, version).id, up, down)
    return up, down


def repair_partial_apply(url: str, bucket: Bucket, version: str,
                         resolution: Literal["applied", "faked", "rolled_back"], note: str, *,
                         options: Options = DEFAULT_OPTIONS) -> None:  # fmt: skip
    """Resolve a ``pending``/``failed`` row to a terminal status after checking the schema by hand."""
    with _session(url, options) as conn:
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
    m = _migration(migrations_dir, bucket, version)
    with _session(url, options) as conn, bucket_lock(conn, bucket, options, on_progress):
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
            if _index_is_valid(conn, sql):
                ledger.ack(conn, row.id, start + 1, None)
                start += 1
            else:
                _drop_invalid_index(conn, sql)
        conn.execute("UPDATE djogi_schema_migrations SET status = 'pending', partial_apply_note = NULL WHERE id = %s",
                     (row.id,))  # fmt: skip
        _run(conn, m, row.id, options, on_progress, start=start)
        return len(m.statements) - row.applied_steps_count


def repair_snapshot_rebuild(url: str, migrations_dir: Path, bucket: Bucket, *,
                            options: Options = DEFAULT_OPTIONS) -> Snapshot:  # fmt: skip
    """Re-project the bucket's live catalog into its ``schema_snapshot.json``; return the snapshot."""
    with _session(url, options) as conn:
        live = _scope(migrations_dir, bucket).read(conn)
    write_atomic(bucket.directory(migrations_dir) / "schema_snapshot.json", encode(live))
    return live


def baseline(url: str, migrations_dir: Path, bucket: Bucket, version: str, reason: str,
             options: Options = DEFAULT_OPTIONS) -> Snapshot:  # fmt: skip
    """Adopt an existing database: record ``version`` as ``baseline`` and write the live schema as the
    bucket's snapshot (and as ``<version>.snapshot.json`` when ``version`` has no migration files)."""
    if not reason.strip():
        raise MigrationError("baseline needs a non-empty reason", refusal=True)
    if not is_version(version):
        raise MigrationError(f"{version!r} is not a migration version (V<yyyymmddHHMMSS>__<slug>)", refusal=True)
    with _session(url, options) as conn:
        ledger.ensure(conn)
        with bucket_lock(conn, bucket, options):
            rows = ledger.rows(conn, bucket.label)
            if any(r.version == version for r in rows):
                raise MigrationError(f"{version} is already recorded", refusal=True, code="VersionAlreadyApplied")
            _out_of_order(rows, version, options.out_of_order)
            live = _scope(migrations_dir, bucket).read(conn)
            note = (f"baseline established at {ledger.now_text()} for bucket database={bucket.database} "
                    f"app={bucket.label}; reason: {reason}")  # fmt: skip
            ledger.insert(conn, version=version, app_label=bucket.label, description=f"<baseline> {version}",
                          checksum_up=compute_checksum([encode(live).decode()]), checksum_down=None,
                          status="baseline", note=note)  # fmt: skip
    write_atomic(bucket.directory(migrations_dir) / "schema_snapshot.json", encode(live))
    if not (bucket.directory(migrations_dir) / f"{version}.plan.json").exists():
        # The schema as of the baseline, for ``verify`` after later migrations are rolled back to it.
        write_atomic(migration_snapshot_path(migrations_dir, bucket, version), encode(live))
    return live


def _migration(migrations_dir: Path, bucket: Bucket, version: str) -> Migration:
    found = next((m for m in discover(migrations_dir, bucket) if m.version == version), None)
    if found is None:
        raise MigrationError(f"{version} has no files in {bucket.directory(migrations_dir)}", refusal=True)
    return found


def _row(conn: Connection, bucket: Bucket, version: str) -> LedgerRow:
    row = (
        next((r for r in ledger.rows(conn, bucket.label) if r.version == version), None)
        if ledger.exists(conn)
        else None
    )
    if row is None:
        raise MigrationError(f"{version} is not in the ledger of {bucket}", refusal=True, code="VersionNotFound")
    return row


# -------------------------------------------------------------------------------------- status and verify


class BucketStatus(msgspec.Struct, frozen=True):
    """One bucket's ledger rows, the versions on disk not yet applied, and checksum drift."""

    bucket: str
    rows: tuple[LedgerRow, ...]
    pending: tuple[str, ...]
    drifted: tuple[str, ...]


class StatusReport(msgspec.Struct, frozen=True):
    """``status`` for a database; ``invalid_indexes`` are leftovers of failed concurrent builds."""

    buckets: tuple[BucketStatus, ...]
    invalid_indexes: tuple[str, ...]

    @property
    def healthy(self) -> bool:
        """No unfinished row, no drift, no invalid index."""
        return not self.invalid_indexes and all(
            not b.drifted and all(r.status not in ("pending", "failed") for r in b.rows) for b in self.buckets
        )


def status(url: str, migrations_dir: Path, database: str = "main", *,
           options: Options = DEFAULT_OPTIONS) -> StatusReport:  # fmt: skip
    """The ledger and files of every bucket of ``database`` (never creates the ledger)."""
    out = []
    with _session(url, options) as conn:
        has_ledger = ledger.exists(conn)
        for b in buckets(migrations_dir, database):
            rows = ledger.rows(conn, b.label) if has_ledger else []
            done = {r.version: r for r in rows if r.status in ledger.TERMINAL_OK}
            migrations = discover(migrations_dir, b)
            drifted = tuple(
                m.version for m in migrations if m.version in done and done[m.version].status != "baseline"
                and file_checksums(m.up_text, m.down_text)
                != (done[m.version].checksum_up, done[m.version].checksum_down)
            )  # fmt: skip
            pending = tuple(m.version for m in migrations if m.version not in done)
            out.append(BucketStatus(str(b), tuple(rows), pending, drifted))
        invalid = conn.execute(
            "SELECT c.relname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
            "WHERE NOT x.indisvalid AND c.relnamespace = current_schema()::regnamespace ORDER BY 1"
        ).fetchall()  # fmt: skip
    return StatusReport(tuple(out), tuple(r[0] for r in invalid))


class Diagnostic(msgspec.Struct, frozen=True):
    """A verify finding: ``code`` (D6xx), ``severity``, ``subject`` and ``message``."""

    code: str
    severity: Literal["error", "warning", "info"]
    subject: str
    message: str


class VerifyReport(msgspec.Struct, frozen=True):
    """``verify`` for one bucket; ``head`` is the applied head whose snapshot the schema was compared with."""

    bucket: str
    diagnostics: tuple[Diagnostic, ...]
    head: str | None = None

    @property
    def ok(self) -> bool:
        """No error-severity diagnostic."""
        return all(d.severity != "error" for d in self.diagnostics)


class Scope(msgspec.Struct, frozen=True):
    """Which tables and enums of the live schema belong to a bucket (None: everything)."""

    tables: tuple[str, ...] | None
    enums: tuple[str, ...] | None
    app: str | None

    def read(self, conn: Connection) -> Snapshot:
        """Introspect this scope."""
        return introspect(conn, tables=self.tables, enums=self.enums, app=self.app)


def _scope(migrations_dir: Path, bucket: Bucket, *also: Snapshot) -> Scope:
    """Everything for a database with only the global bucket, else the names of the bucket's snapshot
    (and of ``also``: a rolled-back migration may have dropped a table its head still has)."""
    snaps = [load(bucket.directory(migrations_dir) / "schema_snapshot.json").value_or(EMPTY), *also]
    if bucket.app is None and all(b.app is None for b in buckets(migrations_dir, bucket.database)):
        return Scope(None, None, None)
    tables = sorted({name for snap in snaps for name in snap.models})
    enums = sorted({name for snap in snaps for name in snap.enums})
    return Scope(tuple(tables), tuple(enums), bucket.app)


def applied_head(rows: list[LedgerRow]) -> LedgerRow | None:
    """The newest ``applied``/``faked``/``baseline`` row in ledger order (None when there is none)."""
    return next((r for r in reversed(rows) if r.status in ledger.TERMINAL_OK), None)


def migration_snapshot_path(migrations_dir: Path, bucket: Bucket, version: str) -> Path:
    """``<bucket>/<version>.snapshot.json``: the bucket's schema once ``version`` is applied."""
    return bucket.directory(migrations_dir) / f"{version}{SNAPSHOT_SUFFIX}"


def _load_snapshot(path: Path) -> Snapshot:
    loaded = load(path)
    if not is_successful(loaded):
        raise MigrationError(loaded.failure(), refusal=False)
    return loaded.unwrap()


def expected_snapshot(migrations_dir: Path, bucket: Bucket, rows: list[LedgerRow],
                      migrations: list[Migration]) -> tuple[Snapshot | None, str | None]:  # fmt: skip
    """The schema the bucket should have given its ledger ``rows`` (see the module docstring), and the
    version it is the schema of; ``(None, version)`` when that migration has no snapshot file (it was
    composed before djogi kept a snapshot per migration)."""
    latest = _load_snapshot(bucket.directory(migrations_dir) / "schema_snapshot.json")
    done = {r.version for r in rows if r.status in ledger.TERMINAL_OK}
    head = applied_head(rows)
    if all(m.version in done for m in migrations):
        return latest, head.version if head else None
    # The bootstrap changes no tables: the schema is the one of the newest row before it (a baseline).
    head = next((r for r in reversed(rows) if r.status in ledger.TERMINAL_OK and r.version != PHASE_ZERO_VERSION),
                None)  # fmt: skip
    if head is None:
        return EMPTY, None
    path = migration_snapshot_path(migrations_dir, bucket, head.version)
    return (_load_snapshot(path) if path.exists() else None), head.version


def _no_snapshot_file(version: str, consequence: str) -> Diagnostic:
    """``D630``: the head migration predates per-migration snapshot files."""
    why = f"{version}{SNAPSHOT_SUFFIX} not found (composed before djogi kept a snapshot per migration): {consequence}"
    return Diagnostic("D630", "warning", version, why)


def _compare(expected: Snapshot, live: Snapshot) -> list[Diagnostic]:
    from djogi.migrate.lint import compare

    return compare(expected, live)


def verify(url: str, migrations_dir: Path, bucket: Bucket, *, strict: bool = False,
           options: Options = DEFAULT_OPTIONS) -> VerifyReport:  # fmt: skip
    """Compare the live catalog with the snapshot of the bucket's applied head, and the ledger with the
    files; migrations on disk but not applied are ``D619`` warnings."""
    migrations = discover(migrations_dir, bucket)
    found: list[Diagnostic] = []
    with _session(url, options) as conn:
        if not ledger.exists(conn):
            found.append(Diagnostic("D621", "error", "djogi_schema_migrations", "ledger table not found"))
            rows: list[LedgerRow] = []
        else:
            rows = ledger.rows(conn, bucket.label)
        expected, version = expected_snapshot(migrations_dir, bucket, rows, migrations)
        if expected is None:  # as before per-migration snapshots: the newest composed schema
            expected = _load_snapshot(bucket.directory(migrations_dir) / "schema_snapshot.json")
            found.append(_no_snapshot_file(version or "", (
                "the live schema was compared with schema_snapshot.json, the newest composed schema, so "
                "differences may only be the migrations not applied; apply them to compare exactly")))  # fmt: skip
        live = _scope(migrations_dir, bucket, expected).read(conn)
    found += _compare(expected, live)
    done = {r.version: r for r in rows if r.status in ("applied", "faked")}
    for m in migrations:
        row = done.get(m.version)
        if row is not None and file_checksums(m.up_text, m.down_text) != (row.checksum_up, row.checksum_down):
            found.append(Diagnostic("D620", "error", m.version, "applied migration's files changed (checksum drift)"))
        if m.version not in done and not any(r.version == m.version and r.status == "baseline" for r in rows):
            found.append(Diagnostic("D619", "warning", m.version, "migration on disk is not applied"))
    for r in rows:
        if r.out_of_order_flag:
            found.append(Diagnostic("D622", "error" if strict else "warning", r.version, "applied out of order"))
    if any(r.status in ledger.TERMINAL_OK for r in rows) and not live.models and expected.models:
        found.append(Diagnostic("D699", "error", str(bucket), "ledger has applied rows but the bucket has no tables"))
    head = applied_head(rows)
    return VerifyReport(str(bucket), tuple(found), head.version if head else None)


# -------------------------------------------------------------------------------------- discard


class DiscardReport(msgspec.Struct, frozen=True):
    """What ``discard`` removed: the version, the files, and per bucket the snapshot it restored."""

    version: str
    removed: tuple[str, ...]
    restored: tuple[str, ...]


def _discardable(row: LedgerRow) -> bool:
    """A ledger row that leaves nothing in the schema: rolled back, or failed before any step took effect."""
    return row.status == "rolled_back" or (row.status == "failed" and not (row.applied_steps_count or row.has_claim))


def discard(url: str | None, migrations_dir: Path, database: str = "main", version: str | None = None, *,
            options: Options = DEFAULT_OPTIONS) -> DiscardReport:  # fmt: skip
    """Remove an unapplied composed migration (the newest one when ``version`` is None) from every bucket of
    ``database`` that has it, and put back each bucket's ``schema_snapshot.json`` as it was before compose
    (the snapshot of the newest remaining migration or baseline; none left: the file is removed). A
    ``failed`` ledger row whose transaction left nothing behind is deleted with it.

    Refused (nothing removed) when the version is the bootstrap, is not the newest migration of a bucket,
    is recorded in the ledger at ``url`` in another state (applied, faked, pending, partly applied), or when
    the snapshot to restore is missing. Only the ledger at ``url`` is consulted: a migration applied on
    another database must be rolled back there, not discarded.
    """
    chosen = [(b, discover(migrations_dir, b)) for b in buckets(migrations_dir, database)]
    composed = sorted({m.version for _, ms in chosen for m in ms if m.version != PHASE_ZERO_VERSION})
    target = version or (composed[-1] if composed else None)
    if target is None or target not in composed:
        what = "no composed migration" if target is None else f"{target} is not a composed migration of {database}"
        raise MigrationError(f"nothing to discard: {what}", refusal=True, code="NothingToDiscard")
    with _session(url, options) if url is not None else nullcontext() as conn:
        rows = [r for b, _ in chosen for r in ledger.rows(conn, b.label)] if conn and ledger.exists(conn) else []
        plans: list[tuple[Bucket, Path | None, LedgerRow | None]] = []
        for b, ms in chosen:
            versions = [m.version for m in ms]
            if target not in versions:
                continue
            if versions[-1] != target:
                raise MigrationError(f"{target} is not the newest migration of {b} ({versions[-1]} is); discard "
                                     "that first", refusal=True, code="NotNewest")  # fmt: skip
            row = next((r for r in rows if r.version == target and r.app_label == b.label), None)
            if row is not None and not _discardable(row):
                raise MigrationError(
                    f"{target} is {row.status} in {b}; roll it back first (`djogi migrations rollback`) or resolve "
                    "it with `djogi migrations repair`", refusal=True, code="NotDiscardable",
                )  # fmt: skip
            folder = b.directory(migrations_dir)
            earlier = sorted(p for p in folder.glob(f"V*{SNAPSHOT_SUFFIX}") if p.name < f"{target}{SNAPSHOT_SUFFIX}")
            previous = [v for v in versions[:-1] if v != PHASE_ZERO_VERSION]
            if previous and not any(p.name == f"{previous[-1]}{SNAPSHOT_SUFFIX}" for p in earlier):
                raise MigrationError(
                    f"{b}: {previous[-1]}{SNAPSHOT_SUFFIX} is missing, so the snapshot before {target} cannot be "
                    "restored; remove the files by hand and run `djogi migrations repair snapshot-rebuild`",
                    refusal=True, code="NoSnapshotToRestore",
                )  # fmt: skip
            plans.append((b, earlier[-1] if earlier else None, row))
        removed: list[str] = []
        restored: list[str] = []
        for b, source, row in plans:
            folder = b.directory(migrations_dir)
            for suffix in (".plan.json", ".sdjql", ".down.sdjql", SNAPSHOT_SUFFIX):
                path = folder / f"{target}{suffix}"
                if path.exists():
                    path.unlink()
                    removed.append(str(path))
            current = folder / "schema_snapshot.json"
            if source is not None:
                write_atomic(current, source.read_bytes())
                restored.append(f"{b}: schema_snapshot.json <- {source.name}")
            elif current.exists():
                current.unlink()
                restored.append(f"{b}: schema_snapshot.json removed (no migration left)")
            if conn is not None and row is not None and row.status == "failed":
                ledger.delete(conn, row.id)
                restored.append(f"{b}: failed ledger row of {target} deleted")
    return DiscardReport(target, tuple(removed), tuple(restored))
