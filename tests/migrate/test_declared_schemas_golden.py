"""Golden descriptors and DDL for the options that map existing schemas: declared keys (any field, any
column, composite, identity / sequence / application-assigned), optional and mapped timestamps, forward
and mutual references, foreign keys to unique fields with ``ON UPDATE``, and unmanaged models (pure)."""

import datetime as dt
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

import djogi
from djogi import Field, ForeignKey, Model, field
from djogi.errors import ModelDefinitionError
from djogi.migrate.compose import plan_compose
from djogi.migrate.operations import create_table_sql
from djogi.migrate.project import project
from djogi.model import descriptor, registry_scope
from djogi.schema import pending
from djogi.schema.registry import pending_message
from tests.migrate.helpers import plan, snap, steps

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def columns(model: type[Model]) -> list[tuple[str, str, str, bool, str, str | None, str | None]]:
    """(name, column, SQL type, nullable, kind, default, identity) per field."""
    return [(fd.name, fd.column, fd.sql_type, fd.nullable, fd.kind, fd.db_default, fd.identity)
            for fd in descriptor(model).fields]  # fmt: skip


def film_schema() -> None:
    """A pagila-like schema: sequence keys, an identity key, a composite key of foreign keys, a
    trigger-kept ``last_update``, ``ON UPDATE CASCADE`` and an application-assigned natural key."""

    class Actor(Model, table="actor", timestamps=False):
        actor_id: Field[djogi.Integer | msgspec.UnsetType] = field(
            primary_key=True, sequence="actor_actor_id_seq", default=msgspec.UNSET
        )
        name: Field[str]
        last_update: Field[dt.datetime | msgspec.UnsetType] = field(timestamp="updated", default=msgspec.UNSET)

    class Film(Model, table="film", timestamps=False):
        film_id: Field[djogi.Integer | msgspec.UnsetType] = field(
            primary_key=True, identity="always", default=msgspec.UNSET
        )
        title: Field[str]

    class FilmActor(Model, table="film_actor", timestamps=False, primary_key=("actor", "film")):
        actor: ForeignKey[Actor] = field(column="actor_id", on_update="cascade")
        film: ForeignKey[Film] = field(column="film_id", on_delete="cascade", on_update="cascade")

    class Country(Model, table="country", timestamps=False):
        code: Field[str] = field(primary_key=True, max_length=2)
        name: Field[str] = field(unique=True)


def test_declared_keys_descriptors() -> None:
    with registry_scope(isolated=True):
        film_schema()
        models = {d.name: d.model for d in djogi.models()}
        actor, film, film_actor, country = (models[n] for n in ("Actor", "Film", "FilmActor", "Country"))
        assert actor.__struct_fields__ == ("actor_id", "name", "last_update")
        assert columns(actor) == [
            ("actor_id", "actor_id", "INTEGER", False, "pk", "nextval('actor_actor_id_seq'::regclass)", None),
            ("name", "name", "TEXT", False, "data", None, None),
            ("last_update", "last_update", "TIMESTAMPTZ", False, "data", "now()", None),
        ]
        assert descriptor(actor).updated_field.name == "last_update"  # type: ignore[union-attr]
        assert descriptor(actor).pk.kind == "Custom"
        assert columns(film)[0] == ("film_id", "film_id", "INTEGER", False, "pk", None, "always")
        assert descriptor(film).pk.kind == "Serial"
        fa = descriptor(film_actor)
        assert fa.primary_key == ("actor", "film") and fa.composite and fa.pk.kind == "Composite"
        assert columns(film_actor) == [
            ("actor", "actor_id", "INTEGER", False, "pk", None, None),
            ("film", "film_id", "INTEGER", False, "pk", None, None),
        ]
        assert fa.field("film").relation.on_update == "cascade"  # type: ignore[union-attr]
        assert fa.updated_field is None
        assert columns(country)[0] == ("code", "code", "VARCHAR(2)", False, "pk", None, None)
        assert descriptor(country).pk.kind == "Assigned"
        assert not descriptor(country).field("code").has_default  # the application supplies it


