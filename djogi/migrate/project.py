"""Model descriptors -> the target ``Snapshot`` of one ``(database, app)`` bucket (pure).

``project(descriptors, database, app)`` keeps the models of that bucket, spells every type and default
canonically (``snapshot.canonical_type`` / ``canonical_default``) and folds column-level indexes onto
columns, exactly as ``introspect`` does for the live catalog. Unmanaged models (``managed=False``) are
left out; view models (``view=``) become the snapshot's ``views``. It fails (``Failure(str)``) for a
foreign key that leaves the database or points at an unknown model (or a view model).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

import msgspec
from returns.result import Failure, Result, Success

from djogi.migrate.outbox import FIXED_COLUMNS, companion, companion_name, pending_index
from djogi.migrate.snapshot import (
    INDEX_TYPES,
    AuditSchema,
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
    ViewColumnSchema,
    ViewSchema,
    canonical_bound,
    canonical_default,
    canonical_expression,
    canonical_type,
    collated,
    column_index_name,
    column_unique_name,
    fold_column_indexes,
    key_sql,
    primary_key_schema,
    printed_name,
)
from djogi.model import CompositeForeignKey, Domain, FieldDescriptor, IndexColumn, ModelDescriptor
from djogi.schema.fields import storage_value

_ON_DELETE: dict[str, OnDelete] = {
    "cascade": "Cascade", "restrict": "Restrict", "set null": "SetNull", "set default": "SetDefault",
    "no action": "NoAction",
}  # fmt: skip
_IDENTITY: dict[str | None, Identity] = {"by default": "ByDefault", "always": "Always"}

OPCLASS_EXTENSIONS = {
    "gin_trgm_ops": "pg_trgm", "gist_trgm_ops": "pg_trgm", "vector_l2_ops": "vector",
    "vector_ip_ops": "vector", "vector_cosine_ops": "vector",
    "halfvec_l2_ops": "vector", "halfvec_ip_ops": "vector", "halfvec_cosine_ops": "vector",
}  # fmt: skip
METHOD_EXTENSIONS = {"hnsw": "vector", "ivfflat": "vector"}
"""The extension an index access method comes from."""
DEFAULT_OPCLASSES = frozenset({("ivfflat", "vector_l2_ops")})
"""Operator classes that are their access method's default (the catalog reports none for them)."""
ALLOWED_EXTENSIONS = ("btree_gist", "pg_trgm", "pgcrypto", "pgvector", "postgis", "vector")


def bucket_models(descriptors: Iterable[ModelDescriptor], database: str, app: str | None) -> list[ModelDescriptor]:
    """The descriptors that belong to the bucket ``(database, app)``."""
    return [d for d in descriptors if d.database == database and (d.app or None) == (app or None)]


