"""Tenancy through row-level security: the names and SQL every layer agrees on (pure).

A model declared with ``tenant_key="tenant_id"`` gets, through its migration, ``ENABLE`` and ``FORCE ROW
LEVEL SECURITY`` and one policy, ``tenant_isolation``, whose ``USING`` and ``WITH CHECK`` compare the
tenant column with the transaction-local setting ``djogi.tenant``::

    (tenant_id = (NULLIF(current_setting('djogi.tenant'::text, true), ''::text))::bigint)

The expression is written exactly as PostgreSQL deparses it, so ``verify`` recognises the live policy by
string equality. An unset or empty setting is NULL, the comparison is never true: no tenant, no rows,
no writes (fail closed). The executor sets the setting per transaction with ``set_config(..., true)``.

Superusers and roles with ``BYPASSRLS`` ignore every policy, so the application connects as a plain
role (``app_role_sql``); ``BYPASS_ROLE`` is the ``BYPASSRLS`` role the explicit bypass switches to.
"""

from __future__ import annotations

from typing import Final

from pglast.stream import maybe_double_quote_name

from djogi.identifiers import quote_ident

__all__ = [
    "APP_ROLE", "BYPASS_ROLE", "POLICY_NAME", "SET_ACTOR_SQL",
    "SET_SCOPE_SQL", "SET_TENANT_SQL", "TENANT_SETTING", "app_role_sql",
    "create_roles_sql", "current_tenant", "key_types", "policy_expression",
]  # fmt: skip

TENANT_SETTING: Final = "djogi.tenant"
"""The transaction-local setting the isolation policy reads."""
POLICY_NAME: Final = "tenant_isolation"
"""The name of the isolation policy on each tenant-keyed table."""
APP_ROLE: Final = "djogi_app"
"""The application role the embedded server and the test plugin set up (``EmbeddedServer.app_url``)."""
BYPASS_ROLE: Final = "djogi_bypass"
"""The ``BYPASSRLS`` role ``Database.insecurely()`` switches to (``SET LOCAL ROLE``) by default."""
SET_TENANT_SQL: Final = "SELECT set_config('djogi.tenant', $1, true)"
"""Sets the tenant (``''`` for none) for the rest of the transaction."""
SET_ACTOR_SQL: Final = "SELECT set_config('djogi.actor', $1, true)"
"""Sets who acts (``''`` for none) for the rest of the transaction (``djogi.auth.ACTOR_SETTING``)."""
SET_SCOPE_SQL: Final = "SELECT set_config('djogi.tenant', $1, true), set_config('role', $2, true)"
"""Sets the tenant (``''`` for none) and the role (``'none'``: the session's own) for the transaction."""

# The SQL types a tenant column may have, as PostgreSQL deparses the cast to them (TEXT needs none).
_CASTS: Final[dict[str, str | None]] = {
    "BIGINT": "bigint", "INTEGER": "integer", "SMALLINT": "smallint", "UUID": "uuid", "TEXT": None,
}  # fmt: skip


def key_types() -> tuple[str, ...]:
    """The canonical SQL types a tenant column may have."""
    return tuple(_CASTS)


def policy_expression(column: str, sql_type: str) -> str:
    """The policy's ``USING`` / ``WITH CHECK`` expression for ``column`` of ``sql_type`` (one of
    ``key_types()``; KeyError otherwise), spelled as ``pg_get_expr`` prints it."""
    setting = f"NULLIF(current_setting('{TENANT_SETTING}'::text, true), ''::text)"
    cast = _CASTS[sql_type]
    value = setting if cast is None else f"({setting})::{cast}"
    return f"({maybe_double_quote_name(column)} = {value})"


def current_tenant(sql_type: str = "BIGINT") -> str:
    """A column default filling the tenant key from the transaction's tenant (``field(db_default=
    current_tenant())``), so rows created under a tenant need not spell it out: ``NULLIF(current_setting(
    'djogi.tenant', true), '')::bigint``. ``sql_type`` is one of ``key_types()`` (KeyError otherwise)."""
    cast = _CASTS[sql_type]
    value = f"NULLIF(current_setting('{TENANT_SETTING}', true), '')"
    return value if cast is None else f"{value}::{cast}"


def app_role_sql(role: str, *, bypass_role: str = BYPASS_ROLE, owner: str, schema: str = "public") -> list[str]:
    """Statements (run by ``owner``, a superuser or the schema owner, in the application's database) that
    let the login role ``role`` read and write every table ``owner`` has made or will make in ``schema``,
    without bypassing row-level security; ``bypass_role`` (``NOLOGIN BYPASSRLS``, same rights) is the role
    ``role`` may ``SET ROLE`` to for the explicit bypass. Roles are per cluster: create them once
    (``CREATE ROLE``, see ``docs/multi-tenancy.md``); these grants are per database."""
    both = f"{quote_ident(role)}, {quote_ident(bypass_role)}"
    where = quote_ident(schema)
    rights = (
        ("SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES", "TABLES"),
        ("USAGE, SELECT, UPDATE", "SEQUENCES"),
        ("EXECUTE", "FUNCTIONS"),
    )
    out = [f"GRANT USAGE ON SCHEMA {where} TO {both}"]
    for privileges, kind in rights:
        out.append(f"GRANT {privileges} ON ALL {kind} IN SCHEMA {where} TO {both}")
        out.append(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(owner)} IN SCHEMA {where} GRANT {privileges} ON {kind} "
            f"TO {both}"
        )
    return out


def create_roles_sql(role: str, *, bypass_role: str = BYPASS_ROLE) -> list[str]:
    """``CREATE ROLE`` statements (once per cluster, by a superuser) for the application's login role
    (``NOSUPERUSER NOBYPASSRLS``: policies apply to it) and the bypass role it may switch to; existing
    roles are kept."""
    return [
        f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_lit(name)}) THEN "
        f"CREATE ROLE {quote_ident(name)} {attributes}; END IF; END$$"
        for name, attributes in ((role, "LOGIN NOSUPERUSER NOBYPASSRLS"), (bypass_role, "NOLOGIN BYPASSRLS"))
    ] + [f"GRANT {quote_ident(bypass_role)} TO {quote_ident(role)} WITH INHERIT FALSE, SET TRUE"]


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