def test_declared_keys_ddl() -> None:
    p = plan(None, film_schema)
    got = {label: up for label, up, _, _ in steps(p)}
    assert got["AddTable actor"] == (
        'CREATE SEQUENCE "actor_actor_id_seq" AS INTEGER;\n'
        'CREATE TABLE "actor" (\n'
        '    "actor_id" INTEGER DEFAULT nextval(\'actor_actor_id_seq\'::regclass) NOT NULL,\n'
        '    "name" TEXT NOT NULL,\n'
        '    "last_update" TIMESTAMPTZ DEFAULT now() NOT NULL,\n'
        '    CONSTRAINT "actor_pkey" PRIMARY KEY ("actor_id")\n);\n'
        'ALTER SEQUENCE "actor_actor_id_seq" OWNED BY "actor"."actor_id";'
    )
    assert got["AddTable film"] == (
        'CREATE TABLE "film" (\n    "film_id" INTEGER GENERATED ALWAYS AS IDENTITY NOT NULL,\n'
        '    "title" TEXT NOT NULL,\n    CONSTRAINT "film_pkey" PRIMARY KEY ("film_id")\n);'
    )
    assert got["AddTable film_actor"] == (
        'CREATE TABLE "film_actor" (\n    "actor_id" INTEGER NOT NULL,\n    "film_id" INTEGER NOT NULL,\n'
        '    CONSTRAINT "film_actor_pkey" PRIMARY KEY ("actor_id", "film_id")\n);'
    )
    assert got["AddForeignKey film_actor.actor_id -> actor.actor_id"] == (
        'ALTER TABLE "film_actor" ADD CONSTRAINT "film_actor_actor_id_fkey" FOREIGN KEY ("actor_id") '
        'REFERENCES "actor" ("actor_id") ON DELETE RESTRICT ON UPDATE CASCADE;'
    )
    assert got["AddForeignKey film_actor.film_id -> film.film_id"] == (
        'ALTER TABLE "film_actor" ADD CONSTRAINT "film_actor_film_id_fkey" FOREIGN KEY ("film_id") '
        'REFERENCES "film" ("film_id") ON DELETE CASCADE ON UPDATE CASCADE;'
    )
    assert got["AddTable country"] == (
        'CREATE TABLE "country" (\n    "code" VARCHAR(2) NOT NULL,\n    "name" TEXT NOT NULL,\n'
        '    CONSTRAINT "country_pkey" PRIMARY KEY ("code")\n);'
    )
    tables = snap(film_schema).models
    assert tables["film_actor"].primary_key.kind == "Composite"
    assert tables["film"].primary_key.kind == "Serial" and tables["film"].columns[0].identity == "Always"
    assert tables["country"].primary_key.kind.custom.default_sql is None  # type: ignore[union-attr]


def test_drop_column_with_owned_sequence_recreates_it_on_down() -> None:
    def old() -> None:
        class T(Model, table="t"):
            n: Field[int | msgspec.UnsetType] = field(sequence="t_n_seq", default=msgspec.UNSET)

    def new() -> None:
        class T(Model, table="t"):
            pass

    (step,) = [s for s in plan(old, new).steps if s.label == "DropColumn t.n"]
    assert step.down == (
        'CREATE SEQUENCE "t_n_seq" AS BIGINT;\nALTER TABLE "t" ADD COLUMN "n" BIGINT DEFAULT '
        "nextval('t_n_seq'::regclass) NOT NULL;\nALTER SEQUENCE \"t_n_seq\" OWNED BY \"t\".\"n\";"
    )


def test_id_with_a_column_is_honoured_as_an_application_assigned_key() -> None:
    with registry_scope():

        class Employee(Model, table="employees", timestamps=False):
            id: Field[djogi.SmallInt] = field(column="employee_id")
            name: Field[str]

        assert columns(Employee) == [
            ("id", "employee_id", "SMALLINT", False, "pk", None, None),
            ("name", "name", "TEXT", False, "data", None, None),
        ]
        assert Employee.__struct_fields__ == ("id", "name")
        ddl = create_table_sql(project([descriptor(Employee)], "main", None).unwrap().models["employees"])
        assert ddl.startswith('CREATE TABLE "employees" (\n    "employee_id" SMALLINT NOT NULL,')


def test_timestamps_default_and_optional() -> None:
    with registry_scope():

        class Plain(Model, table="plain"):
            name: Field[str]

        class Bare(Model, table="bare", timestamps=False):
            name: Field[str]

        assert Plain.__struct_fields__ == ("id", "created_at", "updated_at", "name")
        assert Bare.__struct_fields__ == ("id", "name")
        assert descriptor(Bare).updated_field is None
        assert descriptor(Plain).updated_field.name == "updated_at"  # type: ignore[union-attr]
        assert repr(Bare(name="x")) == "Bare(id=UNSET, name='x')"


