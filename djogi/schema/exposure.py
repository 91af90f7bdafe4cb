"""Checking a field's ``expose=`` and ``protected=`` options when its model is declared.

Pure: ``ModelDefinitionError`` naming ``Model.field`` for every declaration djogi could not honour.
"""

from __future__ import annotations

from typing import Any, cast, get_args

from djogi.errors import ModelDefinitionError
from djogi.protect import AUDIENCES, Audience, Protected, RelationForm
from djogi.schema.descriptors import FieldDescriptor
from djogi.schema.fields import FieldSpec

__all__ = ["ENCRYPTED_SQL_TYPE", "exposure", "protected_fields", "protection"]

ENCRYPTED_SQL_TYPE = "BYTEA"
_FORMS: tuple[RelationForm, ...] = get_args(RelationForm)
_HASHABLE_KINDS = ("heerid", "int", "uuid")


def _fail(where: tuple[str, str], problem: str) -> ModelDefinitionError:
    return ModelDefinitionError(f"{where[0]}.{where[1]}: {problem}")


def exposure(
    where: tuple[str, str], spec: FieldSpec, *, relation: bool, key: bool
) -> tuple[tuple[Audience, RelationForm], ...]:
    """``spec.expose`` as ``(audience, form)`` pairs (a bare audience: ``"id"``, the column's value).

    Refuses an unknown audience or form, an audience given twice, a form other than ``"id"`` on a
    field that is not a relation, and ``expose`` on a key field (keys are always exposed).
    """
    declared: Any = spec.expose
    if isinstance(declared, str):
        declared = (declared,)
    if not isinstance(declared, tuple | list):
        raise _fail(where, f"expose={declared!r}: give a tuple of audiences, e.g. expose=('public', 'admin')")
    if declared and key:
        raise _fail(where, "a key field is exposed to every audience already; remove expose=")
    pairs: list[tuple[Audience, RelationForm]] = []
    items = tuple(cast("tuple[object, ...]", declared))
    for item in items:
        parts: tuple[object, ...] = (item, "id") if isinstance(item, str) else (*_parts(item), None, None)
        audience, form = parts[0], parts[1]
        if audience not in AUDIENCES:
            raise _fail(where, f"expose: {audience!r} is not an audience; the audiences are {AUDIENCES}")
        if form not in _FORMS:
            raise _fail(where, f"expose: {item!r}: a relation's form is one of {_FORMS}")
        if form != "id" and not relation:
            raise _fail(where, f"expose: {item!r}: only a ForeignKey/OneToOne field takes a form; expose {audience!r}")
        if any(a == audience for a, _ in pairs):
            raise _fail(where, f"expose: audience {audience!r} is given twice")
        pairs.append((audience, form))
    return tuple(pairs)


def _parts(item: object) -> tuple[object, ...]:
    return tuple(cast("tuple[object, ...]", item)) if isinstance(item, tuple | list) else (item,)


def protection(
    where: tuple[str, str], spec: FieldSpec, *, value_kind: str, key: bool, relation: bool
) -> Protected | None:
    """``spec.protected``, checked against the field: encryption needs a ``str`` field (``BYTEA`` column)
    that is not a key, unique, indexed, length-limited, collated or checked (the ciphertext is random and
    opaque to the database); ``hash_id`` needs a key or relation field; a key takes no redaction."""
    protected = spec.protected
    if protected is None:
        return None
    if type(protected) is not Protected:  # checked at run time: declarations are not always type-checked
        raise _fail(where, "protected= takes djogi.protect(...)")
    if key and protected.redactions != frozenset(("none",)):
        raise _fail(where, "a key field is shown to every audience as it is; it takes no redaction")
    if "hash_id" in protected.redactions and not (relation or value_kind in _HASHABLE_KINDS):
        raise _fail(where, 'redaction="hash_id" applies to key-like fields (ids, int, UUID, relations)')
    if protected.encrypt:
        if value_kind != "str" or relation:
            raise _fail(where, "encrypt=True applies to str fields (stored as BYTEA ciphertext)")
        clashes = [
            name for name, given in (
                ("primary_key", spec.primary_key), ("unique", spec.unique), ("index", spec.index),
                ("max_length", spec.max_length is not None), ("collation", spec.collation is not None),
                ("check", spec.check is not None), ("db_default", spec.db_default is not None),
                ("sql_type", spec.sql_type is not None),
            ) if given
        ]  # fmt: skip
        if clashes:
            raise _fail(
                where,
                f"encrypt=True cannot be combined with {', '.join(clashes)}: the column holds random ciphertext "
                "the database cannot compare, index or check",
            )
    return protected


def protected_fields(fields: tuple[FieldDescriptor, ...]) -> frozenset[str]:
    """The names of ``fields`` declared protected above sensitivity ``"none"``: never shown in a ``repr``."""
    return frozenset(fd.name for fd in fields if fd.protected is not None and fd.protected.sensitivity != "none")
