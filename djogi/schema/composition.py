"""The declaration checks of composed behaviours: actor fields, numbering within a parent, idempotency keys
and soft delete (the run-time side is ``djogi.executor.writes``, behind the row verbs).

Pure: reads the built fields and the model options; every declaration the writes could not honour exactly
raises ``ModelDefinitionError`` naming the model and field.
"""

from __future__ import annotations

from collections.abc import Sequence

from djogi.errors import ModelDefinitionError
from djogi.schema.descriptors import FieldDescriptor
from djogi.schema.fields import Index

__all__ = ["check_composition"]

_USER_ID_KINDS = ("str", "int", "uuid", "heerid")
_KEY_KINDS = ("str", "uuid")


def check_composition(
    model: str, fields: Sequence[FieldDescriptor], soft_delete: object
) -> tuple[str | None, tuple[Index, ...]]:
    """The checked ``soft_delete=`` field name and the unique indexes numbering needs (``(parent, number)``,
    by field name).

    Refused: an actor field that cannot hold a user id (str, int, UUID) or is the key, two actor fields of
    one kind; a numbered field that is not a non-optional int filled by nobody else or whose parent is not
    another field; more than one idempotency key, or one that is not a str/UUID; a ``soft_delete`` naming
    no optional datetime field."""
    by_name = {fd.name: fd for fd in fields}
    for kind in ("created", "updated"):
        if sum(fd.actor == kind for fd in fields) > 1:
            raise ModelDefinitionError(f"{model}: at most one field may be actor={kind!r}")
    indexes: list[Index] = []
    for fd in fields:
        where = f"{model}.{fd.name}"
        if fd.actor is not None and (fd.value_kind not in _USER_ID_KINDS or fd.kind == "pk"):
            raise ModelDefinitionError(f"{where}: actor={fd.actor!r} fills a user id: declare a str, int or UUID "
                                       f"field that is not the key, not {fd.sql_type}")  # fmt: skip
        if fd.sequence_within is not None:
            parent = by_name.get(fd.sequence_within)
            if parent is None or parent is fd:
                raise ModelDefinitionError(f"{where}: sequence_within={fd.sequence_within!r} names no other field "
                                           f"of {model}")  # fmt: skip
            if fd.value_kind != "int" or fd.nullable or fd.db_filled or fd.kind == "pk":
                raise ModelDefinitionError(f"{where}: sequence_within numbers a non-optional int field that is not "
                                           "the key and has no db_default/identity/sequence")  # fmt: skip
            indexes.append(Index(columns=(parent.name, fd.name), unique=True))
    keys = [fd for fd in fields if fd.idempotency_key]
    if len(keys) > 1:
        raise ModelDefinitionError(f"{model}: one field at most is the idempotency key, not {[k.name for k in keys]}")
    if keys and (keys[0].value_kind not in _KEY_KINDS or keys[0].nullable):
        raise ModelDefinitionError(f"{model}.{keys[0].name}: an idempotency key is a non-optional str or UUID field")
    if soft_delete is None:
        return None, tuple(indexes)
    marker = by_name.get(soft_delete) if isinstance(soft_delete, str) else None
    if not isinstance(soft_delete, str) or marker is None or marker.kind != "data" or marker.value_kind != "datetime" \
            or not marker.nullable:
        raise ModelDefinitionError(
            f"{model}: soft_delete={soft_delete!r} names the field that marks a row deleted: declare "
            "deleted_at: Field[datetime | None] = field(default=None) and pass soft_delete=\"deleted_at\""
        )
    return soft_delete, tuple(indexes)
