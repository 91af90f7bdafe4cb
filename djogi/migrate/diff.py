"""The differ: ``diff(old, new) -> Result[Plan, str]`` (pure).

Renames happen only when declared (``renamed_from`` on a column or model, ``__renamed_values__`` on an
enum) and the old name exists in ``old``; derived constraint and index names follow the rename. Anything
else that disappears is dropped and re-added. Operations come out in the reference's phase order (enums,
renames, new tables, columns and constraints, indexes, drops in reverse dependency order); within a
phase, in table/column order. Changes Postgres cannot make in place (dropping or reordering enum values,
changing a primary key) are ``Failure`` with the reason.

``Plan.classification`` is ``no_op``, ``additive``, ``reversible``, ``destructive`` or ``lossy``
(precedence lossy > destructive > reversible > additive); ``needs_allow_destructive`` tells compose to
require the explicit flag.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import msgspec
from returns.result import Failure, Result, Success

from djogi.identifiers import derived_name
from djogi.migrate import operations as ops
from djogi.migrate.audit import audit_operations, renamed_audit
from djogi.migrate.operations import Operation, Step
from djogi.migrate.outbox import outbox_operations, pending_index
from djogi.migrate.policies import tenancy_operations
from djogi.migrate.snapshot import (
    ColumnSchema,
    ForeignKeySchema,
    IndexSchema,
    IndexTarget,
    Snapshot,
    TableSchema,
    ViewSchema,
    expand_column_indexes,
)

Classification = Literal["no_op", "additive", "reversible", "destructive", "lossy"]
_RANK: dict[str, int] = {"additive": 1, "reversible": 2, "destructive": 3, "lossy": 4}
_CLASSES: tuple[Classification, ...] = ("no_op", "additive", "reversible", "destructive", "lossy")


class Plan(msgspec.Struct, frozen=True):
    """The ordered operations turning one snapshot into another."""

    operations: tuple[Operation, ...]

    @property
    def steps(self) -> tuple[Step, ...]:
        """Every step, in execution order."""
        return tuple(step for op in self.operations for step in op.steps)

    @property
    def classification(self) -> Classification:
        """The plan's overall class."""
        return _CLASSES[max((_RANK[op.effect] for op in self.operations), default=0)]

    @property
    def needs_allow_destructive(self) -> bool:
        """True for destructive and lossy plans."""
        return self.classification in ("destructive", "lossy")

    def _subjects(self, kind: str, effect: str | None = None) -> list[str]:
        """The ``table`` / ``table.column`` each ``kind`` operation (of ``effect``, when given) acts on."""
        return [op.label.split(" ", 1)[1] for op in self.operations
                if op.kind == kind and effect in (None, op.effect)]  # fmt: skip

    @property
    def unfillable_columns(self) -> list[str]:
        """``table.column`` of each NOT NULL column added to an existing table with no database default
        (``ADD COLUMN`` fails once the table has a row)."""
        return self._subjects("AddColumn", "lossy")

    @property
    def rename_hints(self) -> list[str]:
        """Questions for a table or column dropped while another appears beside it: was it a rename?"""
        hints = [f"did you rename table {old} to {new}? declare renamed_from={old!r} on its model"
                 for old in self._subjects("DropTable") for new in self._subjects("AddTable")]  # fmt: skip
        added = [c.split(".") for c in self._subjects("AddColumn")]
        for table, old in (c.split(".") for c in self._subjects("DropColumn")):
            hints += [f"did you rename {table}.{old} to {table}.{new}? declare field(renamed_from={old!r}) on it"
                      for t, new in added if t == table]  # fmt: skip
        return hints


def diff(old: Snapshot, new: Snapshot) -> Result[Plan, str]:
    """The plan turning schema ``old`` into schema ``new``."""
    out: list[Operation] = [ops.add_extension(e) for e in new.extensions if e not in old.extensions]
    enum_ops = _enums(old, new)
    if isinstance(enum_ops, str):
        return Failure(enum_ops)
    out += enum_ops
    domain_ops = _domains(old, new)
    if isinstance(domain_ops, str):
        return Failure(domain_ops)
    out += domain_ops
    out += _views(old, new)
    renamed, old = _renames(old, new)
    out += renamed
    for name in sorted(set(old.models) & set(new.models)):
        problem = _pk_problem(old.models[name], new.models[name]) or _generated_problem(old.models[name],
                                                                                         new.models[name])
        if problem:
            return Failure(problem)
    out += _tables(old, new)
    out += _indexes(old, new)
    out.sort(key=lambda op: op.phase)
    return Success(Plan(tuple(out)))


