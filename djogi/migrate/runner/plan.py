"""The runner's decisions (pure: values in, values out, refusals raised as ``MigrationError``).

The knobs (``Options``) and progress events (``Progress``); the order migrations apply in; what an
``apply`` refuses before running any SQL (checksum drift, unfinished rows, out-of-order versions);
which rows a ``rollback`` undoes and what it refuses; the applied head of a bucket's ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import msgspec

from djogi.config import DEFAULT_OPERATION_TIMEOUT
from djogi.migrate import ledger
from djogi.migrate.checksum import GLOBAL_DIR, PHASE_ZERO_VERSION
from djogi.migrate.ledger import LedgerRow
from djogi.migrate.runner.discovery import Migration
from djogi.migrate.runner.errors import MigrationError

OutOfOrder = Literal["reject", "allow"]


class Options(msgspec.Struct, frozen=True, kw_only=True):
    """Runner knobs: lock polling, ``lock_timeout`` and its retries, the out-of-order policy, and
    ``operation_timeout`` (seconds, 0: no bound): each wait of the runner's session on the server (a
    statement's result, a COMMIT) gives up past it, so a frozen or killed server fails the command
    (``MigrationError``, exit 1) instead of hanging it; ``node_id``, the HeeRanjID node the session binds."""

    lock_poll_s: float = 0.05
    lock_attempts: int = 600
    lock_timeout_ms: int = 5000
    lock_retries: int = 3
    out_of_order: OutOfOrder = "allow"
    operation_timeout: float = DEFAULT_OPERATION_TIMEOUT
    node_id: int | None = None  # bound for the session (``heer.node_id``): a bootstrap fixes it as the database's


DEFAULT_OPTIONS = Options()


def out_of_order_policy(profile: str, env: dict[str, str]) -> OutOfOrder:
    """``reject`` in production or CI, ``allow`` (with a flag in the ledger) otherwise."""
    return "reject" if profile == "production" or env.get("CI", "").lower() == "true" else "allow"


class Progress(msgspec.Struct, frozen=True):
    """A progress event: ``kind`` is ``waiting`` (for the lock), ``start``, ``step`` or ``done``."""

    kind: Literal["waiting", "start", "step", "done"]
    bucket: str
    version: str = ""
    step: int = 0
    total: int = 0
    label: str = ""


ProgressCallback = Callable[[Progress], None]


def apply_order(migrations: list[Migration]) -> list[Migration]:
    """The bootstrap first, then by version (ties by bucket label)."""
    return sorted(migrations, key=lambda m: (m.version != PHASE_ZERO_VERSION, m.version, m.bucket.label))


def drifted(m: Migration, row: LedgerRow) -> bool:
    """True when the migration's files no longer hash to the checksums its ledger row recorded."""
    return m.checksums != (row.checksum_up, row.checksum_down)


def check_history(migrations: list[Migration], rows: list[LedgerRow]) -> None:
    """Refuse (``ChecksumMismatch``) drift of an applied migration's files and (``UnfinishedMigration``) an
    unfinished row, naming the repair command."""
    on_disk = {m.version: m for m in migrations}
    for row in rows:
        m = on_disk.get(row.version)
        if row.status in ("applied", "faked") and m is not None and drifted(m, row):
            raise MigrationError(
                f"checksum drift: {m.bucket} {row.version} was applied with {row.checksum_up} but its files now "
                f"hash to {m.checksums[0]}; restore the files, or record the edit with "
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


def out_of_order_note(rows: list[LedgerRow], version: str, policy: OutOfOrder) -> str | None:
    """The ledger note for applying ``version`` after a newer one (None when it is in order); refused
    (``OutOfOrderRejected``) under the ``reject`` policy."""
    later = sorted((r for r in rows if r.status in ledger.TERMINAL_OK and r.version > version),
                   key=lambda r: r.version)  # fmt: skip
    if not later:
        return None
    peer = later[-1]
    if policy == "reject":
        raise MigrationError(f"out-of-order: {version} is older than the applied {peer.version}; refused by policy",
                             refusal=True, code="OutOfOrderRejected")  # fmt: skip
    return f"out-of-order apply: peer {peer.version} was already applied at {peer.applied_at.isoformat()}"


def applied_head(rows: list[LedgerRow]) -> LedgerRow | None:
    """The newest ``applied``/``faked``/``baseline`` row in ledger order (None when there is none)."""
    return next((r for r in reversed(rows) if r.status in ledger.TERMINAL_OK), None)


def rollback_targets(rows: list[LedgerRow], to: str | None) -> list[LedgerRow]:
    """The rows to roll back, newest first: the newest applied one, or every one newer than ``to``. Refused
    when an unfinished row is in the way, when it would cross a baseline or the bootstrap, or when there
    is nothing to roll back."""
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


def check_rollback(row: LedgerRow, m: Migration | None, allow_data_loss: bool) -> tuple[str, list[str]]:
    """The down SQL of ``row``'s migration ``m`` and its ``-- LOSSY`` lines; refused when its files are
    missing, drifted, its down is only comments, or it is lossy without ``allow_data_loss``."""
    if m is None or m.down_text is None:
        raise MigrationError(f"{row.version}: its files are missing; cannot roll back", refusal=True)
    if drifted(m, row):
        raise MigrationError(f"{row.version}: checksum drift; run `djogi migrations repair checksum-drift "
                             f"{row.version}` first", refusal=True, code="ChecksumDrift")  # fmt: skip
    if m.checksums[1] is None:
        raise MigrationError(f"{row.version} has no reverse (its down file is only comments)", refusal=True,
                             code="VersionNotRollbackable")  # fmt: skip
    lossy = [line for line in m.down_text.splitlines() if line.startswith("-- LOSSY")]
    if lossy and not allow_data_loss:
        raise MigrationError(
            f"{row.version} cannot be rolled back without data loss:\n  " + "\n  ".join(lossy)
            + "\npass --allow-data-loss with --reason to proceed",
            refusal=True, code="LossyRollbackRefused",
        )  # fmt: skip
    return m.down_text, lossy
