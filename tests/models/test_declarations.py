"""The typed declaration syntax at run time: ``Field[T]`` / ``= field(...)``, ``Model[K]`` key kinds,
``ClassVar[Reverse[...]]`` checked against the relations, and every other spelling refused with its fix."""

from __future__ import annotations

import types
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar

import msgspec
import pytest

import djogi
from djogi import Field, ForeignKey, Model, Reverse, Serial, custom_pk, descriptor, field
from djogi.errors import ModelDefinitionError
from djogi.model import registry_scope


@pytest.fixture
def scope() -> Iterator[None]:
    with registry_scope(isolated=True):
        yield


def test_field_options_and_defaults_reach_the_descriptor_and_msgspec(scope: None) -> None:
    class Item(Model, table="items"):
        name: Field[str] = field(max_length=20, index=True)
        tags: Field[list[str]] = field(default=[])
        extra: Field[dict[str, int]] = field(default_factory=dict)
        note: Field[str | None] = field(default=None, comment="free text")

    desc = descriptor(Item)
    assert [(f.name, f.sql_type, f.nullable, f.has_default) for f in desc.fields[3:]] == [
        ("name", "VARCHAR(20)", False, False), ("tags", "TEXT[]", False, True),
        ("extra", "JSONB", False, True), ("note", "TEXT", True, True),
    ]  # fmt: skip
    assert desc.field("name").index == "btree" and desc.field("note").comment == "free text"
    a, b = Item(name="a"), Item(name="b")
    assert a.tags == [] and a.tags is not b.tags and a.extra == {} and a.note is None
    with pytest.raises(AttributeError):
        a.name = "x"  # type: ignore[misc]  # frozen
    assert a == Item(name="a") and a != b


def test_key_kinds_come_from_the_type_argument(scope: None) -> None:
    class Counter(Model[Serial], table="counters"):
        n: Field[int]

    class Plain(Model[int], table="plains"):
        n: Field[int]

    class Token(Model[djogi.RanjId], table="tokens"):
        n: Field[int]

    class Visit(Model[uuid.UUID], table="visits", pk=custom_pk(uuid.UUID, "UUID", "gen_random_uuid()")):
        n: Field[int]

    class Keyed(Model[Serial]):  # an abstract base: its key kind is inherited
        n: Field[int]

    class Child(Keyed, table="children"):
        m: Field[int]

    kinds = [descriptor(m).pk.kind for m in (Counter, Plain, Token, Visit, Child)]
    assert kinds == ["Serial", "Serial", "RanjId", "Custom", "Serial"]
    assert descriptor(Child).pk.python_type is int and [f.name for f in descriptor(Child).fields][3:] == ["n", "m"]


@pytest.mark.parametrize(
    ("declare", "says"),
    [
        (lambda: type(Model)("A", (Model,), {"__annotations__": {"x": str}, "__module__": __name__},
                             table="a"),
         "A.x: str is not a field declaration; declare it as x: Field[str] ("),
        (lambda: _old_optional_relation(), 'declare it as owner: ForeignKey["Target | None"]'),
        (lambda: _old_annotated(), "B.name: "),
        (lambda: _nested_field(), "C.name: "),
        (lambda: type(Model)("D", (Model,), {"__module__": __name__}, table="d", pk=Serial),
         "D: pk=Serial is declared as the model's key type: class D(Model[Serial], ...)"),
        (lambda: type(Model)("E", (Model,), {"__module__": __name__}, table="e", pk=custom_pk(uuid.UUID, "UUID", "x")),
         "E: pk=custom_pk(UUID, ...) needs the key type as the model's type argument"),
        (lambda: types.new_class("F", (Model[uuid.UUID],), {"table": "f"}),
         "F: Model[UUID] is not a built-in key kind"),
        (lambda: field(max_lenght=3), "field(): "),
        (lambda: field(default=1, default_factory=list), "field(): give default= or default_factory=, not both"),
    ],
)
def test_every_other_spelling_is_refused_with_its_fix(scope: None, declare: Any, says: str) -> None:
    class Target(Model, table="targets"):
        name: Field[str]

    with pytest.raises(ModelDefinitionError) as info:
        declare()
    assert says in str(info.value)


