"""The declaration vocabulary: ``Field[T]``, ``ForeignKey[...]``, ``OneToOne[...]``, ``Reverse[...]`` and
``field(...)``, typed for pyright and mypy without a plugin.

For type checkers each is a descriptor (the ``TYPE_CHECKING`` branch): on the class ``Book.price`` is a
``Column[Book, Decimal]``, on an instance ``book.price`` is a ``Decimal``, and the constructor parameter
takes the ``__set__`` type (PEP 681). A relation holds its target's key type (``Model[K]``'s ``K``) and its
class attribute is a ``ForeignColumn[Book, HeerIdDesc, Author]``. At run time ``Field[T]`` is
``Annotated[T, FIELD]`` and the relations are ``djogi.schema.relations``'s markers, so msgspec and the
schema see the value types (``djogi.schema.declare`` reads them).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypedDict, TypeVar, overload

import msgspec

from djogi.schema import ModelBase
from djogi.schema.declare import FIELD, specifier
from djogi.schema.relations import ForeignKey as _RunForeignKey
from djogi.schema.relations import OneToOne as _RunOneToOne
from djogi.types import HeerId, HeerIdDesc, RanjId, RanjIdDesc

if TYPE_CHECKING:
    import datetime as dt
    from typing import Never, Unpack

    from msgspec import UnsetType
    from typing_extensions import TypeVar as DefaultTypeVar

    from djogi.algebra.expr import Column, ForeignColumn
    from djogi.algebra.query import Select
    from djogi.algebra.relations import Related
    from djogi.protect import Exposure, Protected
    from djogi.schema.fields import ActorStamp, Identity, IndexMethod, Timestamp, TsVectorOf
    from djogi.types import OnDelete

__all__ = ["AnyKey", "Field", "FieldOptions", "ForeignKey", "Keyed", "OneToOne", "Reverse", "field"]

T = TypeVar("T")
O = TypeVar("O")  # noqa: E741  (the owning model class)
KK = TypeVar("KK")
B = TypeVar("B", bound=ModelBase)
TM = TypeVar("TM", covariant=True)  # a relation's target model, maybe ``| None``

if TYPE_CHECKING:
    K = DefaultTypeVar("K", default=HeerIdDesc)
else:
    K = TypeVar("K")

AnyKey = HeerIdDesc | HeerId | RanjId | RanjIdDesc | int | uuid.UUID
"""What a key parameter accepts: any kind of key (the target's exact kind is checked when the row is written)."""


class Keyed(Generic[K]):
    """Carries a model's key type: ``Model[K]`` is ``Keyed[K]``; ``HeerIdDesc`` unless the model says otherwise."""

    __slots__ = ()


if TYPE_CHECKING:
    _Owner = TypeVar("_Owner")
    _Model = TypeVar("_Model", bound=ModelBase)
    _OwnerHD = TypeVar("_OwnerHD", bound=Keyed[HeerIdDesc])
    _OwnerH = TypeVar("_OwnerH", bound=Keyed[HeerId])
    _OwnerR = TypeVar("_OwnerR", bound=Keyed[RanjId])
    _OwnerRD = TypeVar("_OwnerRD", bound=Keyed[RanjIdDesc])
    _OwnerI = TypeVar("_OwnerI", bound=Keyed[int])
    _OwnerU = TypeVar("_OwnerU", bound=Keyed[uuid.UUID])

    class Field(Generic[T]):
        """``title: Field[str]``: ``Column[Owner, str]`` on the class, ``str`` on an instance."""

        @overload
        def __get__(self, obj: None, owner: type[O]) -> Column[O, T]: ...
        @overload
        def __get__(self, obj: object, owner: type[Any]) -> T: ...
        def __get__(self, obj: object, owner: type[Any]) -> Any: ...
        def __set__(self, obj: Never, value: T) -> None: ...  # Never: only the constructor sets fields

    class Key:
        """A model's ``id``: ``Column[Owner, K]`` on the class, the key ``K`` on an instance."""

        @overload
        def __get__(self, obj: None, owner: type[_OwnerHD]) -> Column[_OwnerHD, HeerIdDesc]: ...
        @overload
        def __get__(self, obj: None, owner: type[_OwnerH]) -> Column[_OwnerH, HeerId]: ...
        @overload
        def __get__(self, obj: None, owner: type[_OwnerR]) -> Column[_OwnerR, RanjId]: ...
        @overload
        def __get__(self, obj: None, owner: type[_OwnerRD]) -> Column[_OwnerRD, RanjIdDesc]: ...
        @overload
        def __get__(self, obj: None, owner: type[_OwnerI]) -> Column[_OwnerI, int]: ...
        @overload
        def __get__(self, obj: None, owner: type[_OwnerU]) -> Column[_OwnerU, uuid.UUID]: ...
        @overload
        def __get__(self, obj: None, owner: type[_Owner]) -> Column[_Owner, Any]: ...
        @overload
        def __get__(self, obj: Keyed[KK], owner: type[Any]) -> KK: ...
        def __get__(self, obj: object, owner: type[Any]) -> Any: ...
        def __set__(self, obj: Never, value: AnyKey | UnsetType) -> None: ...

    class Stamp:
        """``created_at`` / ``updated_at``: filled by the database."""

        @overload
        def __get__(self, obj: None, owner: type[O]) -> Column[O, dt.datetime]: ...
        @overload
        def __get__(self, obj: object, owner: type[Any]) -> dt.datetime: ...
        def __get__(self, obj: object, owner: type[Any]) -> Any: ...
        def __set__(self, obj: Never, value: dt.datetime | UnsetType) -> None: ...

    class ForeignKey(Generic[TM]):
        """``author: ForeignKey[Author]`` (or ``ForeignKey[Author | None]``): the target's key on an instance,
        ``ForeignColumn[Owner, Key, Author]`` on the class; the constructor takes a key."""

        @overload
        def __get__(self: ForeignKey[Keyed[KK]], obj: None, owner: type[O]) -> ForeignColumn[O, KK, TM]: ...
        @overload
        def __get__(
            self: ForeignKey[Keyed[KK] | None], obj: None, owner: type[O]
        ) -> ForeignColumn[O, KK | None, TM]: ...
        @overload
        def __get__(self: ForeignKey[Keyed[KK]], obj: object, owner: type[Any]) -> KK: ...
        @overload
        def __get__(self: ForeignKey[Keyed[KK] | None], obj: object, owner: type[Any]) -> KK | None: ...
        def __get__(self, obj: object, owner: type[Any]) -> Any: ...
        def __set__(self, obj: Never, value: AnyKey | None) -> None: ...

    OneToOne = ForeignKey

    class Reverse(Generic[B]):
        """``books: ClassVar[Reverse[Book]]`` on the target of ``Book.author``: ``Author.books`` is a
        ``Related[Author, Book]`` (checked against ``Book``'s relations when both are declared)."""

        def __get__(self, obj: None, owner: type[_Model]) -> Related[_Model, B]: ...

    class Objects:
        """``Book.objects``: ``Select[Book]``."""

        def __get__(self, obj: None, owner: type[O]) -> Select[O]: ...


else:

    class Field:
        """``title: Field[str]``: at run time ``Annotated[str, FIELD]``."""

        def __class_getitem__(cls, tp: object) -> object:
            return Annotated[tp, FIELD]

    ForeignKey = _RunForeignKey
    OneToOne = _RunOneToOne

    class Reverse(Generic[B]):
        """``books: ClassVar[Reverse[Book]]``: declares the reverse accessor ``Author.books`` for type
        checkers; djogi checks it against ``Book``'s relations."""


class FieldOptions(TypedDict, total=False):
    """The column options ``field(...)`` takes, for type checkers: the fields of ``djogi.schema.FieldSpec``
    (``tests/models/test_declarations.py`` keeps the two equal)."""

    unique: bool
    index: bool | IndexMethod | None
    max_length: int | None
    precision: int | None
    scale: int | None
    db_default: str | None
    check: str | None
    comment: str | None
    renamed_from: str | None
    version: bool
    column: str | None
    sql_type: str | None
    on_delete: OnDelete | None
    deferrable: bool
    initially_deferred: bool
    related_name: str | None
    primary_key: bool
    identity: Identity | None
    sequence: str | None
    timestamp: Timestamp | None
    to_field: str | None
    on_update: OnDelete | None
    collation: str | None
    outbox_exclude: bool
    expose: tuple[Exposure, ...]
    protected: Protected | None
    generated: str | TsVectorOf | None
    virtual: bool
    actor: ActorStamp | None
    sequence_within: str | None
    idempotency_key: bool


@overload
def field(*, default: None, **options: Unpack[FieldOptions]) -> Any: ...
@overload
def field(*, default: T, **options: Unpack[FieldOptions]) -> Field[T]: ...
@overload
def field(*, default_factory: Callable[[], T], **options: Unpack[FieldOptions]) -> Field[T]: ...
@overload
def field(**options: Unpack[FieldOptions]) -> Any: ...


def field(*, default: Any = msgspec.NODEFAULT, default_factory: Any = msgspec.NODEFAULT, **options: Any) -> Any:
    """A field's column options and default: ``price: Field[Decimal] = field(precision=10, scale=2,
    default=Decimal(0))``.

    ``default`` is the Python default (msgspec copies an empty ``[]``/``{}``), ``default_factory`` a
    callable making it; the options are ``djogi.schema.fields.field``'s (``unique``, ``index``,
    ``max_length``, ``precision``/``scale``, ``db_default``, ``check``, ``comment``, ``renamed_from``,
    ``version``, ``column``, ``sql_type``, ``collation``, ``generated``/``virtual``, ``outbox_exclude``, for a
    declared key ``primary_key``, ``identity``, ``sequence``, ``timestamp``, and on relations ``on_delete``,
    ``on_update``, ``deferrable``, ``initially_deferred``, ``related_name``, ``to_field``; visages and
    protection: ``expose``, ``protected``; composition: ``actor``, ``sequence_within``, ``idempotency_key``).
    ``ModelDefinitionError`` for an unknown option or both defaults.
    """
    return specifier(default, default_factory, options)

