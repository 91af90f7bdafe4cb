"""djogi: a model-first, PostgreSQL-only data layer. This module re-exports the public surface."""

from djogi.algebra.expr import param
from djogi.auth import AuthContext, Authenticator
from djogi.errors import (
    ArgumentTypeError,
    AuthError,
    DjogiError,
    IntegrityError,
    LockConflict,
    MultipleObjectsReturned,
    NotFound,
    NotPortable,
    StaleObject,
    TenantRequired,
    ValidationError,
)
from djogi.executor import Database, connect
from djogi.fields import Field, ForeignKey, OneToOne, Reverse, field
from djogi.loop import run
from djogi.model import (
    Audit,
    Check,
    CompositeForeignKey,
    Domain,
    Index,
    IndexColumn,
    Model,
    descriptor,
    models,
    sql,
)
from djogi.passwords import PasswordHash
from djogi.schema import Partition, PartitionBy, tsvector_of
from djogi.types import (
    BigInt,
    Enum,
    HeerId,
    HeerIdDesc,
    Integer,
    Jsonb,
    NaiveDateTime,
    RanjId,
    RanjIdDesc,
    Real,
    Serial,
    SmallInt,
    SqlType,
    TsLexeme,
    TsVector,
    Vector,
    custom_pk,
)

__all__ = [
    "ArgumentTypeError",
    "Audit",
    "AuthContext",
    "AuthError",
    "Authenticator",
    "BigInt",
    "Check",
    "CompositeForeignKey",
    "Database",
    "DjogiError",
    "Domain",
    "Enum",
    "Field",
    "ForeignKey",
    "HeerId",
    "HeerIdDesc",
    "Index",
    "IndexColumn",
    "Integer",
    "IntegrityError",
    "Jsonb",
    "LockConflict",
    "Model",
    "MultipleObjectsReturned",
    "NaiveDateTime",
    "NotFound",
    "NotPortable",
    "OneToOne",
    "Partition",
    "PartitionBy",
    "PasswordHash",
    "RanjId",
    "RanjIdDesc",
    "Real",
    "Reverse",
    "Serial",
    "SmallInt",
    "SqlType",
    "StaleObject",
    "TenantRequired",
    "TsLexeme",
    "TsVector",
    "ValidationError",
    "Vector",
    "connect",
    "custom_pk",
    "descriptor",
    "field",
    "models",
    "param",
    "run",
    "sql",
    "tsvector_of",
]

# --- relations (issue 7); visages, protected fields and composition (issue 22)
from djogi.algebra.relations import m2m, prefetch, reverse, select_related
from djogi.computed import Computed, computed
from djogi.errors import DerivedParityError, EncryptedFieldError, IdempotencyConflict, KeyRingError, VisageError
from djogi.executor import add_links, remove_links
from djogi.loaded import Loaded, RelationNotLoaded
from djogi.protect import Audience, Protected, protect
from djogi.proxy import Proxy, proxy
from djogi.softdelete import deleted, not_deleted, soft_delete
from djogi.visages import Visage, check_parity, derived, to_visage, visage, visage_query

__all__ += ["Loaded", "RelationNotLoaded", "add_links", "m2m", "prefetch", "remove_links", "reverse", "select_related"]
__all__ += [
    "Audience", "DerivedParityError", "EncryptedFieldError", "KeyRingError", "Protected", "Visage", "VisageError",
    "check_parity", "derived", "protect", "to_visage", "visage", "visage_query",
]  # fmt: skip
__all__ += ["Computed", "IdempotencyConflict", "Proxy", "computed", "deleted", "not_deleted", "proxy", "soft_delete"]