def _old_optional_relation() -> None:
    class Old(Model, table="olds"):
        owner: ForeignKey[Target] | None = None  # type: ignore[name-defined]  # noqa: F821  (refused)


def _old_annotated() -> None:
    class B(Model, table="bs"):
        name: Annotated[str, field(max_length=3)]  # (refused)


def _nested_field() -> None:
    class C(Model, table="cs"):
        name: Field[Annotated[str, field(max_length=3)] | None] = field(default=None)


def test_a_declared_reverse_is_checked_against_the_relations(scope: None) -> None:
    class Author(Model, table="authors"):
        name: Field[str]
        books: ClassVar[Reverse[Book]]
        edited: ClassVar[Reverse[Book]]

    with pytest.raises(ModelDefinitionError, match=r"Author\.edited: declared ClassVar\[Reverse\[Book\]\], but no "
                       r"relation of Book has the reverse accessor 'edited' \(Book\.author gives Author\.books\)"):

        class Book(Model, table="books"):
            author: ForeignKey[Author]

    class Book(Model, table="books"):
        author: ForeignKey[Author]
        editor: ForeignKey[Author | None] = field(related_name="edited", default=None)

    assert Author.books.model is Book and Author.edited.field == "editor"


def test_a_reverse_declared_after_its_source_is_checked_too(scope: None) -> None:
    class Writer(Model, table="writers"):
        name: Field[str]

    class Novel(Model, table="novels"):
        writer: ForeignKey[Writer]

    with pytest.raises(ModelDefinitionError, match=r"Tag\.novels: .* \(Novel has no ForeignKey/OneToOne to Tag\)"):

        class Tag(Model, table="tags"):
            novels: ClassVar[Reverse[Novel]]


def test_a_reverse_whose_source_is_never_declared_fails_on_use(scope: None) -> None:
    class Shelf(Model, table="shelves"):
        name: Field[str]
        items: ClassVar[Reverse[Missing]]  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(ModelDefinitionError, match=r"Shelf\.items: declared ClassVar\[Reverse\[Missing\]\]"):
        Shelf.items  # noqa: B018
    with pytest.raises(AttributeError):
        Shelf.nothing  # type: ignore[attr-defined]  # noqa: B018


def test_a_reverse_spelled_without_classvar_is_refused(scope: None) -> None:
    with pytest.raises(ModelDefinitionError, match=r"Shelf\.items: declare a reverse accessor as items: ClassVar"):

        class Shelf(Model, table="shelves"):
            items: Reverse[Shelf]  # type: ignore[misc]  (refused)


def test_decoding_and_replace_keep_the_model(scope: None) -> None:
    class Note(Model, table="notes"):
        body: Field[str] = field(default="")

    note = msgspec.json.decode(b'{"body": "x"}', type=Note)
    assert isinstance(note, Note) and msgspec.structs.replace(note, body="y").body == "y"


def test_the_schema_layers_option_builder_is_no_field_specifier(scope: None) -> None:
    from djogi.schema import field as options_only

    with pytest.raises(ModelDefinitionError, match=r"Item\.name: = djogi\.schema\.field\(\.\.\.\) makes column"):

        class Item(Model, table="items"):
            name: Field[str] = options_only(max_length=3)  # type: ignore[assignment]


def test_the_typed_field_options_are_the_schemas() -> None:
    """``djogi.fields.FieldOptions`` (what type checkers accept in ``field(...)``) lists every ``FieldSpec`` option."""
    from djogi.fields import FieldOptions
    from djogi.schema import FieldSpec

    assert set(FieldOptions.__annotations__) == set(FieldSpec.__struct_fields__)
