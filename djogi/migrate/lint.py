"""``check`` and the migration linter (pure apart from reading files).

- ``compare(expected, live)``: snapshot-vs-catalog diagnostics with the reference's D6xx codes.
- ``lint_sql(sql, transactional=...)``: unsafe statement shapes (after Squawk/Atlas, see
  ``RULES``), each finding with its fix. Tables created in the same migration are exempt from the
  rules about locking existing tables.
- ``check(migrations_dir, descriptors)``: without a database, models that changed with no migration
  composed (``M001``), migration files edited after compose (``M002``), unreadable plan or snapshot
  files (``M003``) and lint findings for every migration's SQL. ``CheckReport.ok`` is false when anything is found.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import msgspec
from returns.pipeline import is_successful

from djogi.migrate.checksum import PHASE_ZERO_VERSION, compute_checksum, file_checksums
from djogi.migrate.compose import plan_compose
from djogi.migrate.emit import SNAPSHOT_SUFFIX, decode_plan
from djogi.migrate.operations import VOLATILE_CALL
from djogi.migrate.runner import Diagnostic
from djogi.migrate.snapshot import Snapshot, expand_column_indexes, load
from djogi.model import ModelDescriptor

# ------------------------------------------------------------------------------ verify comparison


def compare(expected: Snapshot, live: Snapshot) -> list[Diagnostic]:
    """Differences between the committed snapshot and the live catalog, as D6xx diagnostics."""
    out: list[Diagnostic] = []

    def err(code: str, subject: str, message: str) -> None:
        out.append(Diagnostic(code, "error", subject, message))

    for name in sorted(set(expected.models) - set(live.models)):
        err("D601", name, "table in snapshot is missing from the database")
    for name in sorted(set(live.models) - set(expected.models)):
        err("D602", name, "table in the database is absent from the snapshot")
    for name in sorted(set(expected.models) & set(live.models)):
        want, have = expected.models[name], live.models[name]
        if want.primary_key != have.primary_key:
            err("D608", name, f"primary key {have.primary_key} != {want.primary_key}")
        for col in want.columns:
            subject = f"{name}.{col.name}"
            got = have.column(col.name)
            if got is None:
                err("D603", subject, "column missing")
                continue
            if got.nullable != col.nullable:
                err("D605", subject, f"nullable={got.nullable}, expected {col.nullable}")
            if got.sql_type != col.sql_type:
                out.append(Diagnostic("D606", "warning", subject, f"type {got.sql_type}, expected {col.sql_type}"))
            if got.default_sql != col.default_sql or got.identity != col.identity:
                err("D607", subject, f"default {got.default_sql!r}, expected {col.default_sql!r}")
            if got.foreign_key != col.foreign_key:
                err("D609", subject, f"foreign key {got.foreign_key}, expected {col.foreign_key}")
            if got.check != col.check:
                err("D616", subject, f"check {got.check!r}, expected {col.check!r}")
            if got.comment != col.comment:
                out.append(Diagnostic("D617", "warning", subject, "column comment differs"))
        for col in have.columns:
            if want.column(col.name) is None:
                err("D604", f"{name}.{col.name}", "extra column")
    want_idx = {i.name: i for i in expand_column_indexes(expected)}
    have_idx = {i.name: i for i in expand_column_indexes(live)}
    for name, index in sorted(want_idx.items()):
        found = have_idx.get(name)
        if found is None:
            err("D610", name, "index missing")
        elif found.table != index.table:
            err("D615", name, f"index is on {found.table}, expected {index.table}")
        elif found.unique != index.unique or found.kind != index.kind:
            err("D613", name, f"uniqueness {found.kind}, expected {index.kind}")
        elif found.index_type != index.index_type:
            out.append(
                Diagnostic("D614", "warning", name, f"access method {found.index_type}, expected {index.index_type}")
            )
        elif found != index:
            err("D612", name, "index columns, order, predicate or included columns differ")
    for name in sorted(set(have_idx) - set(want_idx)):
        out.append(Diagnostic("D611", "warning", name, "extra index"))
    for name, enum in sorted(expected.enums.items()):
        live_enum = live.enums.get(name)
        if live_enum is None or live_enum.variants != enum.variants:
            err("D618", name, f"enum values {live_enum.variants if live_enum else None}, expected {enum.variants}")
    return out


# ------------------------------------------------------------------------------ SQL linter


class Finding(msgspec.Struct, frozen=True):
    """A lint or check finding: ``rule``, where (``location``), what is wrong and how to fix it."""

    rule: str
    location: str
    message: str
    fix: str
    severity: Literal["error", "warning"] = "error"


_TABLE = r"(?:ONLY\s+)?(?P<t>\S+)"
_ALTER_TABLE = r"\bALTER\s+TABLE\s+" + _TABLE
_RULES: tuple[tuple[str, str, str, str, Literal["error", "warning"]], ...] = (
    ("require-concurrent-index-creation",
     r"\bCREATE\s+(UNIQUE\s+)?INDEX\s+(?!CONCURRENTLY)(?:IF NOT EXISTS\s+)?\S+\s+ON\s+" + _TABLE,
     "CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds",
     "use CREATE INDEX CONCURRENTLY in a non-transactional segment", "error"),
    ("require-concurrent-index-deletion", r"\bDROP\s+INDEX\s+(?!CONCURRENTLY)",
     "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock",
     "use DROP INDEX CONCURRENTLY in a non-transactional segment", "error"),
    ("constraint-missing-not-valid",
     _ALTER_TABLE + r"\s+ADD\s+CONSTRAINT\s+\S+\s+(FOREIGN\s+KEY|CHECK)\b(?![^;]*\bNOT\s+VALID\b)",
     "adding a FOREIGN KEY or CHECK validates every row under a lock that blocks writes",
     "add it NOT VALID, then VALIDATE CONSTRAINT in a separate step", "error"),
    ("adding-not-nullable-field", _ALTER_TABLE + r"\s+ALTER\s+COLUMN\s+(?P<c>\S+)\s+SET\s+NOT\s+NULL",
     "SET NOT NULL scans the table under an ACCESS EXCLUSIVE lock",
     "first add CHECK (col IS NOT NULL) NOT VALID and VALIDATE it; SET NOT NULL then skips the scan", "error"),
    ("adding-required-field",
     _ALTER_TABLE + r"\s+ADD\s+COLUMN\s+(?![^;]*\bDEFAULT\b)[^;]*\bNOT\s+NULL\b",
     "ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that has rows",
     "add the column nullable (or with a constant DEFAULT), backfill, then make it NOT NULL", "error"),
    ("adding-field-with-volatile-default",
     _ALTER_TABLE + r"\s+ADD\s+COLUMN\s+[^;]*\bDEFAULT\s+[^;]*" + VOLATILE_CALL,
     "ADD COLUMN with a volatile DEFAULT rewrites the whole table under an ACCESS EXCLUSIVE lock",
     "add the column without the default, set the default, backfill in batches", "error"),
    ("changing-column-type", _ALTER_TABLE + r"\s+ALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b",
     "changing a column's type may rewrite the table and its indexes under a lock",
     "add a new column, backfill it, switch readers, drop the old one (expand/contract)", "warning"),
    ("disallowed-unique-constraint",
     _ALTER_TABLE + r"\s+ADD\s+CONSTRAINT\s+\S+\s+(UNIQUE|PRIMARY\s+KEY)\b(?!\s+USING\s+INDEX)",
     "adding a UNIQUE or PRIMARY KEY constraint builds its index under a lock",
     "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX", "error"),
    ("ban-drop-table", r"\bDROP\s+TABLE\b", "dropping a table destroys its rows", "make sure no code reads it; "
     "keep a backup; rename it first if unsure", "warning"),
    ("ban-drop-column", r"\bALTER\s+TABLE\s+\S+\s+DROP\s+COLUMN\b", "dropping a column destroys its values",
     "stop reading/writing it in a prior deploy, then drop it", "warning"),
    ("renaming-column", r"\bRENAME\s+COLUMN\b", "renaming a column breaks clients still using the old name",
     "deploy code that reads both names first (or add a view)", "warning"),
    ("renaming-table", r"\bALTER\s+TABLE\s+\S+\s+RENAME\s+TO\b",
     "renaming a table breaks clients still using the old name",
     "deploy code that reads both names first (or add a view)", "warning"),
    ("transaction-nesting", r"^\s*(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION|SAVEPOINT)\b",
     "migrations must not control transactions; the runner does", "remove the statement", "error"),
    ("require-concurrent-reindex", r"\bREINDEX\s+(?!\([^)]*CONCURRENTLY|CONCURRENTLY)",
     "REINDEX without CONCURRENTLY blocks writes", "use REINDEX CONCURRENTLY", "error"),
    ("prefer-repack", r"\b(VACUUM\s+FULL|CLUSTER)\b", "VACUUM FULL / CLUSTER take an ACCESS EXCLUSIVE lock",
     "use pg_repack or pg_squeeze", "error"),
)  # fmt: skip
_COMPILED = [(rule, re.compile(rx, re.IGNORECASE | re.MULTILINE), msg, fix, sev) for rule, rx, msg, fix, sev in _RULES]
_CREATED = re.compile(r"\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\S+)", re.IGNORECASE)
_CONCURRENT = re.compile(r"\b(CREATE\s+(UNIQUE\s+)?INDEX|DROP\s+INDEX|REINDEX)\s+CONCURRENTLY\b", re.IGNORECASE)
_NOT_NULL_PROOF = re.compile(r"CHECK\s*\(\s*(?P<c>\S+)\s+IS\s+NOT\s+NULL\s*\)", re.IGNORECASE)
_IDENT = re.compile(r'"((?:[^"]|"")+)"')


def _name(token: str) -> str:
    return token.strip('"(').lower()


def lint_sql(statements: Iterable[tuple[str, str, bool]], created: set[str] | None = None) -> list[Finding]:
    """Lint ``(location, sql, transactional)`` statements; ``created`` are tables new in the same migration."""
    items = list(statements)
    new_tables = {_name(m.group(1)) for _, sql, _ in items for m in _CREATED.finditer(sql)} | (created or set())
    proven = {_name(m.group("c")) for _, sql, _ in items for m in _NOT_NULL_PROOF.finditer(sql)}
    out: list[Finding] = []
    for location, sql, transactional in items:
        body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
        if transactional and _CONCURRENT.search(body):
            out.append(Finding("ban-concurrent-index-creation-in-transaction", location,
                               "CONCURRENTLY cannot run inside a transaction",
                               "put the statement in a non_transactional segment"))  # fmt: skip
        for ident in _IDENT.findall(body):
            if len(ident.encode()) > 63:
                out.append(Finding("identifier-too-long", location, f"{ident!r} exceeds 63 bytes",
                                   "shorten it; PostgreSQL truncates silently"))  # fmt: skip
        for rule, rx, msg, fix, severity in _COMPILED:
            for m in rx.finditer(body):
                table = m.groupdict().get("t")
                if table is not None and _name(table) in new_tables:
                    continue
                if rule == "require-concurrent-index-deletion" and transactional is False:
                    continue
                if rule == "adding-not-nullable-field" and _name(m.group("c")) in proven:
                    continue
                out.append(Finding(rule, location, msg, fix, severity))
                break
    return out


# ------------------------------------------------------------------------------ check


class CheckReport(msgspec.Struct, frozen=True):
    """``check`` findings; ``ok`` when there are no error-severity findings."""

    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """True when nothing needs fixing."""
        return all(f.severity != "error" for f in self.findings)


def check(migrations_dir: Path, descriptors: Iterable[ModelDescriptor], *, lint: bool = True) -> CheckReport:
    """Models vs committed snapshots, files vs their plans, and the linter, without a database."""
    import datetime as dt

    findings: list[Finding] = []
    planned = plan_compose(migrations_dir, descriptors, dt.datetime.now(dt.UTC))
    if not is_successful(planned):
        findings.append(Finding("M000", str(migrations_dir), str(planned.failure()), "fix the model or snapshot"))
    else:
        for b in planned.unwrap().buckets:
            labels = ", ".join(op.label for op in b.plan.operations[:5])
            findings.append(Finding("M001", b.directory_name, f"models changed with no migration ({labels}...)",
                                    "run `djogi migrations compose`"))  # fmt: skip
    for plan_path in sorted(migrations_dir.glob("*/*/V*.plan.json")):
        version = plan_path.name.removesuffix(".plan.json")
        where = f"{plan_path.parent.parent.name}/{plan_path.parent.name}/{version}"
        plan = decode_plan(plan_path.read_bytes())
        if not is_successful(plan):
            findings.append(Finding("M003", where, str(plan.failure()), "restore the file from version control"))
            continue
        p = plan.unwrap()
        up_path, down_path = plan_path.with_name(f"{version}.sdjql"), plan_path.with_name(f"{version}.down.sdjql")
        up_text = up_path.read_text() if up_path.exists() else ""
        down_text = down_path.read_text() if down_path.exists() else None
        if compute_checksum(p.fragments) != p.checksum_up or file_checksums(up_text, down_text) != (
            p.checksum_up, p.checksum_down if down_text is not None else None
        ):  # fmt: skip
            fix = "restore them or re-compose; applied edits need `repair checksum-drift`"
            findings.append(Finding("M002", where, "migration files were edited after compose (checksums differ)", fix))
        snapshot_path = plan_path.with_name(f"{version}{SNAPSHOT_SUFFIX}")
        if snapshot_path.exists() and not is_successful(loaded := load(snapshot_path)):
            findings.append(Finding("M003", where, str(loaded.failure()), "restore the file from version control"))
        if lint and version != PHASE_ZERO_VERSION:
            statements = [(f"{where} [{s.label}]", s.up, seg.kind == "transactional")
                          for seg in p.segments for s in seg.statements]  # fmt: skip
            findings += lint_sql(statements)
    return CheckReport(tuple(findings))
