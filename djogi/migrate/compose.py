"""``compose``: models -> migration files, per ``(database, app)`` bucket (pure planning + file writes).

``plan_compose(migrations_dir, descriptors, now)`` reads the committed snapshots and returns a
``ComposePlan`` value (no writes): per bucket the differ ``Plan``, the rendered ``MigrationFiles`` and the
snapshot to commit, plus the bootstrap migration of each database that has none yet (HeeRanjID, the
``*_next()`` defaults and required extensions), or an upgrade of it (``V<now - 1 s>__heeranjid_upgrade``,
the current idempotent bootstrap script) when the committed migrations install an older HeeRanjID SQL.
``write_compose(plan, migrations_dir)`` writes them atomically (migration files first, then the
snapshots), refusing to overwrite edited files.

One version (``V<UTC now>__<slug>``) is stamped on every bucket changed by one compose. The snapshot
advances at compose time: it is the schema the committed migrations produce, so ``check`` needs no
database. Each migration also gets a ``<version>.snapshot.json`` sibling holding that same snapshot (the
bootstrap's is empty), so ``verify`` can compare the live schema with the schema as of the *applied*
head after a rollback. Same models + same snapshots + same ``now`` -> byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable
from pathlib import Path

import msgspec
from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from djogi.heer_sql import CLOCK_MARKER, bootstrap_sql
from djogi.migrate import operations as ops
from djogi.migrate.checksum import GLOBAL_DIR, PHASE_ZERO_VERSION, version_for
from djogi.migrate.diff import Plan, diff
from djogi.migrate.emit import MigrationFiles, render, render_steps, write
from djogi.migrate.operations import Step
from djogi.migrate.project import ALLOWED_EXTENSIONS, project
from djogi.migrate.snapshot import EMPTY, Snapshot, encode, load, write_atomic
from djogi.model import ModelDescriptor
from djogi.schema import pending


class BucketPlan(msgspec.Struct, frozen=True):
    """One bucket's composed migration."""

    database: str
    app: str | None
    plan: Plan
    files: MigrationFiles
    snapshot: Snapshot

    @property
    def directory_name(self) -> str:
        """``<database>/<app or _global_>``."""
        return f"{self.database}/{self.app or GLOBAL_DIR}"


class ComposePlan(msgspec.Struct, frozen=True):
    """Everything one compose would write; empty ``buckets`` and ``bootstraps`` mean nothing to do."""

    version: str
    buckets: tuple[BucketPlan, ...]
    bootstraps: tuple[tuple[str, MigrationFiles], ...]

    @property
    def empty(self) -> bool:
        """True when models match every snapshot."""
        return not self.buckets and not self.bootstraps


def bootstrap_files(database: str, extensions: Iterable[str]) -> Result[MigrationFiles, str]:
    """The per-database bootstrap migration ``V00000000000000__phase_zero_bootstrap``."""
    steps = [Step(label="PhaseZero heeranjid", up=bootstrap_sql(), down="-- no reverse: the bootstrap stays")]
    for ext in sorted(set(extensions)):
        if ext not in ALLOWED_EXTENSIONS:
            return Failure(f"unknown extension {ext!r}; allowed: {', '.join(ALLOWED_EXTENSIONS)}")
        steps.append(ops.add_extension(ext).steps[0])
    return Success(render_steps(tuple(steps), PHASE_ZERO_VERSION, f"{database}/{GLOBAL_DIR}", "additive",
                                snapshot=EMPTY))  # fmt: skip


def _needs_upgrade(folder: Path) -> bool:
    """True when no migration of ``folder`` (a database's global bucket, which has a bootstrap) installs
    the current HeeRanjID SQL (whose script creates ``CLOCK_MARKER``)."""
    return not any(CLOCK_MARKER in f.read_text(encoding="utf-8") for f in folder.glob("V*.sdjql")
                   if not f.name.endswith(".down.sdjql"))


def upgrade_files(database: str, now: dt.datetime, snapshot: Snapshot) -> MigrationFiles:
    """The migration re-running the current bootstrap script in ``database`` (it replaces the functions and
    keeps every table), stamped one second before ``now`` so it applies before what compose writes at
    ``now``; ``snapshot`` is the global bucket's schema, which it leaves as it is."""
    step = Step(label="HeeRanjID upgrade", up=bootstrap_sql(), down="-- no reverse: the upgrade stays")
    version = version_for(now - dt.timedelta(seconds=1), "heeranjid_upgrade")
    return render_steps((step,), version, f"{database}/{GLOBAL_DIR}", "additive", snapshot=snapshot)


def _bucket_keys(migrations_dir: Path, descriptors: list[ModelDescriptor]) -> list[tuple[str, str | None]]:
    keys = {(d.database, d.app or None) for d in descriptors}
    if migrations_dir.is_dir():
        for snap in migrations_dir.glob("*/*/schema_snapshot.json"):
            app = snap.parent.name
            keys.add((snap.parent.parent.name, None if app == GLOBAL_DIR else app))
    return sorted(keys, key=lambda k: (k[0], k[1] or ""))