# -------------------------------------------------------------------------------------- enums


def _enums(old: Snapshot, new: Snapshot) -> list[Operation] | str:
    out = [ops.add_enum(e) for name, e in new.enums.items() if name not in old.enums]
    out += [ops.drop_enum(e) for name, e in old.enums.items() if name not in new.enums]
    for name in sorted(set(old.enums) & set(new.enums)):
        current = list(old.enums[name].variants)
        target = new.enums[name].variants
        for new_label, old_label in sorted((new.enums[name].renamed_values or {}).items()):
            if old_label in current and new_label not in current:
                out.append(ops.rename_enum_value(name, old_label, new_label))
                current[current.index(old_label)] = new_label
        gone = [v for v in current if v not in target]
        if gone:
            return f"enum {name}: PostgreSQL cannot drop enum values {gone}; keep them or declare a rename"
        if [v for v in target if v in current] != current:
            return f"enum {name}: existing values cannot be reordered ({current} -> {list(target)})"
        for i, value in enumerate(target):
            if value not in current:
                after = target[i - 1] if i > 0 else None
                out.append(ops.add_enum_value(name, value, after=after, before=None if after else target[1]))
    return out


def _domains(old: Snapshot, new: Snapshot) -> list[Operation] | str:
    """Domains created, dropped or altered in place; a new base type is refused (it would rewrite every
    column of the domain)."""
    out = [ops.add_domain(d) for name, d in sorted(new.domains.items()) if name not in old.domains]
    out += [ops.drop_domain(d) for name, d in sorted(old.domains.items()) if name not in new.domains]
    for name in sorted(set(old.domains) & set(new.domains)):
        before, after = old.domains[name], new.domains[name]
        if before.base_type != after.base_type:
            return (f"domain {name}: changing its base type ({before.base_type} -> {after.base_type}) is not "
                    "supported; declare a new domain and move the columns to it")  # fmt: skip
        if before != after:
            out.append(ops.alter_domain(before, after))
    return out


# -------------------------------------------------------------------------------------- renames


def _renamed_index(index: IndexSchema, table: str, columns: dict[str, str]) -> IndexSchema:
    """``index`` after its table became ``table`` and its columns were renamed by ``columns``."""
    if index == pending_index(index.table):  # an outbox companion's claim index follows its table
        return pending_index(table)
    keys = index.target.columns
    target = index.target
    if keys is not None:
        target = IndexTarget(columns=tuple(msgspec.structs.replace(k, name=columns.get(k.name, k.name)) for k in keys))
    name = index.name
    if keys is not None:
        suffix = "idx" if index.kind == "NonUnique" else "key"
        if name == derived_name(index.table, tuple(k.name for k in keys), suffix):
            name = derived_name(table, tuple(k.name for k in target.columns or ()), suffix)
    return msgspec.structs.replace(
        index, table=table, name=name, target=target, include=tuple(columns.get(c, c) for c in index.include)
    )


