"""The auth substrate: who is acting, for which tenant, with which scopes (pure).

``AuthContext`` is an immutable value; attach it to a database handle (``db.with_auth(ctx)``) or to the
open transaction (``db.set_auth(ctx)``) and every statement of a tenant-keyed model runs with its tenant
(``djogi.tenancy``). An ``Authenticator`` turns a request's token into an ``AuthContext``; djogi ships
the protocol, not a token format.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from djogi.errors import ValidationError

__all__ = ["ACTOR_SETTING", "AuthContext", "Authenticator", "TenantId"]

ACTOR_SETTING = "djogi.actor"
"""The transaction-local setting holding who acts (``AuthContext.actor_setting``); event rows record it."""

TenantId = int | str | uuid.UUID
"""What a tenant key holds: the tenant column's value (``BIGINT``/``INTEGER``, ``TEXT`` or ``UUID``)."""


@dataclass(frozen=True, slots=True)
class AuthContext:
    """Who is acting: ``user_id``, ``tenant_id`` (None: no tenant), ``scopes`` and extra ``claims``.

    Immutable: ``with_tenant`` / ``with_scopes`` return new values. Raises ValidationError for a tenant that
    is not an int, a non-empty str or a UUID (a bool is not a tenant)."""

    user_id: int | str | uuid.UUID | None = None
    tenant_id: TenantId | None = None
    scopes: frozenset[str] = frozenset()
    claims: Mapping[str, object] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        tenant = self.tenant_id
        if tenant is not None and (isinstance(tenant, bool) or not isinstance(tenant, int | str | uuid.UUID)):
            raise ValidationError(f"AuthContext.tenant_id must be an int, a str or a UUID, not {tenant!r}")
        if tenant == "":
            raise ValidationError("AuthContext.tenant_id cannot be the empty string; use None for no tenant")
        object.__setattr__(self, "scopes", frozenset(self.scopes))
        object.__setattr__(self, "claims", MappingProxyType(dict(self.claims)))

    def with_tenant(self, tenant_id: TenantId | None) -> AuthContext:
        """This context for ``tenant_id`` (None: no tenant)."""
        return replace(self, tenant_id=tenant_id)

    def with_scopes(self, scopes: Iterable[str]) -> AuthContext:
        """This context with ``scopes`` in place of its own."""
        return replace(self, scopes=frozenset(scopes))

    def has_scope(self, scope: str) -> bool:
        """Whether ``scope`` was granted."""
        return scope in self.scopes

    @property
    def tenant_setting(self) -> str:
        """The tenant as the text ``djogi.tenant`` is set to (``''`` for none: the policy sees NULL)."""
        return "" if self.tenant_id is None else str(self.tenant_id)

    @property
    def actor_setting(self) -> str:
        """The user as the text ``djogi.actor`` is set to (``''`` for none: recorded as NULL)."""
        return "" if self.user_id is None else str(self.user_id)


@runtime_checkable
class Authenticator(Protocol):
    """Turns a token (a session cookie, a bearer token: the format is the implementation's) into an
    ``AuthContext``; raises ``djogi.errors.AuthError`` for an invalid, expired or missing token."""

    async def authenticate(self, token: str) -> AuthContext:
        """The auth context ``token`` stands for."""
        ...
