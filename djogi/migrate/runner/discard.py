"""``discard``: remove the newest composed migration that no database has applied, and put back the
snapshot its compose advanced."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import msgspec

from djogi.migrate import ledger
from djogi.migrate.checksum import PHASE_ZERO_VERSION
from djogi.migrate.emit import SNAPSHOT_SUFFIX
from djogi.migrate.ledger import LedgerRow
from djogi.migrate.runner.discovery import Bucket, buckets, discover, schema_snapshot_path
from djogi.migrate.runner.errors import MigrationError
from djogi.migrate.runner.plan import DEFAULT_OPTIONS, Options
from djogi.migrate.runner.session import session
from djogi.migrate.snapshot import write_atomic


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
    with session(url, options) if url is not None else nullcontext() as conn:
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
            current = schema_snapshot_path(migrations_dir, b)
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
