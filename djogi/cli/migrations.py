"""``djogi migrations`` (and the ``djogi migrate apply`` alias): thin commands over ``djogi.migrate``.

Every command resolves the database URL (configured, else the embedded server), calls one library
function, and renders its result as rich text or, with ``--json``, as one JSON document.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from djogi import migrate
from djogi.cli.exits import EXIT_CODES_HELP, ExitCode, Refusal, unwrap
from djogi.cli.state import Cli, DatabaseOption, JsonOption, cli_of
from djogi.migrate import Bucket, ComposePlan, Progress, plan_compose, write_compose
from djogi.migrate.checksum import PHASE_ZERO_VERSION

migrations_app = typer.Typer(help=f"Compose, apply, inspect and repair schema migrations.\n\n{EXIT_CODES_HELP}",
                             no_args_is_help=True)
migrate_app = typer.Typer(help="Alias: `djogi migrate apply` is `djogi migrations apply`.", no_args_is_help=True)
repair_app = typer.Typer(help="Resolve ledger states an interrupted or edited migration left behind.",
                         no_args_is_help=True)
migrations_app.add_typer(repair_app, name="repair")

AppOption = Annotated[str | None, typer.Option("--app", help="App label of the bucket [default: the global bucket].")]
VersionArgument = Annotated[str, typer.Argument(help="Migration version, e.g. V20260425010203__add_users.")]
_LEDGER_CODES = frozenset({"D619", "D620", "D621", "D622", "D642"})  # findings saying nothing against the schema
_EFFECT_STYLE = {"additive": ("+", "green"), "reversible": ("~", "yellow"), "destructive": ("-", "red"),
                 "lossy": ("-", "red")}  # fmt: skip


# -------------------------------------------------------------------------------------- shared helpers


def _options(cli: Cli, database: str) -> migrate.Options:
    """Runner options for ``database``: its configured ``operation_timeout`` and the project's HeeRanjID
    node (what a bootstrap fixes as the database's); out-of-order applies are rejected in production and
    in CI."""
    return migrate.Options(out_of_order=migrate.out_of_order_policy(cli.config.project.profile, dict(os.environ)),
                           operation_timeout=cli.config.database(database).operation_timeout,
                           node_id=cli.config.project.node_id)


def _databases(cli: Cli, local: str | None) -> list[str]:
    """The databases a command spans: the one named, else every folder under the migrations directory."""
    if local or cli.database_option:
        return [cli.database_name(local)]
    root = cli.config.migrations_dir
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []
    return [cli.database_name(name) for name in names]


def _bucket(cli: Cli, database: str | None, app: str | None) -> Bucket:
    return Bucket(cli.database_name(database), app)


def count_on_disk(cli: Cli, database: str) -> int:
    """How many migrations ``database`` has on disk (all buckets)."""
    return sum(len(migrate.discover(cli.config.migrations_dir, b))
               for b in migrate.buckets(cli.config.migrations_dir, database))


def apply_database(
    cli: Cli, database: str, url: str, *, app: str | None = None, fake_reason: str | None = None,
    advance: Callable[[str], None] | None = None,
) -> migrate.ApplyReport:  # fmt: skip
    """Apply the pending migrations of ``database`` (one bucket with ``app``), reporting each one."""

    def progress(event: Progress) -> None:
        if event.kind == "waiting":
            cli.warn(f"waiting for the migration lock of {event.bucket} (another apply is running)")
        elif event.kind == "start":
            cli.info(f"  applying {event.bucket}: {event.version}")
        elif event.kind == "done" and advance is not None:
            advance(event.version)

    return migrate.apply(url, cli.config.migrations_dir, database, app=app if app is not None else "*",
                         options=_options(cli, database), on_progress=progress, fake_reason=fake_reason)


# -------------------------------------------------------------------------------------- compose / check


@migrations_app.command()
def compose(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Slug of the new version [default: derived].")]
    = None,
    allow_destructive: Annotated[bool, typer.Option(help="Allow plans that drop tables, columns or values.")] = False,
    force_overwrite: Annotated[bool, typer.Option(help="Overwrite migration files edited by hand.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the SQL that would be composed; write nothing.")]
    = False,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Diff the registered models against the committed snapshots and write the migration files.

    Destructive or lossy plans are refused without --allow-destructive (exit 2); nothing to do exits 0.
    """
    cli = cli_of(ctx)
    wants_json = cli.wants_json(as_json)
    descriptors = cli.load_models()
    chosen = cli.database_name(database) if database or cli.database_option else None
    plan = unwrap(plan_compose(cli.config.migrations_dir, descriptors, dt.datetime.now(dt.UTC), slug=name,
                               database=chosen))
    if not dry_run and not plan.empty:
        unwrap(write_compose(plan, cli.config.migrations_dir, allow_destructive=allow_destructive,
                             force_overwrite=force_overwrite))
    if wants_json:
        cli.emit(_compose_json(plan, written=not dry_run and not plan.empty))
        return
    if plan.empty:
        cli.info("nothing to compose: the models match the snapshot of every bucket")
        return
    for db, files in plan.bootstraps:
        what = "bootstrap migration" if files.version == PHASE_ZERO_VERSION else f"HeeRanjID upgrade {files.version}"
        cli.info(f"{'would emit' if dry_run else 'emitted'} {what}: {db}/_global_")
    for bucket in plan.buckets:
        verb = "would compose" if dry_run else "composed"
        cli.info(f"{verb} {bucket.directory_name}: {plan.version} ({bucket.plan.classification})")
        if dry_run:
            _show_sql_diff(cli, bucket.plan.operations)


def _show_sql_diff(cli: Cli, operations: Any) -> None:
    """Each operation as a diff hunk: ``+`` additive (green), ``~`` reversible (yellow), ``-`` destructive (red)."""
    for op in operations:
        sign, color = _EFFECT_STYLE.get(op.effect, ("+", "green"))
        cli.out.print(Text(f"{sign} -- {op.label}  [{op.effect}, {op.safety}]", style=f"bold {color}"))
        for step in op.steps:
            for line in step.up.splitlines():
                cli.out.print(Text(f"{sign} {line}", style=color))


def _compose_json(plan: ComposePlan, *, written: bool) -> dict[str, Any]:
    return {
        "version": plan.version,
        "written": written,
        "bootstraps": [db for db, _ in plan.bootstraps],
        "buckets": [
            {"bucket": b.directory_name, "classification": b.plan.classification,
             "operations": [{"kind": op.kind, "label": op.label, "effect": op.effect, "safety": op.safety,
                             "sql": [step.up for step in op.steps]} for op in b.plan.operations]}
            for b in plan.buckets
        ],
    }  # fmt: skip


@migrations_app.command()
def check(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Without a database: check that the migrations are composed and unedited (for CI).

    Exit 1 when the models have changes no migration holds, or the committed bootstrap installs an older
    HeeRanjID SQL (run compose); exit 2 when a migration file was edited after compose.
    """
    cli = cli_of(ctx)
    wants_json = cli.wants_json(as_json)
    descriptors = cli.load_models()
    migrations_dir = cli.config.migrations_dir
    edited = [f"{m.bucket}/{m.version}" for db in _databases(cli, None) for b in migrate.buckets(migrations_dir, db)
              for m in migrate.discover(migrations_dir, b) if m.edited]
    plan = unwrap(plan_compose(migrations_dir, descriptors, dt.datetime.now(dt.UTC)))
    uncomposed = [b.directory_name for b in plan.buckets]
    uncomposed += [f"{db}/_global_ (HeeRanjID upgrade)" for db, files in plan.bootstraps
                   if files.version != PHASE_ZERO_VERSION]
    if wants_json:
        cli.emit({"uncomposed": uncomposed, "edited": edited, "ok": not uncomposed and not edited})
    if edited:
        raise Refusal(f"migration files edited after compose: {', '.join(edited)}; restore them from version "
                      "control (an applied migration already ran as composed); to change a migration that is "
                      "not applied anywhere, `djogi migrations discard` it and run `djogi migrations compose`")
    if uncomposed:
        cli.err.print(f"[red]check failed:[/red] not composed: {', '.join(uncomposed)}; "
                      "run `djogi migrations compose`")
        raise typer.Exit(ExitCode.FAILURE)
    cli.info("check passed: migrations match the models")


@migrations_app.command()
def discard(
    ctx: typer.Context,
    version: Annotated[str | None, typer.Argument(help="Version to discard [default: the newest composed].")] = None,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove a composed migration that is not applied, and restore the snapshot compose advanced.

    Use it to redo a compose (say, after a refused or failed apply). It checks this database's ledger:
    an applied migration is refused (exit 2); roll it back first. Never discard a migration that was
    applied on another database.
    """
    cli = cli_of(ctx)
    wants_json = cli.wants_json(as_json)
    db = cli.database_name(database)
    report = migrate.discard(cli.url(db), cli.config.migrations_dir, db, version, options=_options(cli, db))
    if wants_json:
        cli.emit(report)
        return
    for path in report.removed:
        shown = Path(path)
        cli.info(f"  removed {shown.relative_to(cli.config.root) if shown.is_relative_to(cli.config.root) else shown}")
    for line in report.restored:
        cli.info(f"  {line}")
    cli.info(f"discarded {report.version}; run `djogi migrations compose` to compose again")


# -------------------------------------------------------------------------------------- apply / rollback


def apply(
    ctx: typer.Context,
    database: DatabaseOption = None,
    app: Annotated[str | None, typer.Option("--app", help="Only this bucket's app label [default: all buckets].")]
    = None,
    fake: Annotated[bool, typer.Option("--fake", help="Record as applied without running SQL (needs --reason).")]
    = False,
    reason: Annotated[str | None, typer.Option(help="Why (required with --fake).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Apply every pending migration, bootstrap first, under each bucket's advisory lock.

    Edited files, checksum drift, unfinished rows and (in production or CI) out-of-order versions are
    refused before any SQL runs (exit 2).
    """
    cli = cli_of(ctx)
    wants_json = cli.wants_json(as_json)
    if fake and not (reason and reason.strip()):
        raise Refusal("--fake needs --reason: say why the migration is recorded without running it")
    reports: dict[str, migrate.ApplyReport] = {}
    for db in _databases(cli, database):
        url = cli.url(db)
        report = migrate.status(url, cli.config.migrations_dir, db, options=_options(cli, db))
        pending = sum(len(b.pending) for b in report.buckets)
        with cli.progress(f"applying {db}", pending) as advance:
            reports[db] = apply_database(cli, db, url, app=app, fake_reason=reason if fake else None,
                                         advance=advance)
    applied = sum(len(r.applied) for r in reports.values())
    for version in (v for r in reports.values() for v in r.ran):
        cli.warn(f"{version} was run, not faked: it installs the functions later migrations' defaults call, and it "
                 "is idempotent")
    if wants_json:
        cli.emit({db: r for db, r in reports.items()})
    elif applied:
        ran = sum(len(r.ran) for r in reports.values())
        cli.info(f"faked {applied - ran} migration(s)" if fake else f"applied {applied} migration(s)")
    else:
        cli.info("no pending migrations to apply")


migrations_app.command()(apply)
migrate_app.command("apply")(apply)


@migrations_app.command()
def rollback(
    ctx: typer.Context,
    to: Annotated[str | None, typer.Option("--to", help="Roll back everything newer than this version.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the down SQL; change nothing.")] = False,
    allow_data_loss: Annotated[bool, typer.Option(help="Allow downs marked LOSSY (needs --reason).")] = False,
    reason: Annotated[str | None, typer.Option(help="Why data loss is acceptable.")] = None,
    database: DatabaseOption = None,
    app: AppOption = None,
    as_json: JsonOption = False,
) -> None:
    """Roll back the newest applied migration of one bucket (or all newer than --to) via its down file.

    Afterwards the live schema is compared with the snapshot of the migration now at the head of the
    ledger; exit 1 when they differ (the down SQL did not restore it: see `djogi migrations verify`).
    """
    cli = cli_of(ctx)
    wants_json = cli.wants_json(as_json)
    if allow_data_loss and not (reason and reason.strip()):
        raise Refusal("--allow-data-loss needs --reason: say why losing the data is acceptable")
    if reason and not allow_data_loss:
        raise Refusal("--reason is only used with --allow-data-loss")
    bucket = _bucket(cli, database, app)
    report = migrate.rollback(cli.url(bucket.database), cli.config.migrations_dir, bucket, to=to,
                              allow_data_loss=allow_data_loss, reason=reason,
                              options=_options(cli, bucket.database), dry_run=dry_run)
    if wants_json:
        cli.emit({"bucket": str(bucket), "dry_run": dry_run, "rolled_back": report.rolled_back,
                  "head": report.head, "ok": report.ok, "diagnostics": report.diagnostics})  # fmt: skip
    else:
        for version in report.rolled_back:
            if dry_run:
                down = bucket.directory(cli.config.migrations_dir) / f"{version}.down.sdjql"
                cli.out.print(f"-- rollback {version} ({bucket})", markup=False)
                cli.out.print(down.read_text(), markup=False)
            else:
                cli.info(f"  rolled back {version}")
        cli.info("dry run: nothing executed" if dry_run else f"rolled back {len(report.rolled_back)} migration(s)")
        if not dry_run:
            _print_diagnostics(cli, report.diagnostics)
            if not report.diagnostics:
                cli.info(f"schema matches the snapshot of {report.head or 'an empty bucket'}")
    if not report.ok:
        cli.err.print(f"[red]rollback check failed:[/red] the live schema of {bucket} differs from the snapshot of "
                      f"{report.head or 'an empty bucket'}; run `djogi migrations verify` for details")  # fmt: skip
        raise typer.Exit(ExitCode.FAILURE)


def _print_diagnostics(cli: Cli, diagnostics: tuple[migrate.Diagnostic, ...]) -> None:
    for d in diagnostics:
        color = {"error": "red", "warning": "yellow"}.get(d.severity, "blue")
        label = (f"  [{d.severity.upper()}] {d.code}", color)
        cli.out.print(Text.assemble(label, f" ({d.subject}): {d.message}"))


# -------------------------------------------------------------------------------------- status / verify


@migrations_app.command()
def status(ctx: typer.Context, database: DatabaseOption = None, as_json: JsonOption = False) -> None:
    """Show the ledger of each bucket: version, app, status, applied at, duration, checksum ok.

    Exit 1 when a migration is unfinished (pending/failed) or an index is INVALID; exit 2 on checksum drift.
    """
    cli = cli_of(ctx)
    wants_json = cli.wants_json(as_json)
    names = _databases(cli, database)
    if not names:
        cli.config.project_file()  # outside a project: refused, naming the missing Djogi.toml
        cli.info(f"no migrations in {cli.config.migrations_dir}: compose the first with `djogi migrations compose`")
    reports = {db: migrate.status(cli.url(db), cli.config.migrations_dir, db, options=_options(cli, db))
               for db in names}
    if wants_json:
        cli.emit({db: {"healthy": r.healthy, "buckets": r.buckets, "invalid_indexes": r.invalid_indexes}
                  for db, r in reports.items()})
    else:
        _status_table(cli, reports)
    drifted = [f"{b.bucket}/{v}" for r in reports.values() for b in r.buckets for v in b.drifted]
    if drifted:
        raise Refusal(f"checksum drift in {', '.join(drifted)}: restore the files, or record the new checksums "
                      "with `djogi migrations repair checksum-drift <VERSION>`")
    if not all(r.healthy for r in reports.values()):
        raise typer.Exit(ExitCode.FAILURE)


def _status_table(cli: Cli, reports: dict[str, migrate.StatusReport]) -> None:
    for db, report in reports.items():
        table = Table("version", "app", "status", "applied at", "duration", "checksum ok", title=f"database {db}")
        for b in report.buckets:
            app = b.bucket.split("/", 1)[1]
            for row in b.rows:
                style = {"applied": "green", "failed": "red", "pending": "yellow"}.get(row.status, "")
                ok = "-" if row.status not in ("applied", "faked") else "no" if row.version in b.drifted else "yes"
                shown = Text(row.status + (" [ooo]" if row.out_of_order_flag else ""), style=style)
                at = row.applied_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
                table.add_row(row.version, app, shown, at, f"{row.execution_time_ms} ms", ok)
            for version in b.pending:
                if not any(r.version == version for r in b.rows):
                    table.add_row(version, app, Text("not applied", style="yellow"), "-", "-", "-")
        if table.row_count:
            cli.out.print(table)
        else:
            cli.info(f"database {db}: no migrations recorded or on disk")
        for index in report.invalid_indexes:
            cli.warn(f"index {index} is INVALID (a failed concurrent build); see `djogi migrations repair`")


@migrations_app.command()
def verify(
    ctx: typer.Context,
    strict: Annotated[bool, typer.Option(help="Treat out-of-order applies (D622) as errors.")] = False,
    database: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare the live schema with the snapshot of each bucket's applied head and with the models, and the
    ledger with the files.

    Migrations on disk but not applied (say, after a rollback) are D619 warnings. Exit 1 on an
    error-severity finding (drift); exit 2 on checksum drift (D620).
    """
    cli = cli_of(ctx)
    wants_json = cli.wants_json(as_json)
    descriptors = cli.load_models(required=False) or None
    reports = [migrate.verify(cli.url(db), cli.config.migrations_dir, b, strict=strict, models=descriptors,
                              options=_options(cli, db))
               for db in _databases(cli, database) for b in migrate.buckets(cli.config.migrations_dir, db)]
    if wants_json:
        cli.emit([{"bucket": r.bucket, "head": r.head, "ok": r.ok, "diagnostics": r.diagnostics} for r in reports])
    else:
        for report in reports:
            cli.out.print(Text(f"djogi migrations verify: {report.bucket}", style="bold"))
            _print_diagnostics(cli, report.diagnostics)
            if report.ok and all(d.code in _LEDGER_CODES for d in report.diagnostics):
                also = " and the models" if report.models_compared else ""
                cli.out.print(f"  schema matches the snapshot of {report.head or 'an empty bucket'} (the applied head)"
                              f"{also}", markup=False)  # fmt: skip
            cli.out.print(Text("  PASSED", style="green") if report.ok else Text("  FAILED", style="red"))
    if any(d.code == "D620" for r in reports for d in r.diagnostics):
        raise Refusal("applied migration files changed (D620): restore them, or record the new checksums with "
                      "`djogi migrations repair checksum-drift <VERSION>`")
    if not all(r.ok for r in reports):
        raise typer.Exit(ExitCode.FAILURE)


# -------------------------------------------------------------------------------------- baseline / repair


@migrations_app.command()
def baseline(
    ctx: typer.Context,
    version: VersionArgument,
    reason: Annotated[str, typer.Option(help="Why the existing schema is adopted (required).")],
    database: DatabaseOption = None,
    app: AppOption = None,
) -> None:
    """Adopt an existing database: record VERSION as baseline and write its live schema as the snapshot."""
    cli = cli_of(ctx)
    bucket = _bucket(cli, database, app)
    snapshot = migrate.baseline(cli.url(bucket.database), cli.config.migrations_dir, bucket, version, reason,
                                _options(cli, bucket.database))
    cli.info(f"established baseline {version} for {bucket} ({len(snapshot.models)} table(s))")


@repair_app.command("checksum-drift")
def checksum_drift(ctx: typer.Context, version: VersionArgument, database: DatabaseOption = None,
                   app: AppOption = None) -> None:  # fmt: skip
    """Record the files' current checksums for VERSION in the ledger (after reviewing the edit)."""
    cli = cli_of(ctx)
    bucket = _bucket(cli, database, app)
    up, down = migrate.repair_checksum_drift(cli.url(bucket.database), cli.config.migrations_dir, bucket, version,
                                             options=_options(cli, bucket.database))
    cli.info(f"{version} | checksum_up -> {up}\n{version} | checksum_down -> {down or 'NULL'}")


class Resolution(StrEnum):
    """How ``repair partial-apply`` resolves an unfinished row."""

    rolled_back = "rolled-back"
    faked = "faked"
    applied = "applied"


@repair_app.command("partial-apply")
def partial_apply(
    ctx: typer.Context,
    version: VersionArgument,
    resolution: Annotated[Resolution, typer.Argument(help="The state you verified the schema is in.")],
    note: Annotated[str, typer.Option(help="Note recorded in the ledger.")] = "operator resolved partial apply via CLI",
    database: DatabaseOption = None,
    app: AppOption = None,
) -> None:
    """Resolve a pending/failed ledger row to rolled-back, faked or applied after checking the schema."""
    cli = cli_of(ctx)
    bucket = _bucket(cli, database, app)
    status_value = {"rolled-back": "rolled_back", "faked": "faked", "applied": "applied"}[resolution.value]
    migrate.repair_partial_apply(cli.url(bucket.database), bucket, version, status_value, note,  # type: ignore[arg-type]
                                 options=_options(cli, bucket.database))
    cli.info(f"{version} | status -> {status_value}")


@repair_app.command("resume-partial")
def resume_partial(ctx: typer.Context, version: VersionArgument, database: DatabaseOption = None,
                   app: AppOption = None) -> None:  # fmt: skip
    """Finish an interrupted migration from its first unacknowledged step."""
    cli = cli_of(ctx)
    bucket = _bucket(cli, database, app)
    ran = migrate.repair_resume_partial(cli.url(bucket.database), cli.config.migrations_dir, bucket, version,
                                        options=_options(cli, bucket.database))
    cli.info(f"resumed {version}: {ran} step(s) run, now applied")


@repair_app.command("snapshot-rebuild")
def snapshot_rebuild(ctx: typer.Context, database: DatabaseOption = None, app: AppOption = None) -> None:
    """Re-project the live catalog of a bucket into its schema_snapshot.json."""
    cli = cli_of(ctx)
    bucket = _bucket(cli, database, app)
    snapshot = migrate.repair_snapshot_rebuild(cli.url(bucket.database), cli.config.migrations_dir, bucket,
                                               options=_options(cli, bucket.database))
    cli.info(f"rebuilt {bucket}/schema_snapshot.json from the live schema ({len(snapshot.models)} table(s))")