def plan_compose(
    migrations_dir: Path, descriptors: Iterable[ModelDescriptor], now: dt.datetime, *, slug: str | None = None,
    database: str | None = None,
) -> Result[ComposePlan, str]:  # fmt: skip
    """Diff the models of every bucket (of ``database`` when given) against the committed snapshots.
    ``Failure`` while a declared model still waits for a model it refers to (it would be left out)."""
    waiting = pending()
    if waiting:
        return Failure("; ".join(waiting))
    models = list(descriptors)
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    plans: list[BucketPlan] = []
    changed: list[tuple[str, str | None, Plan, Snapshot, Snapshot]] = []
    for db, app in _bucket_keys(migrations_dir, models):
        if database is not None and db != database:
            continue
        folder = migrations_dir / db / (app or GLOBAL_DIR)
        loaded = load(folder / "schema_snapshot.json")
        if not is_successful(loaded):
            return Failure(loaded.failure())
        projected = project(models, db, app, generated_at=stamp)
        if not is_successful(projected):
            return Failure(projected.failure())
        planned = diff(loaded.unwrap(), projected.unwrap())
        if not is_successful(planned):
            return Failure(f"{db}/{app or GLOBAL_DIR}: {planned.failure()}")
        unfillable = planned.unwrap().unfillable_columns
        if unfillable:
            bucket = f"{db}/{app or GLOBAL_DIR}"
            return Failure(_unfillable_message(bucket, unfillable, planned.unwrap(), models))
        if planned.unwrap().operations:
            changed.append((db, app, planned.unwrap(), loaded.unwrap(), projected.unwrap()))
    first = changed[0][2].operations[0].label if changed else ""
    version = version_for(now, slug or ("initial" if changed and not changed[0][3].models else first or "auto"))
    for db, app, plan, _old, new in changed:
        files = render(plan, version, f"{db}/{app or GLOBAL_DIR}", snapshot=new)
        plans.append(BucketPlan(database=db, app=app, plan=plan, files=files, snapshot=new))
    bootstraps = []
    booted = migrations_dir.glob(f"*/{GLOBAL_DIR}/{PHASE_ZERO_VERSION}.plan.json")
    for db in sorted({path.parent.parent.name for path in booted}):
        global_dir = migrations_dir / db / GLOBAL_DIR
        if (database is None or db == database) and _needs_upgrade(global_dir):
            snapshot = load(global_dir / "schema_snapshot.json")
            if not is_successful(snapshot):
                return Failure(snapshot.failure())
            bootstraps.append((db, upgrade_files(db, now, snapshot.unwrap())))
    for db in sorted({p.database for p in plans}):
        if not (migrations_dir / db / GLOBAL_DIR / f"{PHASE_ZERO_VERSION}.plan.json").exists():
            extensions = {e for p in plans if p.database == db for e in p.snapshot.extensions}
            boot = bootstrap_files(db, extensions)
            if not is_successful(boot):
                return Failure(boot.failure())
            bootstraps.append((db, boot.unwrap()))
    return Success(ComposePlan(version=version, buckets=tuple(plans), bootstraps=tuple(bootstraps)))


def _default_sql(value: object) -> str | None:
    """A Python default as a SQL literal for ``db_default`` (None when it is not a plain scalar)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # a djogi.Enum member is a str: its label
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)
    return None


def _unfillable_message(bucket: str, columns: list[str], plan: Plan, models: list[ModelDescriptor]) -> str:
    """Why a NOT NULL column without a database default cannot be composed, and the safe forms (with the
    ``db_default`` the field's Python default would give, when it is a plain scalar)."""
    fields = {f"{d.table}.{fd.column}": fd for d in models for fd in d.fields}
    proposals = [(c, _default_sql(fields[c].default)) for c in columns if c in fields and fields[c].has_default]
    hints = "".join(f"\n  {c}: field(db_default={sql!r}) matches its Python default" for c, sql in proposals if sql)
    hints += "".join(f"\n  {h}" for h in plan.rename_hints)
    return (f"{bucket}: cannot add NOT NULL column(s) {', '.join(columns)} to an existing table: rows already "
            "there would have no value (a Python default is not a database default). Either declare "
            "field(db_default=...) so PostgreSQL fills existing rows, or make the field optional (`T | None`), "
            "compose and apply, backfill the rows, then make it required in a next compose (djogi adds it as "
            f"a validated CHECK, then SET NOT NULL).{hints}")


def write_compose(
    plan: ComposePlan, migrations_dir: Path, *, allow_destructive: bool = False, force_overwrite: bool = False
) -> Result[tuple[Path, ...], str]:
    """Write a composed plan: refuse destructive/lossy plans without ``allow_destructive``."""
    risky = [f"{b.directory_name} ({b.plan.classification})" for b in plan.buckets if b.plan.needs_allow_destructive]
    if risky and not allow_destructive:
        hints = "".join(f"\n  {h}" for b in plan.buckets for h in b.plan.rename_hints)
        return Failure(f"destructive changes in {', '.join(risky)}; review them and pass allow_destructive{hints}")
    written: list[Path] = []
    for db, files in plan.bootstraps:
        result = write(files, migrations_dir / db / GLOBAL_DIR, force=force_overwrite)
        if not is_successful(result):
            return result
        written += result.unwrap()
    for b in plan.buckets:
        directory = migrations_dir / b.database / (b.app or GLOBAL_DIR)
        result = write(b.files, directory, force=force_overwrite)
        if not is_successful(result):
            return result
        written += result.unwrap()
        write_atomic(directory / "schema_snapshot.json", encode(b.snapshot))
        written.append(directory / "schema_snapshot.json")
    return Success(tuple(written))


def compose(
    migrations_dir: Path, descriptors: Iterable[ModelDescriptor], now: dt.datetime, *, slug: str | None = None,
    database: str | None = None, allow_destructive: bool = False, force_overwrite: bool = False,
) -> Result[ComposePlan, str]:  # fmt: skip
    """``plan_compose`` then ``write_compose``; returns the plan that was written."""
    planned = plan_compose(migrations_dir, descriptors, now, slug=slug, database=database)
    if not is_successful(planned):
        return planned
    written = write_compose(planned.unwrap(), migrations_dir, allow_destructive=allow_destructive,
                            force_overwrite=force_overwrite)  # fmt: skip
    if not is_successful(written):
        return Failure(written.failure())
    return planned