def test_forward_and_mutual_references_create_tables_then_constraints() -> None:
    def mutual() -> None:
        class Store(Model, table="store", timestamps=False):
            store_id: Field[djogi.Integer | msgspec.UnsetType] = field(
                primary_key=True, identity="by default", default=msgspec.UNSET
            )
            manager: ForeignKey["Staff | None"] = field(
                column="manager_staff_id", related_name="managed", default=None
            )

        with pytest.raises(ModelDefinitionError, match="Store: refers to model 'Staff', which is not declared"):
            descriptor(Store)

        class Staff(Model, table="staff", timestamps=False):
            staff_id: Field[djogi.Integer | msgspec.UnsetType] = field(
                primary_key=True, identity="by default", default=msgspec.UNSET
            )
            store: ForeignKey[Store]

        assert descriptor(Store).field("manager").sql_type == "INTEGER"

    p = plan(None, mutual)
    assert [op.label for op in p.operations] == [
        "AddTable staff", "AddTable store", "AddForeignKey staff.store_id -> store.store_id",
        "AddForeignKey store.manager_staff_id -> staff.staff_id", "AddIndex staff_store_id_idx",
        "AddIndex store_manager_staff_id_idx",
    ]  # fmt: skip
    assert p.steps[3].up == (
        'ALTER TABLE "store" ADD CONSTRAINT "store_manager_staff_id_fkey" FOREIGN KEY ("manager_staff_id") '
        'REFERENCES "staff" ("staff_id") ON DELETE RESTRICT;'
    )


def test_foreign_key_to_a_unique_field() -> None:
    def schema() -> None:
        class Country(Model, table="country"):
            code: Field[str] = field(max_length=2, unique=True)

        class City(Model, table="city"):
            country: ForeignKey[Country] = field(to_field="code", column="country_code", on_update="restrict")

    with registry_scope(isolated=True):
        schema()
        city = next(d for d in djogi.models() if d.name == "City")
        assert (city.field("country").sql_type, city.field("country").python_type) == ("VARCHAR(2)", str)
    got = {label: up for label, up, _, _ in steps(plan(None, schema))}
    assert got["AddForeignKey city.country_code -> country.code"] == (
        'ALTER TABLE "city" ADD CONSTRAINT "city_country_code_fkey" FOREIGN KEY ("country_code") '
        'REFERENCES "country" ("code") ON DELETE RESTRICT ON UPDATE RESTRICT;'
    )


def test_unmanaged_models_are_never_migrated() -> None:
    def schema() -> None:
        class Legacy(Model, table="legacy", managed=False, timestamps=False):
            legacy_id: Field[int] = field(primary_key=True)

        class Kept(Model, table="kept"):
            legacy: ForeignKey[Legacy]

    with registry_scope(isolated=True):
        schema()
        assert not next(d for d in djogi.models() if d.name == "Legacy").managed
    assert list(snap(schema).models) == ["kept"]
    assert [op.label for op in plan(None, schema).operations] == [  # the legacy table exists: it may be referenced
        "AddTable kept", "AddForeignKey kept.legacy_id -> legacy.legacy_id", "AddIndex kept_legacy_id_idx",
    ]


def _x(fields: dict[str, tuple[Any, Any]], base: Any = Model, **options: Any) -> Callable[[], object]:
    """Declares ``X(base)`` with ``fields`` (name -> (annotation, its ``= field(...)`` value or None))."""
    namespace = {"__annotations__": {name: ann for name, (ann, _) in fields.items()}}
    namespace.update({name: value for name, (_, value) in fields.items() if value is not None})
    return lambda: types.new_class("X", (base,), options, lambda body: body.update(namespace))


REFUSED = [
    ("two flagged keys", "fields \\['a', 'b'\\] are each marked primary_key=True; declare a composite key",
     _x({"a": (Field[int], field(primary_key=True)), "b": (Field[int], field(primary_key=True))}, table="x")),
    ("unknown key field", "primary_key=\\('nope',\\) must name distinct fields",
     _x({"a": (Field[int], None)}, table="x", primary_key=("nope",))),
    ("key kind with a declared key", r"X: the key kind \(Model\[K\], pk=\) chooses the kind of the generated id, "
     r"but the model declares its own key; declare it class X\(Model, \.\.\.\)",
     _x({"a": (Field[int], field(primary_key=True))}, Model[djogi.Serial], table="x")),
    ("optional key", "X.a: a primary-key field cannot be optional",
     _x({"a": (Field[int | None], field(primary_key=True))}, table="x")),
    ("identity on str", "X.a: identity/sequence fill a non-optional int field",
     _x({"a": (Field[str], field(identity="always"))}, table="x")),
    ("two generators", "X.a: identity and sequence both fill the column",
     _x({"a": (Field[int], field(identity="always", sequence="s"))}, table="x")),
    ("timestamp on str", "X.a: timestamp='updated' needs a datetime field",
     _x({"a": (Field[str], field(timestamp="updated"))}, table="x")),
    ("timestamps not a bool", "X: timestamps must be True or False",
     _x({"a": (Field[int], None)}, table="x", timestamps="no")),
    ("on_update on a plain field", "X.a: on_update/to_field apply to ForeignKey and OneToOne fields only",
     _x({"a": (Field[int], field(on_update="cascade"))}, table="x")),
    ("unknown class keyword", "X: .*'tables' is an invalid keyword argument",
     _x({"a": (Field[int], None)}, tables="x")),
]  # fmt: skip


