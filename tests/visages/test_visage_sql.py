"""Visage types and their queries, without a database: fields per audience, golden SQL, JSON Schema, errors."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from djogi import (
    Field,
    ForeignKey,
    HeerIdDesc,
    Model,
    Visage,
    VisageError,
    derived,
    field,
    protect,
    to_visage,
    visage,
    visage_query,
)
from djogi.algebra.expr import upper
from djogi.errors import ModelDefinitionError
from djogi.model import descriptor, registry_scope
from djogi.modeldocs import render
from djogi.protect import MASK
from djogi.visages.parity import parity_problems

from .models import Title, TitlePublic, Writer

KEY = "ab" * 32


def names(v: type[Visage[object]]) -> tuple[str, ...]:  # type: ignore[type-var]
    return v.__struct_fields__


def test_fields_per_audience() -> None:
    assert names(visage(Writer, "public")) == ("id", "created_at", "updated_at", "name")
    assert names(visage(Writer, "self")) == ("id", "created_at", "updated_at", "name", "email")
    assert names(visage(Writer, "admin")) == ("id", "created_at", "updated_at", "name", "email", "phone")
    assert names(visage(Writer, "export")) == ("id", "created_at", "updated_at", "name")  # notes: dropped
    assert names(visage(Title, "admin")) == ("id", "created_at", "updated_at", "name", "price", "writer", "editor")


def test_generated_visage_is_frozen_struct_and_reused() -> None:
    v = visage(Writer, "public")
    assert v is visage(Writer, "public")
    assert issubclass(v, msgspec.Struct) and v.__struct_config__.frozen
    assert v.__name__ == "WriterPublic"


def test_declared_visage_is_the_visage() -> None:
    assert visage(Title, "public") is TitlePublic


def test_relation_forms() -> None:
    fields = {f.name: f for f in visage(Title, "admin").__visage_fields__}
    assert fields["writer"].type is visage(Writer, "public")
    assert fields["editor"].source == "hash_id" and fields["editor"].type == str | None
    assert {f.name: f.type for f in visage(Title, "self").__visage_fields__}["writer"] is Writer


def test_golden_sql_selects_only_exposed_columns() -> None:
    stmt = visage_query(visage(Writer, "public")).filter(Writer.name == "Ann").sql()
    assert stmt.sql == (
        'SELECT "vis_writers"."id" AS "id", "vis_writers"."created_at" AS "created_at", '
        '"vis_writers"."updated_at" AS "updated_at", "vis_writers"."name" AS "name" '
        'FROM "vis_writers" WHERE "vis_writers"."name" = $1::text'
    )
    assert stmt.params == ("Ann",)


def test_golden_sql_masks_in_the_database() -> None:
    stmt = visage_query(visage(Writer, "admin")).sql()
    assert stmt.sql == (
        'SELECT "vis_writers"."id" AS "id", "vis_writers"."created_at" AS "created_at", '
        '"vis_writers"."updated_at" AS "updated_at", "vis_writers"."name" AS "name", $1::text AS "email", '
        'CASE WHEN "vis_writers"."phone" IS NOT NULL THEN $2::text END AS "phone" FROM "vis_writers"'
    )
    assert stmt.params == (MASK, MASK)


def test_golden_sql_derived_field() -> None:
    stmt = visage_query(TitlePublic).sql()
    assert stmt.sql == (
        'SELECT "vis_titles"."id" AS "id", "vis_titles"."created_at" AS "created_at", '
        '"vis_titles"."updated_at" AS "updated_at", "vis_titles"."name" AS "name", '
        '"vis_titles"."writer_id" AS "writer", upper("vis_titles"."name" COLLATE "C") AS "shout" '
        'FROM "vis_titles"'
    )


def test_golden_sql_hash_id_never_prints_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJOGI_PRESENTATION_HMAC_KEY", KEY)
    v = visage(Title, "export")
    stmt = visage_query(v).sql()
    assert 'encode(sha256(decode(($1::text || encode(sha256(decode(($2::text || encode(convert_to(' in stmt.sql
    assert KEY not in repr(stmt) and "'***'" in repr(stmt.params)


def test_hash_id_query_needs_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DJOGI_PRESENTATION_HMAC_KEY", raising=False)
    with pytest.raises(VisageError, match="DJOGI_PRESENTATION_HMAC_KEY"):
        visage_query(visage(Title, "export"))


def test_nested_visage_query_is_refused_clearly() -> None:
    with pytest.raises(VisageError, match=r"Title\.writer: .*prefetch\(Title\.writer\)"):
        visage_query(visage(Title, "admin"))


def test_json_schema() -> None:
    schema = msgspec.json.schema(visage(Writer, "self"))
    body = schema["$defs"]["WriterSelf"]
    assert list(body["properties"]) == ["id", "created_at", "updated_at", "name", "email"]
    assert body["required"] == ["id", "created_at", "updated_at", "name", "email"]


def test_unknown_audience() -> None:
    with pytest.raises(VisageError, match="'staff' is not an audience"):
        visage(Writer, "staff")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"expose": ("staff",)}, "'staff' is not an audience"),
        ({"expose": (("public", "admin"),)}, "only a ForeignKey/OneToOne field takes a form"),
        ({"expose": ("public", "public")}, "audience 'public' is given twice"),
        ({"expose": (("public", "nested"),)}, "a relation's form is one of"),
        ({"protected": protect("pii", "x", redaction="hash_id")}, "hash_id. applies to key-like fields"),
        ({"protected": protect("pii", "x", encrypt=True), "unique": True}, "cannot be combined with unique"),
    ],
)
def test_declaration_errors(options: dict[str, object], message: str) -> None:
    with registry_scope(), pytest.raises(ModelDefinitionError, match=message):

        class Bad(Model, table="vis_bad"):
            name: Field[str] = field(**options)  # type: ignore[call-overload]


def test_protect_errors() -> None:
    with pytest.raises(ModelDefinitionError, match="needs a rationale"):
        protect("pii")
    with pytest.raises(ModelDefinitionError, match="takes no redaction"):
        protect("none", redaction="mask")
    with pytest.raises(ModelDefinitionError, match="takes no redaction"):
        protect("none", per_audience={"admin": "drop"})
    with pytest.raises(ModelDefinitionError, match="per_audience: 'staff' is not an audience"):
        protect("pii", "x", per_audience={"staff": "mask"})  # type: ignore[dict-item]
    with pytest.raises(ModelDefinitionError, match=r"per_audience\['admin'\]: 'blur' is not one of"):
        protect("pii", "x", per_audience={"admin": "blur"})  # type: ignore[dict-item]


def test_declared_visage_must_match_the_model() -> None:
    with registry_scope():

        class Owner(Model, table="vis_owners"):
            name: Field[str] = field(expose=("public",))
            secret: Field[str] = field(default="")

        with pytest.raises(ModelDefinitionError, match=r"exactly these fields.*\n    id: .*\n.*\n.*\n    name: str"):

            class OwnerPublic(Visage[Owner], audience="public"):
                id: HeerIdDesc
                created_at: dt.datetime
                updated_at: dt.datetime
                name: str
                secret: str

        with pytest.raises(ModelDefinitionError, match="declares its audience"):

            class NoAudience(Visage[Owner]):
                name: str


def test_key_fields_take_no_expose() -> None:
    with registry_scope(), pytest.raises(ModelDefinitionError, match="exposed to every audience already"):

        class Keyed(Model, table="vis_keyed"):
            code: Field[int] = field(primary_key=True, expose=("public",))


def test_relation_forms_on_optional_key() -> None:
    with registry_scope():

        class Parent(Model, table="vis_parents"):
            name: Field[str] = field(expose=("public",))

        class Child(Model, table="vis_children"):
            parent: ForeignKey[Parent | None] = field(default=None, expose=(("public", "public"),))

        assert {f.name: f.type for f in visage(Child, "public").__visage_fields__}["parent"] == (
            visage(Parent, "public") | None
        )


def test_model_reference_pages_show_exposure_and_protection() -> None:
    page = render([descriptor(Writer), descriptor(Title)])["_global_/Writer.md"]
    assert "exposed to self, admin; protected: pii, to reach the writer; redaction mask; self: none |" in page
    assert "exposed to public, self, admin, export |" in page
    assert "exposed to admin, export; protected: internal, who edits; redaction hash_id |" in render(
        [descriptor(Title), descriptor(Writer)]
    )["_global_/Title.md"]


def test_to_visage_refuses_unsaved_rows_and_other_models() -> None:
    with pytest.raises(VisageError, match=r"Writer\.id is not set; save the row"):
        to_visage(Writer(name="Ann", email="a@x"), visage(Writer, "public"))
    with pytest.raises(VisageError, match="WriterPublic presents Writer rows, not Title"):
        to_visage(Title(name="t", writer=1), visage(Writer, "public"))


def test_derived_without_in_memory_form_needs_python() -> None:
    with registry_scope():

        class Note(Model, table="vis_notes"):
            body: Field[str] = field(expose=("public",))

        class NotePublic(Visage[Note], audience="public"):
            id: HeerIdDesc
            created_at: dt.datetime
            updated_at: dt.datetime
            body: str
            loud: str = derived(upper(Note.body))  # upper() without COLLATE "C" has no in-memory twin

        stamp = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        row = Note(id=1, created_at=stamp, updated_at=stamp, body="x")  # type: ignore[arg-type]
        with pytest.raises(VisageError, match=r"Note\.loud: the derived expression has no in-memory form"):
            to_visage(row, NotePublic)


def test_parity_problems_name_each_drifting_row() -> None:
    with registry_scope():

        class Tag(Model, table="vis_tags"):
            label: Field[str] = field(expose=("public",))

        class TagPublic(Visage[Tag], audience="public"):
            id: HeerIdDesc
            created_at: dt.datetime
            updated_at: dt.datetime
            label: str
            shout: str = derived(upper(Tag.label), python=lambda row: row.label.upper())

        stamp = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        rows = [Tag(id=n, created_at=stamp, updated_at=stamp, label=text) for n, text in ((1, "ab"), (2, "é"))]  # type: ignore[arg-type]
        # PostgreSQL's upper() under the database's collation vs Python's str.upper(): "é" may differ.
        fetched = [TagPublic(1, stamp, stamp, "ab", "AB"), TagPublic(2, stamp, stamp, "é", "é")]  # type: ignore[arg-type]
        assert parity_problems(fetched, rows) == ["TagPublic.shout for (2,): SQL gives 'é', Python gives 'É'"]
        assert parity_problems(fetched[:1], rows) == []
