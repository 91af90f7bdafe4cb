"""djogi's migration engine: snapshots, differ, files, ledger and runner.

Pure planning (values in, values out; failures are ``returns.result.Result``):

- ``project(descriptors, database, app) -> Result[Snapshot, str]``: what the models declare.
- ``diff(old, new) -> Result[Plan, str]``: ordered ``Operation`` values with up/down SQL, online-safety
  class and plan classification (``Plan.classification``, ``Plan.needs_allow_destructive``).
- ``plan_compose(migrations_dir, descriptors, now, slug=, database=) -> Result[ComposePlan, str]`` and
  ``compose(...)`` (which also writes the files atomically; ``allow_destructive``, ``force_overwrite``).
- ``check(migrations_dir, descriptors) -> CheckReport``: no database needed; models changed without a
  migration, edited files, lint findings with fixes (``lint_sql`` for any SQL).
- ``buckets(migrations_dir, database) -> list[Bucket]`` and ``discover(migrations_dir, bucket) ->
  list[Migration]``: what is on disk (``Migration.edited`` says why its files disagree with its plan).

Effectful (``url`` is a libpq URL; errors are ``MigrationError`` with ``refusal`` = exit 2 vs 1):

- ``apply(url, migrations_dir, database, app="*", options=, on_progress=, fake_reason=) -> ApplyReport``
- ``rollback(url, migrations_dir, bucket, to=, allow_data_loss=, reason=, dry_run=) -> RollbackReport``
  (which then compares the live schema with the new applied head's snapshot: ``head``, ``diagnostics``, ``ok``)
- ``status(url, migrations_dir, database) -> StatusReport``; ``verify(url, migrations_dir, bucket) -> VerifyReport``
  compares the live schema with the snapshot of the bucket's applied head (``<version>.snapshot.json``, written
  by compose next to each migration); migrations on disk but not applied are ``D619`` warnings
- ``baseline(url, migrations_dir, bucket, version, reason)``, ``repair_checksum_drift`` (records the
  edited files' checksums and carries the edit into ``plan.json``),
  ``repair_partial_apply``, ``repair_resume_partial``, ``repair_snapshot_rebuild``
- ``discard(url, migrations_dir, database, version=None) -> DiscardReport``: remove an unapplied composed
  migration and restore the snapshot it advanced
- ``introspect(conn, tables=, enums=, app=) -> Snapshot``
- ``model_source(snapshot, tables=None) -> str``: the source of models declaring those tables exactly
  (``djogi db inspect``); ``InspectError`` names a table or column that cannot be declared exactly

``on_progress`` receives ``Progress`` events (``waiting``, ``start``, ``step``, ``done``) for a progress bar.
``advisory_lock_key(database, app)`` is the bucket lock key (``djogi.seeds`` takes the same lock).

The runner's modules (``djogi.migrate.runner``) are split by job; their other names are internal.
"""

from djogi.migrate.check import CheckReport, check
from djogi.migrate.checksum import advisory_lock_key
from djogi.migrate.compose import BucketPlan, ComposePlan, compose, plan_compose, write_compose
from djogi.migrate.diff import Plan, diff
from djogi.migrate.introspect import introspect
from djogi.migrate.lint import Finding, lint_sql
from djogi.migrate.modelsource import InspectError, model_source
from djogi.migrate.operations import Operation, Step
from djogi.migrate.project import project
from djogi.migrate.runner.apply import ApplyReport, apply
from djogi.migrate.runner.compare import Diagnostic
from djogi.migrate.runner.discard import DiscardReport, discard
from djogi.migrate.runner.discovery import Bucket, Migration, buckets, discover
from djogi.migrate.runner.errors import MigrationError
from djogi.migrate.runner.plan import Options, Progress, out_of_order_policy
from djogi.migrate.runner.repair import (
    baseline,
    repair_checksum_drift,
    repair_partial_apply,
    repair_resume_partial,
    repair_snapshot_rebuild,
)
from djogi.migrate.runner.rollback import RollbackReport, rollback
from djogi.migrate.runner.verify import StatusReport, VerifyReport, status, verify
from djogi.migrate.snapshot import Snapshot

__all__ = [
    "ApplyReport",
    "Bucket",
    "BucketPlan",
    "CheckReport",
    "ComposePlan",
    "Diagnostic",
    "DiscardReport",
    "Finding",
    "InspectError",
    "Migration",
    "MigrationError",
    "Operation",
    "Options",
    "Plan",
    "Progress",
    "RollbackReport",
    "Snapshot",
    "StatusReport",
    "Step",
    "VerifyReport",
    "advisory_lock_key",
    "apply",
    "baseline",
    "buckets",
    "check",
    "compose",
    "diff",
    "discard",
    "discover",
    "introspect",
    "lint_sql",
    "model_source",
    "out_of_order_policy",
    "plan_compose",
    "project",
    "repair_checksum_drift",
    "repair_partial_apply",
    "repair_resume_partial",
    "repair_snapshot_rebuild",
    "rollback",
    "status",
    "verify",
    "write_compose",
]