def _renames(old: Snapshot, new: Snapshot) -> tuple[list[Operation], Snapshot]:
    """Rename operations, and ``old`` with the renames applied."""
    out: list[Operation] = []
    table_map: dict[str, str] = {}
    for name, table in new.models.items():
        source = table.renamed_from
        if name not in old.models and source in old.models and source not in new.models:
            table_map[source] = name
            out.append(ops.rename_table(source, name))
    column_maps: dict[str, dict[str, str]] = {}
    for old_name, old_table in old.models.items():
        name = table_map.get(old_name, old_name)
        new_table = new.models.get(name)
        if new_table is None:
            continue
        old_cols = {c.name for c in old_table.columns}
        for col in new_table.columns:
            if col.renamed_from in old_cols and col.name not in old_cols:
                column_maps.setdefault(old_name, {})[col.renamed_from] = col.name
                out.append(ops.rename_column(name, col.renamed_from, col.name))
    if not out:
        return out, old
    constraint_renames: list[Operation] = []
    early: list[Operation] = []
    tables: dict[str, TableSchema] = {}
    for old_name, table in old.models.items():
        name = table_map.get(old_name, old_name)
        cmap = column_maps.get(old_name, {})
        columns = []
        for col in table.columns:
            new_col = cmap.get(col.name, col.name)
            fk = col.foreign_key
            if fk is not None:
                ref = table_map.get(fk.ref_table, fk.ref_table)
                fk = msgspec.structs.replace(
                    fk, ref_table=ref, ref_column=column_maps.get(fk.ref_table, {}).get(fk.ref_column, fk.ref_column)
                )
            check = col.check
            renamed_col = (name, new_col) != (old_name, col.name)
            target = new.models[name].column(new_col) if name in new.models else None
            if check is not None and renamed_col and (target is None or target.check != check):
                # The old expression names the old column: drop it before the renames (re-added last on rollback).
                early.append(msgspec.structs.replace(ops.drop_check(old_name, col.name, check), phase=0))
                check = None
            for present, derive in ((fk is not None, ops.fk_name), (check is not None, ops.check_name)):
                before, after = derive(old_name, col.name), derive(name, new_col)
                if present and before != after:
                    constraint_renames.append(ops.rename_constraint(name, before, after))
            columns.append(msgspec.structs.replace(col, name=new_col, foreign_key=fk, check=check))
        if name != old_name:
            constraint_renames.append(ops.rename_constraint(name, f"{old_name}_pkey", f"{name}_pkey"))
        pk = msgspec.structs.replace(
            table.primary_key, columns=tuple(cmap.get(c, c) for c in table.primary_key.columns)
        )
        tenant_key = None if table.tenant_key is None else cmap.get(table.tenant_key, table.tenant_key)
        table, dropped = renamed_audit(table, cmap)
        early += dropped
        fks = tuple(msgspec.structs.replace(
            fk, columns=tuple(cmap.get(c, c) for c in fk.columns), ref_table=table_map.get(fk.ref_table, fk.ref_table),
            ref_columns=tuple(column_maps.get(fk.ref_table, {}).get(c, c) for c in fk.ref_columns),
        ) for fk in table.foreign_keys)  # fmt: skip
        wanted = {c.name: c for c in new.models[name].checks} if name in new.models else {}
        checks = []
        for table_check in table.checks:
            if cmap and wanted.get(table_check.name) != table_check:
                # The old expression may name an old column: drop it before the renames (re-added last on rollback).
                early.append(msgspec.structs.replace(ops.drop_table_check(old_name, table_check), phase=0))
            else:
                checks.append(table_check)
        tables[name] = msgspec.structs.replace(
            table, table=name, columns=tuple(columns), primary_key=pk, tenant_key=tenant_key, foreign_keys=fks,
            checks=tuple(checks),
        )
    indexes = []
    for index in expand_column_indexes(old):
        moved = _renamed_index(index, table_map.get(index.table, index.table), column_maps.get(index.table, {}))
        if moved.name != index.name:
            constraint_renames.append(
                ops.rename_constraint(moved.table, index.name, moved.name) if index.kind == "UniqueConstraint"
                else ops.rename_index(index.name, moved.name)
            )  # fmt: skip
        if index in old.indexes:
            indexes.append(moved)
    renamed = msgspec.structs.replace(old, models=tables, indexes=tuple(indexes))
    return early + out + constraint_renames, renamed


# -------------------------------------------------------------------------------------- tables


def _partitioning(table: TableSchema) -> str:
    return table.partition.key if table.partition else "not partitioned"


def _pk_problem(old: TableSchema, new: TableSchema) -> str | None:
    if _partitioning(old) != _partitioning(new):
        return (f"table {new.table}: changing how a table is partitioned ({_partitioning(old)} -> "
                f"{_partitioning(new)}) is not supported")
    if old.primary_key != new.primary_key:
        return f"table {new.table}: changing the primary key ({old.primary_key} -> {new.primary_key}) is not supported"
    pk_old = [c for c in old.columns if c.name in old.primary_key.columns]
    pk_new = [c for c in new.columns if c.name in new.primary_key.columns]
    if [(c.sql_type, c.identity) for c in pk_old] != [(c.sql_type, c.identity) for c in pk_new]:
        return f"table {new.table}: changing the primary-key column type is not supported"
    return None


