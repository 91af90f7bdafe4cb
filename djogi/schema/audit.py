"""The ``audit=`` model option: which models keep an audit trail, and which fields stay out of it (pure).

``audit=True`` records every insert, update and delete of the model's table (a database trigger, so writes
that bypass djogi are recorded too; see ``docs/audit.md``); ``audit=Audit(exclude=("password",))`` leaves
the named fields out of the recorded row images and diffs (a password hash, a token).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec

from djogi.errors import ModelDefinitionError

if TYPE_CHECKING:
    from djogi.schema.descriptors import FieldDescriptor

__all__ = ["Audit", "audit_option"]


class Audit(msgspec.Struct, frozen=True):
    """The value of ``audit=``: ``exclude`` names the fields whose values are never recorded."""

    exclude: tuple[str, ...] = ()


def audit_option(
    model: str, value: object, fields: Sequence[FieldDescriptor], key: Sequence[str], tenant_key: str | None
) -> Audit | None:
    """``audit=`` checked: None (not audited), or an ``Audit`` whose ``exclude`` names data or relation
    fields of the model, sorted. ModelDefinitionError for another value, an unknown field, or a key or
    tenant-key field (the trail is kept per row and per tenant, so those are always recorded)."""
    if value is None or value is False:
        return None
    if value is True:
        return Audit()
    if not isinstance(value, Audit):
        raise ModelDefinitionError(f"{model}: audit must be True or djogi.Audit(exclude=(...)), not {value!r}")
    if isinstance(value.exclude, str) or not all(isinstance(name, str) for name in value.exclude):
        raise ModelDefinitionError(f"{model}: Audit(exclude=...) takes a tuple of field names, not "
                                   f"{value.exclude!r}")  # fmt: skip
    names = {fd.name: fd for fd in fields}
    for name in value.exclude:
        fd = names.get(name)
        if fd is None:
            known = ", ".join(fd.name for fd in fields)
            raise ModelDefinitionError(f"{model}: Audit(exclude=...) names {name!r}, which is no field of the model "
                                       f"(fields: {known})")  # fmt: skip
        if name in key or name == tenant_key:
            role = "tenant key" if name == tenant_key else "primary key"
            raise ModelDefinitionError(f"{model}.{name}: the {role} cannot be excluded from the audit trail (each "
                                       "entry names its row and tenant by it)")  # fmt: skip
    return Audit(exclude=tuple(sorted(set(value.exclude))))
