"""Live catalog -> ``Snapshot`` (effectful: reads ``pg_catalog``).

A few batched queries (tables with columns, constraints, indexes, enums, domains, policies, partitions),
whatever the number of tables. Partitions belong to their partitioned parent, never tables of their own;
``catalog`` also returns the constraints a snapshot cannot hold (``Unmodelled``), which ``verify`` reports.
Types and defaults go through the same canonical spellings as ``project``; CHECK expressions are read
back from the constraint comment djogi writes with them (the server's deparsed text otherwise); the
primary-key kind is recognised from the id column's default. ``scope`` limits the tables and enums
read (a bucket's names); without it, every table of the current schema except djogi's and HeeRanjID's.
Domains are read when a column read is of one (a domain no table uses is no part of a bucket). CHECK
expressions (of tables and domains) are spelled by ``canonical_expression``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import msgspec
import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from djogi.migrate.audit import CAPTURE_FUNCTION, live_audit
from djogi.migrate.operations import check_name
from djogi.migrate.outbox import LiveTrigger, live_outbox
from djogi.migrate.policies import LivePolicy, live_tenant_key
from djogi.migrate.project import METHOD_EXTENSIONS, OPCLASS_EXTENSIONS
from djogi.migrate.snapshot import (
    INDEX_TYPES,
    CheckSchema,
    ColumnSchema,
    CompositeForeignKeySchema,
    DomainSchema,
    EnumSchema,
    ForeignKeySchema,
    GeneratedSchema,
    Identity,
    IndexColumnSchema,
    IndexSchema,
    IndexTarget,
    OnDelete,
    PartitionBoundSchema,
    PartitionSchema,
    Snapshot,
    TableSchema,
    Unmodelled,
    ViewColumnSchema,
    ViewSchema,
    canonical_bound,
    canonical_default,
    canonical_expression,
    canonical_type,
    collated,
    fold_column_indexes,
    primary_key_schema,
)
from djogi.schema.views import canonical_query

Connection = psycopg.Connection[TupleRow]
Nulls = Literal["Default", "First", "Last"]

_TABLES = """
SELECT c.oid, c.relname, obj_description(c.oid, 'pg_class'), a.attname, format_type(a.atttypid, a.atttypmod),
       a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity, col_description(c.oid, a.attnum),
       pg_get_partkeydef(c.oid),
       (SELECT co.collname FROM pg_collation co JOIN pg_type ty ON ty.oid = a.atttypid
        WHERE co.oid = a.attcollation AND a.attcollation <> ty.typcollation),
       (SELECT ty.typname FROM pg_type ty WHERE ty.oid = a.atttypid AND ty.typtype = 'd'), a.attgenerated
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND CASE WHEN %(tables)s::text[] IS NULL
           THEN c.relname NOT LIKE 'djogi\\_%%' AND c.relname NOT LIKE 'heer\\_%%'
           ELSE c.relname = ANY(%(tables)s::text[]) END
ORDER BY c.relname, a.attnum
"""

_CONSTRAINTS = """
SELECT cl.relname, con.conname, con.contype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o),
       rc.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o),
       con.confdeltype, con.condeferrable, con.condeferred, pg_get_constraintdef(con.oid, true),
       obj_description(con.oid, 'pg_constraint'), con.confupdtype, con.confmatchtype, con.convalidated
FROM pg_constraint con
JOIN pg_class cl ON cl.oid = con.conrelid
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
WHERE con.conrelid = ANY(%(oids)s) AND con.contype IN ('p', 'f', 'c', 'x') AND con.conparentid = 0
ORDER BY cl.relname, con.conname
"""

_PARTITIONS = """
SELECT p.relname, c.relname, pg_get_expr(c.relpartbound, c.oid), pg_get_partkeydef(c.oid)
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_class p ON p.oid = i.inhparent
WHERE i.inhparent = ANY(%(oids)s) AND c.relispartition
ORDER BY p.relname, c.relname
"""

_PARTITION_OWN = """
SELECT t.relname, c.relname, con.conname, pg_get_constraintdef(con.oid, true)
FROM pg_class t
CROSS JOIN LATERAL pg_partition_tree(t.oid) pt
JOIN pg_class c ON c.oid = pt.relid
JOIN pg_constraint con ON con.conrelid = c.oid
WHERE t.oid = ANY(%(oids)s) AND pt.level > 0 AND con.contype IN ('p', 'u', 'f', 'c', 'x')
  AND con.conparentid = 0 AND con.coninhcount = 0