def _generated_problem(old: TableSchema, new: TableSchema) -> str | None:
    """Why a column's generation cannot change in place: only a generated column's expression can
    (``SET EXPRESSION``); a column becoming or ceasing to be generated, or switching between STORED and
    VIRTUAL, is refused."""
    for col in new.columns:
        prev = old.column(col.name)
        if prev is None or prev.generated == col.generated:
            continue
        if prev.generated is None or col.generated is None or prev.generated.stored != col.generated.stored:
            return (f"column {new.table}.{col.name}: changing whether it is generated ({prev.generated} -> "
                    f"{col.generated}) is not supported; add a new column and drop the old one")  # fmt: skip
    return None


def _fk_ops(table: str, column: str, old: ForeignKeySchema | None, new: ForeignKeySchema | None,
            existing: bool, keys: dict[str, tuple[str, ...]]) -> list[Operation]:  # fmt: skip
    if old == new:
        return []
    out = []
    if old is not None:
        out.append(msgspec.structs.replace(ops.drop_foreign_key(table, column, old), phase=3 if new else 7))
    if new is not None:
        add = ops.add_foreign_key(table, column, new, existing=existing)
        # A foreign key to a unique column that is not the key: after the unique constraints (phase 5).
        out.append(add if new.ref_column in keys.get(new.ref_table, (new.ref_column,)) else
                   msgspec.structs.replace(add, phase=6))  # fmt: skip
    return out


def _tables(old: Snapshot, new: Snapshot) -> list[Operation]:
    out: list[Operation] = []
    keys = {name: t.primary_key.columns for name, t in new.models.items()}
    for name in sorted(new.models):
        table = new.models[name]
        before = old.models.get(name)
        out += tenancy_operations(name, before, table)
        out += outbox_operations(before, table)
        out += audit_operations(name, before, table)
        if before is None:
            out.append(ops.add_table(table))
            if table.table_comment is not None:
                out.append(ops.set_table_comment(name, None, table.table_comment))
            for col in table.columns:
                out += _column_extras(name, None, col, existing=False, keys=keys)
            out += _table_constraints(None, table, existing=False)
            continue
        if before.table_comment != table.table_comment:
            out.append(ops.set_table_comment(name, before.table_comment, table.table_comment))
        out += _partition_ops(before, table)
        for col in table.columns:
            prev = before.column(col.name)
            if prev is None:
                out.append(ops.add_column(name, col))
                out += _column_extras(name, None, col, existing=True, keys=keys)
                continue
            if prev.sql_type != col.sql_type:
                out.append(ops.change_type(name, col.name, prev.sql_type, col.sql_type))
            if prev.identity != col.identity:
                out.append(ops.set_identity(name, col.name, col.identity))
            if prev.default_sql != col.default_sql:
                out.append(ops.set_default(name, col.name, prev.default_sql, col.default_sql))
            if prev.generated is not None and col.generated is not None and prev.generated != col.generated:
                out.append(ops.set_expression(name, col.name, prev.generated, col.generated))
            if prev.nullable != col.nullable:
                out.append(ops.set_nullable(name, col.name, col.nullable, existing=True))
            out += _column_extras(name, prev, col, existing=True, keys=keys)
        out += _table_constraints(before, table, existing=True)
        for prev in before.columns:
            if table.column(prev.name) is None:
                if prev.foreign_key is not None:
                    out.append(ops.drop_foreign_key(name, prev.name, prev.foreign_key))
                if prev.check is not None:
                    out.append(msgspec.structs.replace(ops.drop_check(name, prev.name, prev.check), phase=7))
                out.append(ops.drop_column(name, prev))
    for name in sorted(set(old.models) - set(new.models)):
        table = old.models[name]
        out += tenancy_operations(name, table, None)
        out += outbox_operations(table, None)
        out += audit_operations(name, table, None)
        for col in table.columns:
            if col.foreign_key is not None:
                out.append(ops.drop_foreign_key(name, col.name, col.foreign_key))
        out += [ops.drop_composite_foreign_key(name, fk) for fk in table.foreign_keys]
        inbound = sum(
            1 for t in old.models.values() for c in t.columns if c.foreign_key and c.foreign_key.ref_table == name
        )
        own = tuple(i for i in expand_column_indexes(old) if i.table == name)
        out.append(ops.drop_table(table, own, inbound))
    return out