@pytest.mark.parametrize(("why", "message", "declare"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_declarations_name_the_field(why: str, message: str, declare: object) -> None:
    with registry_scope(), pytest.raises(ModelDefinitionError, match=message):
        declare()  # type: ignore[operator]


def test_foreign_key_to_a_composite_key_needs_to_field() -> None:
    with registry_scope():

        class Pair(Model, table="pair", primary_key=("a", "b")):
            a: Field[int]
            b: Field[int]

        with pytest.raises(ModelDefinitionError, match=r"Link\.pair: Pair has a composite key \('a', 'b'\)"):

            class Link(Model, table="link"):
                pair: ForeignKey[Pair]

        with pytest.raises(ModelDefinitionError, match=r"to_field='a': Pair\.a is not unique"):

            class Link2(Model, table="link2"):
                pair: ForeignKey[Pair] = field(to_field="a")


def test_a_model_waiting_for_an_undeclared_model_is_pending() -> None:
    with registry_scope():

        class Orphan(Model, table="orphan"):
            parent: ForeignKey["Nowhere"]  # noqa: F821 - never declared

        assert all(d.name != "Orphan" for d in djogi.models())
        assert pending() == (
            "Orphan: refers to model 'Nowhere', which is not declared (yet); declare it or fix the name",
        )
    assert pending() == ()


def test_column_collation() -> None:
    def old() -> None:
        class T(Model, table="t"):
            name: Field[str] = field(collation="C")

    def new() -> None:
        class T(Model, table="t"):
            name: Field[str] = field(max_length=20, collation="POSIX")

    assert 'CREATE TABLE "t" (\n    "id" BIGINT DEFAULT heerid_next_desc() NOT NULL,' in plan(None, old).steps[0].up
    assert '    "name" TEXT COLLATE "C" NOT NULL,\n' in plan(None, old).steps[0].up
    assert [s.up for s in plan(old, new).steps] == [
        'ALTER TABLE "t" ALTER COLUMN "name" TYPE VARCHAR(20) COLLATE "POSIX" '
        'USING "name"::VARCHAR(20) COLLATE "POSIX";'
    ]
    with registry_scope(), pytest.raises(ModelDefinitionError, match=r"X\.n: collation='C' applies to str fields"):

        class X(Model, table="x"):
            n: Field[int] = field(collation="C")


def test_a_model_derived_from_a_model_keeps_its_key_and_timestamps() -> None:
    with registry_scope():

        class Base(Model, table="base"):
            name: Field[str]

        class Derived(Base, table="derived"):
            extra: Field[int] = field(default=0)

        class Keyed(Model, table="keyed", timestamps=False):
            code: Field[str] = field(primary_key=True)

        class MoreKeyed(Keyed, table="more_keyed"):
            more: Field[str] = field(default="")

        assert Derived.__struct_fields__ == ("id", "created_at", "updated_at", "name", "extra")
        assert [fd.kind for fd in descriptor(Derived).fields] == ["pk", "framework", "framework", "data", "data"]
        assert MoreKeyed.__struct_fields__ == ("code", "more")
        assert descriptor(MoreKeyed).primary_key == ("code",)


def test_compose_refuses_while_a_model_waits(tmp_path: Path) -> None:
    with registry_scope(isolated=True):

        class Early(Model, table="early"):
            late: ForeignKey["Late"]  # declared below

        assert plan_compose(tmp_path, djogi.models(), T0).failure() == pending_message(Early, "Late")

        class Late(Model, table="late"):
            pass

        assert plan_compose(tmp_path, djogi.models(), T0).unwrap().buckets[0].plan.operations