UNION ALL
SELECT t.relname, c.relname, i.relname, pg_get_indexdef(x.indexrelid)
FROM pg_class t
CROSS JOIN LATERAL pg_partition_tree(t.oid) pt
JOIN pg_class c ON c.oid = pt.relid
JOIN pg_index x ON x.indrelid = c.oid
JOIN pg_class i ON i.oid = x.indexrelid
WHERE t.oid = ANY(%(oids)s) AND pt.level > 0
  AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = x.indexrelid)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.conrelid = c.oid)
ORDER BY 1, 2, 3
"""

_INDEXES = """
SELECT t.relname, i.relname, x.indisunique, x.indnullsnotdistinct, am.amname, x.indnkeyatts,
       x.indkey::int2[], x.indoption::int2[],
       ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true) FROM generate_series(1, x.indnatts) k),
       ARRAY(SELECT CASE WHEN oc.opcdefault THEN '' ELSE oc.opcname END
             FROM unnest(x.indclass::oid[]) WITH ORDINALITY u(id, o) JOIN pg_opclass oc ON oc.oid = u.id ORDER BY u.o),
       pg_get_expr(x.indpred, x.indrelid, true), con.contype, i.reloptions
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_am am ON am.oid = i.relam
LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid
                            AND con.contype IN ('p', 'u', 'x')
WHERE x.indrelid = ANY(%(oids)s) AND x.indisvalid AND NOT x.indisprimary
ORDER BY t.relname, i.relname
"""

_POLICIES = """
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, p.polname, p.polcmd, p.polpermissive,
       p.polroles::oid[], pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