def _table_constraints(old: TableSchema | None, new: TableSchema, *, existing: bool) -> list[Operation]:
    """Table CHECK constraints and composite foreign keys added, dropped or changed (a change is a drop and
    an add: PostgreSQL cannot alter either in place), matched by name."""
    kinds: tuple[tuple[Sequence[Any], Sequence[Any], Callable[..., Operation], Callable[..., Operation]], ...] = (
        (old.checks if old else (), new.checks, ops.drop_table_check, ops.add_table_check),
        (old.foreign_keys if old else (), new.foreign_keys, ops.drop_composite_foreign_key,
         ops.add_composite_foreign_key),
    )  # fmt: skip
    out: list[Operation] = []
    for declared_before, declared_after, drop, add in kinds:
        before = {c.name: c for c in declared_before}
        after = {c.name: c for c in declared_after}
        out += [drop(new.table, c) for name, c in sorted(before.items()) if after.get(name) != c]
        out += [add(new.table, c, existing=existing) for name, c in sorted(after.items()) if before.get(name) != c]
    return out


def _partition_ops(old: TableSchema, new: TableSchema) -> list[Operation]:
    """Partitions added to, dropped from or re-bounded in a table partitioned the same way (a new bound is
    a drop and an add: PostgreSQL cannot change a partition's bound in place). New partitions are added
    before the index operations, or, when the table also loses a partition, after the drops (their
    bounds may overlap); either way PostgreSQL gives them the parent's indexes."""
    before = {p.name: p for p in old.partition.partitions} if old.partition else {}
    after = {p.name: p for p in new.partition.partitions} if new.partition else {}
    out: list[Operation] = []
    for name, part in sorted(before.items()):
        if after.get(name) != part:
            out.append(ops.drop_partition(new.table, part))
    late = bool(out)  # a new bound may overlap a dropped one: then every partition is added after the drops
    for name, part in sorted(after.items()):
        if before.get(name) != part:
            out.append(msgspec.structs.replace(ops.add_partition(new.table, part), phase=9 if late else 3))
    return out


def _column_extras(table: str, old: ColumnSchema | None, col: ColumnSchema, *, existing: bool,
                   keys: dict[str, tuple[str, ...]]) -> list[Operation]:  # fmt: skip
    """Comment, CHECK and FK operations for a column (``old`` None when the column is new; ``keys``: each
    table's primary-key columns)."""
    out: list[Operation] = []
    old_comment = old.comment if old else None
    if old_comment != col.comment:
        out.append(ops.set_column_comment(table, col.name, old_comment, col.comment))
    old_check = old.check if old else None
    if old_check != col.check:
        if old_check is not None:
            out.append(ops.drop_check(table, col.name, old_check))
        if col.check is not None:
            out.append(ops.add_check(table, col.name, col.check, existing=existing))
    out += _fk_ops(table, col.name, old.foreign_key if old else None, col.foreign_key, existing, keys)
    return out


# -------------------------------------------------------------------------------------- indexes


def _partitions_of(table: str, old: Snapshot, new: Snapshot) -> tuple[str, ...]:
    """The partitions ``table`` has when the index operations run (see ``_partition_ops``): the old ones,
    which are dropped after them, and the new ones unless they are added after the drops; sorted."""
    names = [{p.name: p for p in t.partition.partitions} if (t := snap.models.get(table)) and t.partition else {}
             for snap in (old, new)]  # fmt: skip
    before, after = names
    late = any(after.get(name) != part for name, part in before.items())
    return tuple(sorted(set(before) | (set() if late else set(after))))


def _partitioned(table: str, snapshot: Snapshot) -> bool:
    found = snapshot.models.get(table)
    return found is not None and found.partition is not None