def project(
    descriptors: Iterable[ModelDescriptor], database: str, app: str | None, *, generated_at: str = ""
) -> Result[Snapshot, str]:
    """The snapshot the bucket's models declare (``descriptors`` may hold other buckets' models too)."""
    everything = list(descriptors)
    by_model = {d.model: d for d in everything}
    by_name = {d.name: d for d in everything}
    tables: dict[str, TableSchema] = {}
    indexes: list[IndexSchema] = []
    enums: dict[str, EnumSchema] = {}
    domains: dict[str, DomainSchema] = {}
    views: dict[str, ViewSchema] = {}
    for desc in bucket_models((d for d in everything if d.managed), database, app):
        if desc.view is not None:
            views[desc.table] = _view(desc)
            continue
        columns = []
        for fd in desc.fields:
            fk = None
            if fd.relation is not None:
                target = fd.relation.target
                found = by_name.get(target) if isinstance(target, str) else by_model.get(target)
                if target is desc.model or target == desc.name:
                    found = desc
                if found is None:
                    return Failure(f"{desc.name}.{fd.name}: relation target {target!r} is not a registered model")
                if found.view is not None:
                    return Failure(f"{desc.name}.{fd.name}: {found.name} is a view model; a foreign key references "
                                   "a table (declare the field as a plain column)")  # fmt: skip
                if found.database != desc.database:
                    return Failure(
                        f"{desc.name}.{fd.name}: foreign keys cannot cross databases "
                        f"({desc.database} -> {found.database})"
                    )
                referenced = found.field(fd.relation.to_field) if fd.relation.to_field else found.pk_field
                on_update = fd.relation.on_update
                fk = ForeignKeySchema(
                    ref_table=found.table, ref_column=referenced.column,
                    on_delete=_ON_DELETE[fd.relation.on_delete], deferrable=fd.relation.deferrable,
                    initially_deferred=fd.relation.initially_deferred,
                    on_update=None if on_update in (None, "no action") else _ON_DELETE[on_update],
                )  # fmt: skip
            columns.append(_column(fd, fk))
            if fd.index is not None:
                indexes.append(_single(desc.table, fd.column, column_index_name(desc.table, fd.column), fd.index))
            if fd.unique:
                indexes.append(_single(desc.table, fd.column, column_unique_name(desc.table, fd.column), None))
            if fd.enum_type is not None:
                enums[fd.enum_type.pg_name()] = _enum(fd.enum_type)
            if fd.domain is not None:
                domain = domain_schema(fd.domain)
                if domains.setdefault(domain.name, domain) != domain:
                    return Failure(f"{desc.name}.{fd.name}: domain {domain.name} is declared differently elsewhere "
                                   f"({domains[domain.name]} / {domain}); declare it once and use that")  # fmt: skip
        indexes.extend(_index(desc.table, idx) for idx in desc.indexes)
        key = tuple(fd.column for fd in desc.key_fields)
        composite = [_composite_fk(desc, fk, by_model, by_name) for fk in desc.foreign_keys]
        refused = next((c for c in composite if isinstance(c, str)), None)
        if refused is not None:
            return Failure(refused)
        table = tables[desc.table] = TableSchema(
            app=desc.app or None, columns=tuple(columns), primary_key=primary_key_schema(columns, key),
            table=desc.table, foreign_keys=tuple(c for c in composite if not isinstance(c, str)),
            checks=tuple(CheckSchema(name=c.name, expression=canonical_expression(c.expression)) for c in desc.checks),
            table_comment=desc.comment, is_through=desc.through is not None,
            renamed_from=desc.renamed_from, partition=_partition(desc), audit=_audit(desc), **_tenancy(desc),
            outbox=companion_name(desc.table) if desc.outbox else None,
        )  # fmt: skip
        if desc.outbox:
            problem = _add_outbox(table, tables, indexes)
            if problem is not None:
                return Failure(f"{desc.name}: {problem}")
    folded, rest = fold_column_indexes(tables, indexes)
    apps = tuple(sorted({t.app for t in folded.values() if t.app}))
    return Success(
        Snapshot(enums=dict(sorted(enums.items())), indexes=rest, models=folded, registered_apps=apps,
                 generated_at=generated_at, domains=dict(sorted(domains.items())), views=dict(sorted(views.items())))
    )  # fmt: skip


def _view(desc: ModelDescriptor) -> ViewSchema:
    """A view model's view: its query, its columns (the fields' columns and types, in order) and, for a
    materialized view, its indexes."""
    assert desc.view is not None
    return ViewSchema(
        name=desc.table, app=desc.app or None, definition=desc.view.query, materialized=desc.view.materialized,
        with_data=desc.view.with_data,
        columns=tuple(ViewColumnSchema(name=fd.column, sql_type=canonical_type(fd.sql_type)) for fd in desc.fields),
        indexes=tuple(sorted((_index(desc.table, idx) for idx in desc.indexes), key=lambda i: i.name)),
    )  # fmt: skip


