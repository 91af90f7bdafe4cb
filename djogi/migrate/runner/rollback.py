"""``rollback``: run the down files of the newest applied migrations of one bucket, then re-check the live
schema against the snapshot of the new applied head (as ``verify`` would)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pglast
import psycopg
from pglast import ast as pg_ast
from pglast.enums import AlterTableType, ConstrType
from psycopg import sql

from djogi.migrate import ledger
from djogi.migrate.introspect import server_spelled
from djogi.migrate.ledger import Connection
from djogi.migrate.runner.compare import Diagnostic, compare, no_snapshot_file, unmodelled
from djogi.migrate.runner.discovery import Bucket, discover
from djogi.migrate.runner.errors import MigrationError, failure
from djogi.migrate.runner.lock import bucket_lock
from djogi.migrate.runner.plan import DEFAULT_OPTIONS, Options, applied_head, check_rollback, rollback_targets
from djogi.migrate.runner.session import session
from djogi.migrate.runner.verify import expected_snapshot, scope


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
    comments (the bootstrap) stops the rollback; a down that re-adds a NOT NULL column without a default
    to a table with rows is refused before it runs. ``dry_run`` only reports what would be rolled back.
    Afterwards the live schema is compared with the snapshot of the new applied head (the report's
    ``head`` and ``diagnostics``; ``ok`` when they match).
    """
    if allow_data_loss and not (reason and reason.strip()):
        raise MigrationError("--allow-data-loss needs a non-empty --reason", refusal=True)
    migrations = discover(migrations_dir, bucket)
    on_disk = {m.version: m for m in migrations}
    done: list[str] = []
    with session(url, options) as conn:
        if not ledger.exists(conn):
            raise MigrationError("no migrations recorded", refusal=True)
        with bucket_lock(conn, bucket, options):
            for row in rollback_targets(ledger.rows(conn, bucket.label), to):
                down_sql, lossy = check_rollback(row, on_disk.get(row.version), allow_data_loss)
                if dry_run:
                    done.append(row.version)
                    continue
                blocked = _unfillable_in_down(conn, down_sql)
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
                        conn.execute(down_sql)
                except psycopg.Error as exc:
                    raise failure(f"{row.version}: down SQL failed", exc) from exc
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
            live = scope(migrations_dir, bucket, expected).catalog(conn) if expected is not None else None
            if expected is not None and live is not None:
                expected = server_spelled(conn, expected, live.snapshot)
    head = applied_head(rows)
    if expected is None or live is None:
        consequence = "the schema after the rollback was not checked"
        return RollbackReport(tuple(done), head.version if head else None,
                              (no_snapshot_file(version or "", consequence),))  # fmt: skip
    found = compare(expected, live.snapshot) + unmodelled(live.unmodelled)
    return RollbackReport(tuple(done), head.version if head else None, tuple(found))


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