def _indexes(old: Snapshot, new: Snapshot) -> list[Operation]:
    before = {i.name: i for i in expand_column_indexes(old)}
    after = {i.name: i for i in expand_column_indexes(new)}
    out: list[Operation] = []
    for name in sorted(after):
        index = after[name]
        existing = index.table in old.models
        prev = before.get(name)
        if prev == index:
            continue
        if prev is not None and prev.table in new.models:
            dropped = ops.drop_index(prev, partitioned=_partitioned(prev.table, old))
            out.append(msgspec.structs.replace(dropped, phase=5))
        out.append(ops.add_index(index, existing=existing, partitions=_partitions_of(index.table, old, new)))
    for name in sorted(set(before) - set(after)):
        if before[name].table in new.models:
            out.append(ops.drop_index(before[name], partitioned=_partitioned(before[name].table, old)))
    return out


# -------------------------------------------------------------------------------------- views


def _reshaped(old: Snapshot, new: Snapshot) -> set[str]:
    """The tables of ``old`` a view reading them would block the plan on: dropped or renamed, or with a
    column dropped, renamed or retyped (adding a column or an index never touches a view)."""
    out = set()
    for name, table in old.models.items():
        after = new.models.get(name)
        if after is None or any((c := after.column(col.name)) is None or c.sql_type != col.sql_type
                                for col in table.columns):  # fmt: skip
            out.add(name)
    return out


def _query_and_kind(view: ViewSchema) -> ViewSchema:
    """What a view must be dropped, replaced or created again for: all but its indexes and ``with_data``."""
    return msgspec.structs.replace(view, indexes=(), with_data=True)


def _replaceable(old: ViewSchema, new: ViewSchema) -> bool:
    """``CREATE OR REPLACE VIEW`` can turn ``old`` into ``new``: plain views, the old columns first and
    unchanged."""
    return not old.materialized and not new.materialized and new.columns[: len(old.columns)] == old.columns


def _ordered(views: dict[str, ViewSchema], names: set[str]) -> list[str]:
    """``names`` so that a view comes after the views it reads (then by name)."""
    done: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done or name in path:
            return
        for read in sorted(views[name].reads & names):
            visit(read, (*path, name))
        done.append(name)

    for name in sorted(names):
        visit(name, ())
    return done


def _views(old: Snapshot, new: Snapshot) -> list[Operation]:
    """Views created, replaced, dropped, and rebuilt around the table changes that would break them.

    A view whose query or kind changes is replaced in place when ``_replaceable``, else dropped first
    (phase -1) and created last (phase 11); so is every view reading a ``_reshaped`` table or a view
    dropped that way, in dependency order (dropped dependents first, created after what they read). An
    index added to or dropped from a materialized view that stays is its own operation, and so is a change
    of its ``with_data`` (a refresh filling or emptying it)."""
    kept, gone = set(old.views) & set(new.views), set(old.views) - set(new.views)
    changed = {n for n in kept if _query_and_kind(old.views[n]) != _query_and_kind(new.views[n])}
    read = {r for v in old.views.values() for r in v.reads}  # a view others read cannot be dropped on rollback
    replaced = {n for n in changed if _replaceable(old.views[n], new.views[n]) and n not in read}
    reshaped = _reshaped(old, new)
    rebuilt = (changed - replaced) | {n for n in kept if old.views[n].reads & reshaped}
    while more := {n for n in kept - rebuilt if old.views[n].reads & (rebuilt | gone)}:  # readers go first
        rebuilt |= more
    replaced -= rebuilt
    out = [ops.drop_view(old.views[n]) for n in reversed(_ordered(old.views, gone | rebuilt))]
    out += [ops.replace_view(old.views[n], new.views[n]) if n in replaced else ops.create_view(new.views[n])
            for n in _ordered(new.views, (set(new.views) - kept) | rebuilt | replaced)]  # fmt: skip
    for name in sorted(kept - rebuilt):
        before = {i.name: i for i in old.views[name].indexes}
        after = {i.name: i for i in new.views[name].indexes}
        out += [ops.view_index(i, add=False) for n, i in sorted(before.items()) if after.get(n) != i]
        out += [ops.view_index(i, add=True) for n, i in sorted(after.items()) if before.get(n) != i]
        if old.views[name].with_data != new.views[name].with_data:
            out.append(ops.refresh_view(new.views[name]))
    return out
