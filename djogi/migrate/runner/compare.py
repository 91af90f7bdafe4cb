"""What ``verify`` finds (pure): the live schema against the expected snapshot or the models (``compare``),
the constraints neither can declare (``unmodelled``), and the ledger against the files
(``ledger_diagnostics``), as D6xx ``Diagnostic`` values with the reference's codes (D641 and
D643-D647 are djogi's: a partitioning difference, an undeclared constraint, outbox capture triggers, an
audit trigger, a domain that differs, a view that differs). A column type that differs is an error (the
reference warns), since the canonical spellings of ``project`` and ``introspect`` agree on every type djogi declares."""

from __future__ import annotations

from typing import Literal

import msgspec

from djogi.migrate import ledger
from djogi.migrate.emit import SNAPSHOT_SUFFIX
from djogi.migrate.ledger import LedgerRow
from djogi.migrate.runner.discovery import Migration
from djogi.migrate.runner.plan import drifted
from djogi.migrate.snapshot import (
    AuditSchema,
    CheckSchema,
    CompositeForeignKeySchema,
    IndexSchema,
    Snapshot,
    Unmodelled,
    expand_column_indexes,
)

Named = CheckSchema | CompositeForeignKeySchema


class Diagnostic(msgspec.Struct, frozen=True):
    """A verify finding: ``code`` (D6xx), ``severity``, ``subject`` and ``message``."""

    code: str
    severity: Literal["error", "warning", "info"]
    subject: str
    message: str


def compare(expected: Snapshot, live: Snapshot, source: str = "snapshot") -> list[Diagnostic]:
    """Differences between ``expected`` (the committed snapshot, or the models' projection: ``source``
    names it in the messages) and the live catalog, as D6xx diagnostics."""
    out: list[Diagnostic] = []

    def err(code: str, subject: str, message: str) -> None:
        out.append(Diagnostic(code, "error", subject, message))

    for name in sorted(set(expected.models) - set(live.models)):
        err("D601", name, f"table in the {source} is missing from the database")
    for name in sorted(set(live.models) - set(expected.models)):
        err("D602", name, f"table in the database is absent from the {source}")
    for name in sorted(set(expected.models) & set(live.models)):
        want, have = expected.models[name], live.models[name]
        if (want.rls_enabled, want.tenant_key) != (have.rls_enabled, have.tenant_key):
            err("D640", name, _security_message(want.rls_enabled, want.tenant_key, have.rls_enabled, have.tenant_key))
        if want.audit != have.audit:
            err("D645", name, _audit_message(want.audit, have.audit))
        if want.primary_key != have.primary_key:
            err("D608", name, f"primary key {have.primary_key}; {source}: {want.primary_key}")
        if want.partition != have.partition:
            err("D641", name, f"partitioning {have.partition}; {source}: {want.partition}")
        if want.outbox != have.outbox:
            err("D644", name, _outbox_message(want.outbox, have.outbox))
        for code, subject, message in (*_named("D616", "check", name, source, want.checks, have.checks),
                                       *_named("D609", "foreign key", name, source, want.foreign_keys,
                                               have.foreign_keys)):  # fmt: skip
            err(code, subject, message)
        for col in want.columns:
            subject = f"{name}.{col.name}"
            got = have.column(col.name)
            if got is None:
                err("D603", subject, f"column in the {source} is missing from the database")
                continue
            if got.nullable != col.nullable:
                err("D605", subject, f"nullable={got.nullable}; {source}: {col.nullable}")
            if got.sql_type != col.sql_type:
                err("D606", subject, f"type {got.sql_type}; {source}: {col.sql_type}")
            if got.default_sql != col.default_sql or got.identity != col.identity:
                err("D607", subject, f"default {got.default_sql!r}; {source}: {col.default_sql!r}")
            elif got.generated != col.generated:
                err("D607", subject, f"generated {got.generated}; {source}: {col.generated}")
            if got.foreign_key != col.foreign_key:
                err("D609", subject, f"foreign key {got.foreign_key}; {source}: {col.foreign_key}")
            if got.check != col.check:
                err("D616", subject, f"check {got.check!r}; {source}: {col.check!r}")
            if got.outbox_exclude != col.outbox_exclude and want.outbox is not None and have.outbox is not None:
                err("D644", subject, f"outbox_exclude={got.outbox_exclude} in the capture triggers; {source}: "
                                     f"{col.outbox_exclude}")  # fmt: skip
            if got.comment != col.comment:
                out.append(Diagnostic("D617", "warning", subject, f"column comment differs from the {source}'s"))
        for col in have.columns:
            if want.column(col.name) is None:
                err("D604", f"{name}.{col.name}", f"column in the database is absent from the {source}")
    # The indexes of a table that is missing or extra are covered by D601/D602.
    both = set(expected.models) & set(live.models)
    want_idx = {i.name: i for i in expand_column_indexes(expected) if i.table in both}
    have_idx = {i.name: i for i in expand_column_indexes(live) if i.table in both}
    for name, index in sorted(want_idx.items()):
        found = have_idx.get(name)
        if found is None:
            err("D610", name, f"index in the {source} is missing from the database")
        elif found.table != index.table:
            err("D615", name, f"index is on {found.table}; {source}: {index.table}")
        elif found.unique != index.unique or found.kind != index.kind:
            err("D613", name, f"uniqueness {found.kind}; {source}: {index.kind}")
        elif found.index_type != index.index_type:
            method = f"access method {found.index_type}; {source}: {index.index_type}"
            out.append(Diagnostic("D614", "warning", name, method))
        elif found != index:
            err("D612", name, f"index {_shape(found)}; {source}: {_shape(index)}")
    for name in sorted(set(have_idx) - set(want_idx)):
        extra = have_idx[name]
        # An extra unique index refuses writes the models allow; an extra plain index only costs writes.
        severity: Literal["error", "warning"] = "error" if extra.unique else "warning"
        what = f"{'unique ' if extra.unique else ''}index on {extra.table} {_shape(extra)}"
        out.append(Diagnostic("D611", severity, name, f"{what} in the database is absent from the {source}"))
    for code, subject, message in _views(expected, live, source):
        err(code, subject, message)
    for name, domain in sorted(expected.domains.items()):
        if live.domains.get(name) != domain:
            err("D646", name, f"domain {live.domains.get(name)}; {source}: {domain}")
    for name, enum in sorted(expected.enums.items()):
        live_enum = live.enums.get(name)
        if live_enum is None or live_enum.variants != enum.variants:
            have_values = live_enum.variants if live_enum else None
            err("D618", name, f"enum values {have_values}; {source}: {enum.variants}")
    return out