FROM pg_class c
LEFT JOIN pg_policy p ON p.polrelid = c.oid
WHERE c.oid = ANY(%(oids)s) AND (c.relrowsecurity OR c.relforcerowsecurity OR p.oid IS NOT NULL)
ORDER BY c.relname, p.polname
"""

_TRIGGERS = """
SELECT c.relname, t.tgname, t.tgtype, t.tgenabled, p.proname, p.prosrc,
       (string_to_array(encode(t.tgargs, 'escape'), '\\000'))[1:t.tgnargs],
       t.tgnewtable, t.tgoldtable
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_proc p ON p.oid = t.tgfoid
WHERE t.tgrelid = ANY(%(oids)s) AND t.tgname LIKE 'djogi\\_outbox\\_%%' AND NOT t.tgisinternal
ORDER BY c.relname, t.tgname
"""

_AUDIT_TRIGGERS = """
SELECT c.relname, t.tgname, t.tgtype::int, t.tgenabled,
       (string_to_array(encode(t.tgargs, 'escape'), '\\000'))[1:t.tgnargs]
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_proc p ON p.oid = t.tgfoid
WHERE t.tgrelid = ANY(%(oids)s) AND NOT t.tgisinternal AND p.proname = %(function)s
ORDER BY c.relname, t.tgname
"""

_ENUMS = """
SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace AND n.nspname = current_schema()
JOIN pg_enum e ON e.enumtypid = t.oid
WHERE %(enums)s::text[] IS NULL OR t.typname = ANY(%(enums)s::text[])
GROUP BY t.typname
"""

_DOMAINS = """
SELECT t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault,
       ARRAY(SELECT ARRAY[c.conname,
                          coalesce(obj_description(c.oid, 'pg_constraint'), pg_get_constraintdef(c.oid, true))]
             FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c' ORDER BY c.conname)
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace AND n.nspname = current_schema()
WHERE t.typtype = 'd' AND t.typname = ANY(%(domains)s::text[])
ORDER BY t.typname
"""

_VIEWS = """
SELECT c.oid, c.relname, c.relkind = 'm', pg_get_viewdef(c.oid, true), c.relispopulated,
       ARRAY(SELECT ARRAY[a.attname, format_type(a.atttypid, a.atttypmod)] FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
WHERE c.relkind IN ('v', 'm')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype = 'e')
  AND CASE WHEN %(tables)s::text[] IS NULL
           THEN c.relname NOT LIKE 'djogi\\_%%' AND c.relname NOT LIKE 'heer\\_%%'
           ELSE c.relname = ANY(%(tables)s::text[]) END
ORDER BY c.relname
"""

_ON_DELETE: dict[str, OnDelete] = {"a": "NoAction", "r": "Restrict", "c": "Cascade", "n": "SetNull", "d": "SetDefault"}
_IDENTITY: dict[str, Identity] = {"d": "ByDefault", "a": "Always"}


class Catalog(msgspec.Struct, frozen=True):
    """The live schema as a ``Snapshot`` plus what the snapshot cannot hold."""

    snapshot: Snapshot
    unmodelled: tuple[Unmodelled, ...]


def introspect(
    conn: Connection, *, tables: Iterable[str] | None = None, enums: Iterable[str] | None = None,
    app: str | None = None,
) -> Snapshot:  # fmt: skip
    """The live schema of the given tables and enums (all of the current schema's when None)."""
    return catalog(conn, tables=tables, enums=enums, app=app).snapshot


def catalog(
    conn: Connection, *, tables: Iterable[str] | None = None, enums: Iterable[str] | None = None,
    app: str | None = None,
) -> Catalog:  # fmt: skip
    """``introspect`` plus the unmodelled constraints of the tables read. Partitions are read as part of
    their partitioned parent (``TableSchema.partition``), never as tables of their own, and the
    constraints PostgreSQL clones for them (``conparentid``: the per-partition copies of a foreign key
    referencing a partitioned table) are not read. Partition bounds are read with ``TimeZone`` set to
    UTC for the duration (restored after), so they do not depend on the session."""
    table_list = None if tables is None else sorted(tables)
    enum_list = None if enums is None else sorted(enums)
    with conn.cursor() as cur:
        rows = cur.execute(_TABLES, {"tables": table_list}).fetchall()
        oids = sorted({r[0] for r in rows})
        constraints = cur.execute(_CONSTRAINTS, {"oids": oids}).fetchall()
        index_rows = cur.execute(_INDEXES, {"oids": oids}).fetchall()
        enum_rows = cur.execute(_ENUMS, {"enums": enum_list}).fetchall()
        policy_rows = cur.execute(_POLICIES, {"oids": oids}).fetchall()
        trigger_rows = cur.execute(_TRIGGERS, {"oids": oids}).fetchall()
        audit_trigger_rows = cur.execute(_AUDIT_TRIGGERS, {"oids": oids, "function": CAPTURE_FUNCTION}).fetchall()
        view_rows = cur.execute(_VIEWS, {"tables": table_list}).fetchall()
        view_index_rows = cur.execute(_INDEXES, {"oids": [r[0] for r in view_rows]}).fetchall()
        domain_rows = cur.execute(_DOMAINS, {"domains": sorted({r[11] for r in rows if r[11] is not None})}).fetchall()
        zone = cur.execute("SELECT current_setting('TimeZone'), set_config('TimeZone', 'UTC', false)").fetchone()
        try:
            partition_rows = cur.execute(_PARTITIONS, {"oids": oids}).fetchall()
            own_rows = cur.execute(_PARTITION_OWN, {"oids": oids}).fetchall()
        finally:
            cur.execute("SELECT set_config('TimeZone', %s, false)", (zone[0] if zone else "UTC",))
    by_table, unmodelled = _constraints(constraints, {(r[1], r[3]) for r in rows})
    columns: dict[str, list[ColumnSchema]] = {}
    comments: dict[str, str | None] = {}
    keys: dict[str, str | None] = {}
    for (_oid, table, table_comment, name, sql_type, notnull, default, identity, comment, partkey, collation, _,
         generated) in rows:  # fmt: skip
        comments[table] = table_comment
        keys[table] = partkey
        con = by_table.get(table, {})
        ident = _IDENTITY.get(identity)
        columns.setdefault(table, []).append(ColumnSchema(
            name=name, sql_type=collated(canonical_type(sql_type), collation), nullable=not notnull,
            default_sql=None if ident or generated else canonical_default(default), identity=ident, comment=comment,
            generated=GeneratedSchema(expression=canonical_expression(default), stored=generated == "s")
            if generated else None,
            foreign_key=con.get(("f", name)), check=con.get(("c", check_name(table, name))),
        ))  # fmt: skip
    security = _security(policy_rows, columns)
    parts: dict[str, list[PartitionBoundSchema]] = {}
    for parent, name, bound, subkey in partition_rows:
        parts.setdefault(parent, []).append(
            PartitionBoundSchema(name=name, bound=canonical_bound(bound), partition_key=subkey)
        )
    models = {
        table: TableSchema(app=app, columns=tuple(cols), table=table, table_comment=comments[table],
                           checks=tuple(by_table.get(table, {}).get(("checks", ""), ())),
                           foreign_keys=tuple(by_table.get(table, {}).get(("foreign_keys", ""), ())),
                           primary_key=primary_key_schema(cols, by_table.get(table, {}).get(("p", "")) or ()),
                           partition=None if keys[table] is None else PartitionSchema(
                               key=keys[table] or "", partitions=tuple(parts.get(table, ()))),
                           **security.get(table, {}))
        for table, cols in columns.items()
    }  # fmt: skip
    triggers: dict[str, list[LiveTrigger]] = {}
    for table, *trigger in trigger_rows:
        name, tgtype, enabled, function, source, args, new_table, old_table = trigger
        triggers.setdefault(table, []).append(
            LiveTrigger(name, tgtype, enabled, function, source, tuple(args), new_table, old_table))
    models = {name: live_outbox(t, triggers[name]) if name in triggers else t for name, t in models.items()}
    audit_triggers: dict[str, list[tuple[str, int, str, list[str]]]] = {}
    for table, *trigger in audit_trigger_rows:
        audit_triggers.setdefault(table, []).append((trigger[0], trigger[1], trigger[2], trigger[3]))
    models = {name: msgspec.structs.replace(t, audit=live_audit(audit_triggers.get(name, ()), t))
              for name, t in models.items()}  # fmt: skip
    folded, indexes = fold_column_indexes(models, [_index(r) for r in index_rows if r[11] != "x"])
    snapshot = Snapshot(
        domains={name: _domain(name, *rest) for name, *rest in domain_rows},
        enums={name: EnumSchema(name=name, variants=tuple(labels)) for name, labels in sorted(enum_rows)},
        indexes=indexes, models=folded, registered_apps=(app,) if app else (),
        views=_views(view_rows, view_index_rows, app),
    )  # fmt: skip
    unmodelled += [Unmodelled(table, name, f"defined on partition {part} alone, which djogi does not declare (a "
                                           f"partition gets its parent's constraints and indexes): {definition}")
                   for table, part, name, definition in own_rows]  # fmt: skip
    return Catalog(snapshot, tuple(unmodelled))


def _views(rows: list[tuple[Any, ...]], index_rows: list[tuple[Any, ...]], app: str | None
           ) -> dict[str, ViewSchema]:  # fmt: skip
    """The views and materialized views read, with their query as the server prints it and, for a
    materialized view, its indexes (``with_data``: whether it is populated)."""
    indexes: dict[str, list[IndexSchema]] = {}
    for row in index_rows:
        indexes.setdefault(row[0], []).append(_index(row))
    return {name: ViewSchema(
        name=name, app=app, definition=canonical_query(definition), materialized=materialized,
        with_data=populated, indexes=tuple(sorted(indexes.get(name, ()), key=lambda i: i.name)),
        columns=tuple(ViewColumnSchema(name=c, sql_type=canonical_type(t)) for c, t in columns),
    ) for _oid, name, materialized, definition, populated, columns in rows}  # fmt: skip


def _domain(name: str, base: str, not_null: bool, default: str | None, checks: list[list[str]]) -> DomainSchema:
    """A domain as the catalog has it (each CHECK's text: the comment djogi writes with it, else the
    server's), spelled as ``project.domain_schema`` spells a declared one."""
    return DomainSchema(
        name=name, base_type=canonical_type(base), not_null=not_null, default_sql=canonical_default(default),
        checks=tuple(CheckSchema(name=c, expression=canonical_expression(_strip_check(text))) for c, text in checks),
    )  # fmt: skip


def _security(rows: list[tuple[Any, ...]], columns: dict[str, list[ColumnSchema]]) -> dict[str, dict[str, Any]]:
    """Per table with row-level security or policies: ``rls_enabled`` and the ``tenant_key`` its policy
    isolates by (None when the policy is missing or altered; see ``policies.live_tenant_key``)."""
    flags: dict[str, tuple[bool, bool]] = {}
    found: dict[str, list[LivePolicy]] = {}
    for table, enabled, forced, name, command, permissive, roles, using, check in rows:
        flags[table] = (enabled, forced)
        if name is not None:
            found.setdefault(table, []).append(LivePolicy(name, command, permissive, tuple(roles), using, check))
    return {
        table: {"rls_enabled": enabled, "tenant_key": live_tenant_key(
            [(c.name, c.sql_type) for c in columns.get(table, [])], enabled, forced, found.get(table, []))}
        for table, (enabled, forced) in flags.items()
    }  # fmt: skip


_ON_UPDATE = {"r": "ON UPDATE RESTRICT", "c": "ON UPDATE CASCADE", "n": "ON UPDATE SET NULL",
              "d": "ON UPDATE SET DEFAULT"}  # fmt: skip


def _constraints(
    rows: list[tuple[Any, ...]], columns: set[tuple[str, str]]
) -> tuple[dict[str, dict[tuple[str, str], Any]], list[Unmodelled]]:
    """Per table: ``("p", "")`` -> PK columns, ``("f", column)`` -> FK, ``("c", name)`` -> CHECK text; and
    the constraints a snapshot cannot hold (``columns``: the ``(table, column)`` pairs read)."""
    out: dict[str, dict[tuple[str, str], Any]] = {}
    extra: list[Unmodelled] = []
    for (table, name, kind, cols, ref_table, ref_cols, on_delete, deferrable, deferred, definition, comment,
         on_update, match, valid) in rows:  # fmt: skip
        slot = out.setdefault(table, {})
        if not valid:
            extra.append(Unmodelled(table, name, f"constraint is NOT VALID (rows are not checked): {definition}"))
        if kind == "p":
            slot[("p", "")] = tuple(cols)
        elif kind == "f" and len(cols) == 1:
            slot[("f", cols[0])] = ForeignKeySchema(
                ref_table=ref_table, ref_column=ref_cols[0], on_delete=_ON_DELETE[on_delete],
                on_update=None if on_update == "a" else _ON_DELETE[on_update],
                deferrable=deferrable, initially_deferred=deferred,
            )  # fmt: skip
            if match != "s":
                extra.append(Unmodelled(table, name, f"foreign key with MATCH FULL, which djogi does not declare: "
                                                     f"{definition}"))  # fmt: skip
        elif kind == "c" and any((table, c) in columns and check_name(table, c) == name for c in cols):
            slot[("c", name)] = comment if comment is not None else _strip_check(definition)
        elif kind == "c":
            text = comment if comment is not None else _strip_check(definition)
            slot.setdefault(("checks", ""), []).append(CheckSchema(name=name, expression=canonical_expression(text)))
        elif kind == "f":
            slot.setdefault(("foreign_keys", ""), []).append(CompositeForeignKeySchema(
                name=name, columns=tuple(cols), ref_table=ref_table, ref_columns=tuple(ref_cols),
                on_delete=_ON_DELETE[on_delete], on_update=None if on_update == "a" else _ON_DELETE[on_update],
                deferrable=deferrable, initially_deferred=deferred,
            ))  # fmt: skip
            if match != "s":
                extra.append(Unmodelled(table, name, f"foreign key with MATCH FULL, which djogi does not declare: "
                                                     f"{definition}"))  # fmt: skip
        else:
            extra.append(Unmodelled(table, name, f"exclusion constraint that djogi does not declare: {definition}"))
    return out, extra


def _strip_check(definition: str) -> str:
    text = definition.removeprefix("CHECK ").removesuffix(" NOT VALID")
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text


def _index(row: tuple[Any, ...]) -> IndexSchema:
    table, name, unique, nnd, method, nkey, indkey, options, defs, opclasses, predicate, contype, params = row
    keys = []
    for i in range(nkey):
        desc = bool(options[i] & 1)
        nulls_first = bool(options[i] & 2)
        nulls: Nulls = ("Default" if nulls_first else "Last") if desc else ("First" if nulls_first else "Default")
        keys.append((indkey[i] == 0, defs[i], opclasses[i] or None, desc, nulls))
    if any(expr for expr, *_ in keys):
        parts = []
        for expr, text, opclass, desc, nulls in keys:
            part = f"({text})" if expr else f'"{text}"'
            part += f" {opclass}" if opclass else ""
            part += " DESC" if desc else ""
            part += f" NULLS {nulls.upper()}" if nulls != "Default" else ""
            parts.append(part)
        target = IndexTarget(expression=", ".join(parts))
    else:
        target = IndexTarget(columns=tuple(
            IndexColumnSchema(name=text.strip('"'), opclass=opclass, order="Desc" if desc else "Asc", nulls=nulls)
            for _, text, opclass, desc, nulls in keys
        ))  # fmt: skip
    extension = next((OPCLASS_EXTENSIONS[o] for o in opclasses if o in OPCLASS_EXTENSIONS),
                     METHOD_EXTENSIONS.get(method))  # fmt: skip
    return IndexSchema(
        name=name, table=table, target=target, index_type=INDEX_TYPES[method],
        kind="UniqueConstraint" if contype == "u" else "UniqueIndex" if unique else "NonUnique",
        nulls_not_distinct=nnd, predicate=predicate, include=tuple(d.strip('"') for d in defs[nkey:]),
        extension_dependency=extension,
        storage_parameters=dict(sorted(p.split("=", 1) for p in params or ())),
    )  # fmt: skip


_PROBE = "__djogi_probe"


def server_spelled(conn: Connection, expected: Snapshot, live: Snapshot) -> Snapshot:
    """``expected`` with each generated column's expression and each view's query as the server prints
    it, where it differs from the live one's: a declared ``qty * price`` reads back as ``(qty)::numeric *
    price``, with casts no pure spelling can infer. Each is typed in the live table's context, on a temporary
    copy of its columns (a view's query: as a temporary view) in a transaction rolled back (the table itself
    is not locked beyond reading it); text the server refuses is kept as declared (so the difference is
    reported)."""
    tables = dict(expected.models)
    for name, table in expected.models.items():
        have = live.models.get(name)
        columns = []
        for col in table.columns:
            got = have.column(col.name) if have is not None else None
            if col.generated is not None and got is not None and got.generated not in (None, col.generated):
                spelled = _spelling(conn, name, got.sql_type, col.generated.expression)
                col = msgspec.structs.replace(col, generated=msgspec.structs.replace(col.generated,
                                                                                     expression=spelled))
            columns.append(col)
        tables[name] = msgspec.structs.replace(table, columns=tuple(columns))
    views = {name: view if (seen := live.views.get(name)) is None or seen.definition == view.definition else
             msgspec.structs.replace(view, definition=_view_spelling(conn, view.definition))
             for name, view in expected.views.items()}  # fmt: skip
    return msgspec.structs.replace(expected, models=tables, views=views)


def _view_spelling(conn: Connection, query: str) -> str:
    """``query`` as the server prints a view defined by it (``pg_get_viewdef`` of a temporary view, in a
    transaction rolled back); kept as declared when the server refuses it."""
    try:
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE TEMP VIEW {} AS {}").format(sql.Identifier(_PROBE), sql.SQL(query)))
            row = cur.execute("SELECT pg_get_viewdef(%s::regclass, true)", (f"pg_temp.{_PROBE}",)).fetchone()
    except psycopg.Error:
        return query
    return query if row is None else canonical_query(row[0])


def _spelling(conn: Connection, table: str, sql_type: str, expression: str) -> str:
    probe = sql.Identifier(_PROBE)
    try:
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(probe, sql.Identifier(table)))
            cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} {} GENERATED ALWAYS AS ({}) VIRTUAL").format(
                probe, probe, sql.SQL(sql_type), sql.SQL(expression)))
            row = cur.execute(
                "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a "
                "ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = %s::regclass AND a.attname = %s",
                (f"pg_temp.{_PROBE}", _PROBE),
            ).fetchone()
    except psycopg.Error:
        return expression
    return expression if row is None else canonical_expression(row[0])
