"""The migration SQL linter (pure): ``lint_sql`` flags unsafe statement shapes (after Squawk/Atlas, see
``_RULES``), each finding with its fix. Tables created in the same migration are exempt from the rules
about locking existing tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

import msgspec

from djogi.migrate.operations import VOLATILE_CALL


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
_CREATED = re.compile(r"\bCREATE\s+(?:TABLE|MATERIALIZED\s+VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\S+)", re.IGNORECASE)
_CONCURRENT = re.compile(r"\b(CREATE\s+(UNIQUE\s+)?INDEX|DROP\s+INDEX|REINDEX)\s+CONCURRENTLY\b", re.IGNORECASE)
_NOT_NULL_PROOF = re.compile(r"CHECK\s*\(\s*(?P<c>\S+)\s+IS\s+NOT\s+NULL\s*\)", re.IGNORECASE)
_IDENT = re.compile(r'"((?:[^"]|"")+)"')


def _name(token: str) -> str:
    return token.strip('"(').lower()


def lint_sql(statements: Iterable[tuple[str, str, bool]], created: set[str] | None = None) -> list[Finding]:
    """Lint ``(location, sql, transactional)`` statements; ``created`` are tables new in the same migration
    (besides those it creates: a table or materialized view)."""
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
