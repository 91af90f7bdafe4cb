"""``status`` and ``verify``: read the ledger and the live catalog, compare them with the files.

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

from collections.abc import Iterable
from pathlib import Path

import msgspec
from returns.pipeline import is_successful

from djogi.migrate import ledger
from djogi.migrate.checksum import PHASE_ZERO_VERSION
from djogi.migrate.introspect import Catalog, catalog, server_spelled
from djogi.migrate.ledger import Connection, LedgerRow
from djogi.migrate.project import project
from djogi.migrate.runner.compare import (
    Diagnostic,
    compare,
    ledger_diagnostics,
    no_snapshot_file,
    no_tables,
    unmodelled,
)
from djogi.migrate.runner.discovery import (
    Bucket,
    Migration,
    buckets,
    discover,
    load_snapshot,
    migration_snapshot_path,
    schema_snapshot_path,
)
from djogi.migrate.runner.errors import MigrationError
from djogi.migrate.runner.plan import DEFAULT_OPTIONS, Options, applied_head, drifted
from djogi.migrate.runner.session import session
from djogi.migrate.snapshot import EMPTY, Snapshot, load
from djogi.model import ModelDescriptor


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
    """The ledger and files of every bucket of ``database`` (never creates the ledger), and the INVALID
    indexes of the current schema."""
    out = []
    with session(url, options) as conn:
        has_ledger = ledger.exists(conn)
        for b in buckets(migrations_dir, database):
            rows = ledger.rows(conn, b.label) if has_ledger else []
            done = {r.version: r for r in rows if r.status in ledger.TERMINAL_OK}
            migrations = discover(migrations_dir, b)
            drift = tuple(m.version for m in migrations
                          if m.version in done and done[m.version].status != "baseline" and drifted(m, done[m.version]))
            pending = tuple(m.version for m in migrations if m.version not in done)
            out.append(BucketStatus(str(b), tuple(rows), pending, drift))
        invalid = conn.execute(
            "SELECT c.relname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
            "WHERE NOT x.indisvalid AND c.relnamespace = current_schema()::regnamespace ORDER BY 1"
        ).fetchall()  # fmt: skip
    return StatusReport(tuple(out), tuple(r[0] for r in invalid))


class VerifyReport(msgspec.Struct, frozen=True):
    """``verify`` for one bucket; ``head`` is the applied head whose snapshot the schema was compared with;
    ``models_compared``: the schema was also compared with the models."""

    bucket: str
    diagnostics: tuple[Diagnostic, ...]
    head: str | None = None
    models_compared: bool = False

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
        return self.catalog(conn).snapshot

    def catalog(self, conn: Connection) -> Catalog:
        """Introspect this scope, with the constraints a snapshot cannot hold."""
        return catalog(conn, tables=self.tables, enums=self.enums, app=self.app)


def scope(migrations_dir: Path, bucket: Bucket, *also: Snapshot) -> Scope:
    """Everything for a database with only the global bucket, else the names of the bucket's snapshot
    (and of ``also``: a rolled-back migration may have dropped a table its head still has)."""
    snaps = [load(schema_snapshot_path(migrations_dir, bucket)).value_or(EMPTY), *also]
    if bucket.app is None and all(b.app is None for b in buckets(migrations_dir, bucket.database)):
        return Scope(None, None, None)
    tables = sorted({name for snap in snaps for name in (*snap.models, *snap.views)})
    enums = sorted({name for snap in snaps for name in snap.enums})
    return Scope(tuple(tables), tuple(enums), bucket.app)


def expected_snapshot(migrations_dir: Path, bucket: Bucket, rows: list[LedgerRow],
                      migrations: list[Migration]) -> tuple[Snapshot | None, str | None]:  # fmt: skip
    """The schema the bucket should have given its ledger ``rows`` (see the module docstring), and the
    version it is the schema of; ``(None, version)`` when that migration has no snapshot file (it was
    composed before djogi kept a snapshot per migration)."""
    latest = load_snapshot(schema_snapshot_path(migrations_dir, bucket))
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
    return (load_snapshot(path) if path.exists() else None), head.version


def verify(url: str, migrations_dir: Path, bucket: Bucket, *, strict: bool = False,
           models: Iterable[ModelDescriptor] | None = None,
           options: Options = DEFAULT_OPTIONS) -> VerifyReport:  # fmt: skip
    """Compare the live catalog with the snapshot of the bucket's applied head, with the projection of
    ``models`` (when given: the bucket's models among them; a difference already found against the
    snapshot is not repeated), and the ledger with the files; migrations on disk but not applied are
    ``D619`` warnings, and then the models, which declare the schema after them, are not compared
    (``D642``, info). Refused (``MigrationError``) when the models cannot be projected."""
    declared = None
    if models is not None:
        projected = project(models, bucket.database, bucket.app)
        if not is_successful(projected):
            raise MigrationError(f"{bucket}: the models cannot be projected: {projected.failure()}", refusal=True)
        declared = projected.unwrap()
    migrations = discover(migrations_dir, bucket)
    found: list[Diagnostic] = []
    with session(url, options) as conn:
        if not ledger.exists(conn):
            found.append(Diagnostic("D621", "error", "djogi_schema_migrations", "ledger table not found"))
            rows: list[LedgerRow] = []
        else:
            rows = ledger.rows(conn, bucket.label)
        expected, version = expected_snapshot(migrations_dir, bucket, rows, migrations)
        if expected is None:  # as before per-migration snapshots: the newest composed schema
            expected = load_snapshot(schema_snapshot_path(migrations_dir, bucket))
            found.append(no_snapshot_file(version or "", (
                "the live schema was compared with schema_snapshot.json, the newest composed schema, so "
                "differences may only be the migrations not applied; apply them to compare exactly")))  # fmt: skip
        read = scope(migrations_dir, bucket, expected, *([declared] if declared else [])).catalog(conn)
        live = read.snapshot
        expected = server_spelled(conn, expected, live)
        declared = None if declared is None else server_spelled(conn, declared, live)
    found += compare(expected, live)
    behind = ledger_diagnostics(migrations, rows, strict=strict)
    compared = declared is not None and not any(d.code == "D619" for d in behind)
    if compared and declared is not None:
        seen = {(d.code, d.subject) for d in found}
        found += [d for d in compare(declared, live, "models") if (d.code, d.subject) not in seen]
    elif declared is not None:
        found.append(Diagnostic("D642", "info", str(bucket), "the models were not compared with the database: "
                                "they declare the schema of migrations on disk that are not applied"))  # fmt: skip
    found += unmodelled(read.unmodelled)
    found += behind
    found += no_tables(str(bucket), rows, expected, live)
    head = applied_head(rows)
    return VerifyReport(str(bucket), tuple(found), head.version if head else None, models_compared=compared)
