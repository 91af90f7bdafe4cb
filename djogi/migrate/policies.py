"""Row-level security operations for tenant-keyed tables, and how the live catalog is read back (pure).

A table whose snapshot has ``tenant_key`` (and ``rls_enabled``) gets::

    ALTER TABLE "t" ENABLE ROW LEVEL SECURITY;
    ALTER TABLE "t" FORCE ROW LEVEL SECURITY;
    CREATE POLICY "tenant_isolation" ON "t" USING (<expr>) WITH CHECK (<expr>);

with ``<expr>`` from ``djogi.tenancy.policy_expression``. Removing the option drops the policy and
disables row-level security; changing the key column (or its type) drops the policy before the column
changes and creates it again afterwards (PostgreSQL refuses to alter a column a policy uses).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from djogi.identifiers import quote_ident as q
from djogi.migrate.operations import Operation, Step
from djogi.migrate.snapshot import TableSchema
from djogi.tenancy import POLICY_NAME, policy_expression

__all__ = ["LivePolicy", "live_tenant_key", "tenancy_operations"]

_BEFORE_COLUMNS = 1  # after renames, before column changes (phase 3) and drops (phases 7-9)
_AFTER_COLUMNS = 4  # after new tables and columns, before indexes (phase 5)


def _tenancy(table: TableSchema) -> tuple[str, str] | None:
    """``(column, sql_type)`` of a tenant-keyed table, else None."""
    if table.tenant_key is None:
        return None
    col = table.column(table.tenant_key)
    return None if col is None else (col.name, col.sql_type)


def _policy_sql(table: str, column: str, sql_type: str) -> str:
    expr = policy_expression(column, sql_type)
    return f"CREATE POLICY {q(POLICY_NAME)} ON {q(table)} USING {expr} WITH CHECK {expr};"


def _drop_policy_sql(table: str) -> str:
    return f"DROP POLICY {q(POLICY_NAME)} ON {q(table)};"


def _switch_sql(table: str, on: bool) -> str:
    if on:
        return f"ALTER TABLE {q(table)} ENABLE ROW LEVEL SECURITY;\nALTER TABLE {q(table)} FORCE ROW LEVEL SECURITY;"
    return f"ALTER TABLE {q(table)} NO FORCE ROW LEVEL SECURITY;\nALTER TABLE {q(table)} DISABLE ROW LEVEL SECURITY;"


def enable_tenancy(table: str, column: str, sql_type: str) -> Operation:
    """``EnableTenancy``: enable and force row-level security, create the isolation policy."""
    label = f"EnableTenancy {table}.{column}"
    up = f"{_switch_sql(table, True)}\n{_policy_sql(table, column, sql_type)}"
    down = f"{_drop_policy_sql(table)}\n{_switch_sql(table, False)}"
    return Operation(kind="EnableTenancy", label=label, phase=_AFTER_COLUMNS,
                     steps=(Step(label=label, up=up, down=down),))  # fmt: skip


def disable_tenancy(table: str, column: str, sql_type: str) -> Operation:
    """``DisableTenancy``: drop the isolation policy, disable row-level security (every row visible again)."""
    label = f"DisableTenancy {table}.{column}"
    up = f"{_drop_policy_sql(table)}\n{_switch_sql(table, False)}"
    down = f"{_switch_sql(table, True)}\n{_policy_sql(table, column, sql_type)}"
    return Operation(kind="DisableTenancy", label=label, phase=_BEFORE_COLUMNS, effect="reversible",
                     steps=(Step(label=label, up=up, down=down),))  # fmt: skip


def _rekey(table: str, old: tuple[str, str], new: tuple[str, str]) -> list[Operation]:
    """Drop the policy on the old key before the columns change, create it on the new key afterwards."""
    drop = Operation(kind="DropTenantPolicy", label=f"DropTenantPolicy {table}.{old[0]}", phase=_BEFORE_COLUMNS,
                     effect="reversible", steps=(Step(label=f"DropTenantPolicy {table}.{old[0]}",
                                                      up=_drop_policy_sql(table), down=_policy_sql(table, *old)),))
    create = Operation(kind="CreateTenantPolicy", label=f"CreateTenantPolicy {table}.{new[0]}", phase=_AFTER_COLUMNS,
                       effect="reversible", steps=(Step(label=f"CreateTenantPolicy {table}.{new[0]}",
                                                        up=_policy_sql(table, *new), down=_drop_policy_sql(table)),))
    return [drop, create]  # fmt: skip


def tenancy_operations(table: str, old: TableSchema | None, new: TableSchema | None) -> list[Operation]:
    """The operations taking ``table``'s row-level security from ``old`` to ``new`` (None: no table; a dropped
    table's policy is dropped first, so that rolling the drop back restores it)."""
    before = _tenancy(old) if old is not None else None
    after = _tenancy(new) if new is not None else None
    if before == after:
        return []
    if before is None:
        assert after is not None
        return [enable_tenancy(table, *after)]
    if after is None:
        return [disable_tenancy(table, *before)]
    return _rekey(table, before, after)


class LivePolicy(msgspec.Struct, frozen=True):
    """One row of ``pg_policy``: name, command (``*`` for ALL), permissive, role OIDs (``[0]``: PUBLIC),
    and the deparsed ``USING`` and ``WITH CHECK`` expressions."""

    name: str
    command: str
    permissive: bool
    roles: tuple[int, ...]
    using: str | None
    check: str | None


def live_tenant_key(
    columns: Sequence[tuple[str, str]], enabled: bool, forced: bool, policies: Sequence[LivePolicy]
) -> str | None:
    """The tenant column of a live table (``columns``: name and canonical type): the one whose isolation
    policy is exactly what a migration creates (sole policy, for ALL, PUBLIC, permissive) on a table with
    row-level security enabled and forced; None when anything differs (a missing or altered policy)."""
    if not (enabled and forced) or len(policies) != 1:
        return None
    policy = policies[0]
    if (policy.name, policy.command, policy.permissive, policy.roles) != (POLICY_NAME, "*", True, (0,)):
        return None
    for name, sql_type in columns:
        try:
            expected = policy_expression(name, sql_type)
        except KeyError:
            continue
        if policy.using == expected and policy.check == expected:
            return name
    return None
