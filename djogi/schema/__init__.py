"""The schema layer: how models are declared (fields, options, indexes), the descriptors derived from
them, and the registry of declared models.

It imports no query algebra, codecs, executor, migrations or CLI: everything above reads models through
``descriptor(model)`` / ``models()`` and knows model classes as ``ModelBase`` subclasses. The public
``djogi.Model`` (``djogi/model.py``) sits above the algebra and adds class-level column references.
"""

from djogi.schema.audit import Audit
from djogi.schema.base import ModelBase
from djogi.schema.descriptors import FieldDescriptor, ModelDescriptor, ValueKind
from djogi.schema.fields import (
    Check,
    CompositeForeignKey,
    Domain,
    FieldSpec,
    Index,
    IndexColumn,
    TsVectorOf,
    field,
    tsvector_of,
)
from djogi.schema.partitions import Partition, PartitionBy
from djogi.schema.registry import descriptor, models, pending, registered, registry_scope
from djogi.schema.relations import ForeignKey, OneToOne

__all__ = [
    "Audit",
    "Check",
    "CompositeForeignKey",
    "Domain",
    "FieldDescriptor",
    "FieldSpec",
    "ForeignKey",
    "Index",
    "IndexColumn",
    "ModelBase",
    "ModelDescriptor",
    "OneToOne",
    "Partition",
    "PartitionBy",
    "TsVectorOf",
    "ValueKind",
    "descriptor",
    "field",
    "models",
    "pending",
    "registered",
    "registry_scope",
    "tsvector_of",
]
