"""What ``verify`` finds (pure): the live schema against the expected snapshot (``compare``), and the ledger
against the files (``ledger_diagnostics``), as D6xx ``Diagnostic`` values with the reference's codes."""

from __future__ import annotations

from typing import Literal

import msgspec

from djogi.migrate import ledger
from djogi.migrate.emit import SNAPSHOT_SUFFIX
from djogi.migrate.ledger import LedgerRow
from djogi.migrate.runner.discovery import Migration
from djogi.migrate.runner.plan import drifted
from djogi.migrate.snapshot import Snapshot, expand_column_indexes


class Diagnostic(msgspec.Struct, frozen=True):
    """A verify finding: ``code`` (D6xx), ``severity``, ``subject`` and ``message``."""

    code: str
    severity: Literal["error", "warning", "info"]
    subject: str
    message: str


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
        if (want.rls_enabled, want.tenant_key) != (have.rls_enabled, have.tenant_key):
            err("D640", name, _security_message(want.rls_enabled, want.tenant_key, have.rls_enabled, have.tenant_key))
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


def _security_message(want_rls: bool, want_key: str | None, have_rls: bool, have_key: str | None) -> str:
    """What differs in a table's row-level security (``D640``)."""
    if want_rls != have_rls:
        state = {True: "enabled", False: "disabled"}
        return f"row-level security is {state[have_rls]}, expected {state[want_rls]}"
    if want_key is None:
        return f"an isolation policy on {have_key} exists, expected none"
    return (f"the tenant isolation policy on {want_key} is missing, altered or not forced (found: "
            f"{'the one on ' + have_key if have_key else 'no matching policy'}); apply the migrations or restore it")


def ledger_diagnostics(migrations: list[Migration], rows: list[LedgerRow], *, strict: bool) -> list[Diagnostic]:
    """``D620`` an applied migration whose files changed (checksum drift), ``D619`` a migration on disk that
    is not applied, ``D622`` a row applied out of order (an error when ``strict``)."""
    found: list[Diagnostic] = []
    done = {r.version: r for r in rows if r.status in ("applied", "faked")}
    for m in migrations:
        row = done.get(m.version)
        if row is not None and drifted(m, row):
            found.append(Diagnostic("D620", "error", m.version, "applied migration's files changed (checksum drift)"))
        if m.version not in done and not any(r.version == m.version and r.status == "baseline" for r in rows):
            found.append(Diagnostic("D619", "warning", m.version, "migration on disk is not applied"))
    for r in rows:
        if r.out_of_order_flag:
            found.append(Diagnostic("D622", "error" if strict else "warning", r.version, "applied out of order"))
    return found


def no_snapshot_file(version: str, consequence: str) -> Diagnostic:
    """``D630``: the head migration predates per-migration snapshot files."""
    why = f"{version}{SNAPSHOT_SUFFIX} not found (composed before djogi kept a snapshot per migration): {consequence}"
    return Diagnostic("D630", "warning", version, why)


def no_tables(subject: str, rows: list[LedgerRow], expected: Snapshot, live: Snapshot) -> list[Diagnostic]:
    """``D699`` when the ledger has applied rows and the snapshot tables, but the bucket has none live."""
    if any(r.status in ledger.TERMINAL_OK for r in rows) and not live.models and expected.models:
        return [Diagnostic("D699", "error", subject, "ledger has applied rows but the bucket has no tables")]
    return []