def _composite_fk(
    desc: ModelDescriptor, fk: CompositeForeignKey, by_model: dict[Any, ModelDescriptor],
    by_name: dict[str, ModelDescriptor],
) -> CompositeForeignKeySchema | str:  # fmt: skip
    """A ``CompositeForeignKey`` as the catalog shows it, or why it cannot be one: the target must be a model
    of the same database, and ``to_fields`` its primary key or the fields of one of its unique indexes."""
    where = f"{desc.name}: foreign key {fk.name}"
    target = desc if fk.target is desc.model or fk.target == desc.name else (
        by_name.get(fk.target) if isinstance(fk.target, str) else by_model.get(fk.target))  # fmt: skip
    if target is None:
        return f"{where}: target {fk.target!r} is not a registered model"
    if target.database != desc.database:
        return f"{where}: foreign keys cannot cross databases ({desc.database} -> {target.database})"
    known = {fd.name: fd.column for fd in target.fields}
    unknown = [f for f in fk.to_fields if f not in known]
    if unknown:
        return f"{where}: {target.name} has no field(s) {unknown}"
    refs = tuple(known[f] for f in fk.to_fields)
    plain = [[k for k in idx.columns if isinstance(k, IndexColumn) and k.expression is None] for idx in target.indexes]
    keys = [{fd.column for fd in target.key_fields}] + [
        {k.name for k in keyed} for idx, keyed in zip(target.indexes, plain, strict=True)
        if idx.unique and idx.where is None and len(keyed) == len(idx.columns)
    ]  # fmt: skip
    if set(refs) not in keys or len(set(refs)) != len(refs):
        return (f"{where}: {target.name}.{fk.to_fields} is neither its primary key nor a unique index (a foreign key "
                "references a unique key)")  # fmt: skip
    return CompositeForeignKeySchema(
        name=fk.name or "", columns=tuple(desc.field(f).column for f in fk.fields), ref_table=target.table,
        ref_columns=refs, on_delete=_ON_DELETE[fk.on_delete], deferrable=fk.deferrable,
        initially_deferred=fk.initially_deferred,
        on_update=None if fk.on_update in (None, "no action") else _ON_DELETE[fk.on_update],
    )  # fmt: skip


def _add_outbox(table: TableSchema, tables: dict[str, TableSchema], indexes: list[IndexSchema]) -> str | None:
    """Add the companion outbox table of ``table`` and its index; a problem when the names clash."""
    key = table.column(table.primary_key.columns[0])
    tenant = table.column(table.tenant_key) if table.tenant_key else None
    assert key is not None
    if tenant is not None and tenant.name in FIXED_COLUMNS:
        return (f"outbox=True: the tenant column {tenant.name!r} clashes with a column of the outbox table "
                f"({', '.join(FIXED_COLUMNS)}); rename it (field(column=...))")  # fmt: skip
    outbox = companion(table, key, tenant)
    if outbox.table in tables:
        return f"outbox=True: the outbox table {outbox.table!r} is also a model's table"
    tables[outbox.table] = outbox
    indexes.append(pending_index(outbox.table))
    return None


def _partition(desc: ModelDescriptor) -> PartitionSchema | None:
    """The declared partitioning, spelled as ``introspect`` reads it back."""
    by = desc.partition_by
    if by is None:
        return None
    parts = sorted(desc.partitions, key=lambda p: p.name)
    return PartitionSchema(
        key=f"{by.method.upper()} ({', '.join(printed_name(c) for c in by.fields)})",
        partitions=tuple(PartitionBoundSchema(name=p.name, bound=canonical_bound(p.bound)) for p in parts),
    )


def _audit(desc: ModelDescriptor) -> AuditSchema | None:
    """The audit trail of a model declared with ``audit=``: its excluded fields' columns, sorted."""
    if desc.audit is None:
        return None
    return AuditSchema(exclude=tuple(sorted(desc.field(name).column for name in desc.audit.exclude)))


def _tenancy(desc: ModelDescriptor) -> dict[str, Any]:
    """``tenant_key`` (the column) and ``rls_enabled`` of a model declared with ``tenant_key=``."""
    if desc.tenant_key is None:
        return {}
    return {"tenant_key": desc.field(desc.tenant_key).column, "rls_enabled": True}