def _views(expected: Snapshot, live: Snapshot, source: str) -> list[tuple[str, str, str]]:
    """D647 per view that is missing, extra, of the other kind, or whose query (both as the server prints
    them: ``introspect.server_spelled``), columns or materialized-view indexes differ."""
    out = [("D647", n, f"view in the {source} is missing from the database") for n in sorted(set(expected.views) -
                                                                                              set(live.views))]
    out += [("D647", n, f"view in the database is absent from the {source}") for n in sorted(set(live.views) -
                                                                                             set(expected.views))]
    for name in sorted(set(expected.views) & set(live.views)):
        want, have = expected.views[name], live.views[name]
        if want.materialized != have.materialized:
            kinds = {True: "materialized", False: "plain"}
            out.append(("D647", name, f"a {kinds[have.materialized]} view; {source}: {kinds[want.materialized]}"))
        elif want.definition != have.definition:
            out.append(("D647", name, f"query {have.definition!r}; {source}: {want.definition!r}"))
        if want.columns != have.columns:
            shown = [(c.name, c.sql_type) for c in have.columns], [(c.name, c.sql_type) for c in want.columns]
            out.append(("D647", name, f"columns {shown[0]}; {source}: {shown[1]}"))
        if want.indexes != have.indexes:
            out.append(("D647", name, f"indexes {[_shape(i) for i in have.indexes]}; {source}: "
                                      f"{[_shape(i) for i in want.indexes]}"))  # fmt: skip
    return out


def _named(
    code: str, what: str, table: str, source: str, wanted: tuple[Named, ...], live: tuple[Named, ...]
) -> list[tuple[str, str, str]]:  # fmt: skip
    """``(code, subject, message)`` for each table constraint (a CHECK, a composite foreign key) that differs
    from the one of the same name, is missing, or is in the database only."""
    by_name = {c.name: c for c in live}
    out = [(code, f"{table}.{c.name}", f"{what} {by_name.get(c.name)}; {source}: {c}")
           for c in wanted if by_name.get(c.name) != c]  # fmt: skip
    names = {c.name for c in wanted}
    return out + [(code, f"{table}.{c.name}", f"{what} in the database is absent from the {source}")
                  for c in live if c.name not in names]  # fmt: skip


def _shape(index: IndexSchema) -> str:
    """An index's keys, included columns, predicate and NULLS NOT DISTINCT, for a message."""
    target = index.target
    keys = target.expression if target.expression is not None else ", ".join(
        c.name + (f" {c.opclass}" if c.opclass else "") + (" DESC" if c.order == "Desc" else "")
        + ("" if c.nulls == "Default" else f" NULLS {c.nulls.upper()}") for c in target.columns or ())
    text = f"({keys})" + (f" INCLUDE ({', '.join(index.include)})" if index.include else "")
    text += " NULLS NOT DISTINCT" if index.nulls_not_distinct else ""
    return text + (f" WHERE {index.predicate}" if index.predicate else "")


def unmodelled(found: tuple[Unmodelled, ...]) -> list[Diagnostic]:
    """``D643`` for each constraint of a table in scope that neither the snapshot nor the models declare."""
    return [Diagnostic("D643", "error", f"{u.table}.{u.name}", u.what) for u in found]


def _outbox_message(want: str | None, have: str | None) -> str:
    """What differs in a table's outbox capture triggers (``D644``)."""
    if want is None:
        return f"outbox capture triggers (into {have}) exist, expected none"
    return (f"the outbox capture triggers into {want} are missing, altered or disabled; apply the migrations or "
            "restore them")  # fmt: skip


def _audit_message(want: AuditSchema | None, have: AuditSchema | None) -> str:
    def show(audit: AuditSchema | None) -> str:
        if audit is None:
            return "none"
        return f"excluding {', '.join(audit.exclude)}" if audit.exclude else "recording every column"

    return (f"audit trigger: {show(have)} (missing, altered or disabled reads as none); expected "
            f"{show(want)}")  # fmt: skip


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