def domain_schema(domain: Domain) -> DomainSchema:
    """A declared ``Domain`` as the catalog shows it."""
    return DomainSchema(
        name=domain.name, base_type=canonical_type(domain.base), not_null=domain.not_null,
        default_sql=canonical_default(domain.default),
        checks=tuple(sorted((CheckSchema(name=c.name, expression=canonical_expression(c.expression))
                             for c in domain.checks), key=lambda c: c.name)),
    )  # fmt: skip


def _column(fd: FieldDescriptor, fk: ForeignKeySchema | None) -> ColumnSchema:
    sql_type = printed_name(fd.domain.name) if fd.domain is not None else canonical_type(fd.sql_type)
    return ColumnSchema(
        name=fd.column, sql_type=collated(sql_type, fd.collation), nullable=fd.nullable,
        default_sql=canonical_default(fd.db_default), identity=_IDENTITY.get(fd.identity),
        check=fd.check, comment=fd.comment, renamed_from=fd.renamed_from, foreign_key=fk,
        outbox_exclude=fd.outbox_exclude,
        generated=None if fd.generated is None else GeneratedSchema(
            expression=canonical_expression(fd.generated), stored=not fd.virtual),
    )  # fmt: skip


def _single(table: str, column: str, name: str, method: str | None) -> IndexSchema:
    return IndexSchema(
        name=name, table=table, target=IndexTarget(columns=(IndexColumnSchema(name=column),)),
        index_type=INDEX_TYPES[method or "btree"], kind="NonUnique" if method else "UniqueConstraint",
    )  # fmt: skip


def _enum(enum_type: type[enum.Enum]) -> EnumSchema:
    renamed = getattr(enum_type, "__renamed_values__", None)
    return EnumSchema(
        name=enum_type.pg_name(),  # type: ignore[attr-defined]
        variants=tuple(str(m.value) for m in enum_type),
        renamed_values=dict(renamed) if renamed else None,
    )


def _key(key: IndexColumn) -> IndexColumnSchema:
    assert key.name is not None
    nulls: Any = key.nulls.capitalize()
    return IndexColumnSchema(name=key.name, order="Desc" if key.order == "desc" else "Asc", nulls=nulls,
                             opclass=key.opclass)  # fmt: skip


def index_key_sql(key: IndexColumn) -> str:
    """The SQL of one key of a model ``Index`` (used for expression targets)."""
    from djogi.identifiers import quote_ident

    text = f"({key.expression})" if key.expression is not None else quote_ident(key.name or "")
    return key_sql(text, key.opclass, key.order == "desc", None if key.nulls == "default" else key.nulls)


def _index(table: str, idx: Any) -> IndexSchema:
    keys: tuple[IndexColumn, ...] = tuple(
        msgspec.structs.replace(k, opclass=None) if (idx.method, k.opclass) in DEFAULT_OPCLASSES else k
        for k in idx.columns
    )  # the catalog does not name a default operator class either
    if all(k.expression is None for k in keys):
        target = IndexTarget(columns=tuple(_key(k) for k in keys))
    else:
        target = IndexTarget(expression=", ".join(index_key_sql(k) for k in keys))
    extension = next((OPCLASS_EXTENSIONS[k.opclass] for k in keys if k.opclass in OPCLASS_EXTENSIONS),
                     METHOD_EXTENSIONS.get(idx.method))  # fmt: skip
    return IndexSchema(
        name=idx.name, table=table, target=target, index_type=INDEX_TYPES[idx.method],
        kind="UniqueIndex" if idx.unique else "NonUnique", predicate=idx.where, include=tuple(idx.include),
        nulls_not_distinct=idx.nulls_not_distinct, extension_dependency=extension,
        storage_parameters={k: storage_value(v) for k, v in sorted(idx.storage_parameters)},
    )  # fmt: skip
