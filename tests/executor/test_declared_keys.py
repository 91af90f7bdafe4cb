"""Reading and writing models of existing-style schemas on the real server: keys on any column (sequence,
identity ALWAYS, application-assigned), composite keys of foreign keys, no timestamps, a trigger-kept
``last_update``, FKs to a unique field, and a column djogi cannot decode (the tables are created by the
migration SQL the models compose to)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
import psycopg
import pytest
from msgspec import UnsetType
from psycopg.rows import TupleRow

import djogi
from djogi import Field, ForeignKey, Model, field
from djogi.algebra.relations import prefetch
from djogi.errors import DecodeError, NotFound, ValidationError
from djogi.executor import Database
from djogi.types import SqlType
from tests.migrate.helpers import creating, projected

pytestmark = pytest.mark.anyio

UNSET = msgspec.UNSET


class KActor(Model, table="k_actor", timestamps=False):
    actor_id: Field[Annotated[int, SqlType("INTEGER")] | UnsetType] = field(
        primary_key=True, sequence="k_actor_actor_id_seq", default=UNSET
    )
    name: Field[str]
    last_update: Field[dt.datetime | UnsetType] = field(timestamp="updated", default=UNSET)


class KFilm(Model, table="k_film", timestamps=False):
    film_id: Field[djogi.Integer | UnsetType] = field(primary_key=True, identity="always", default=UNSET)
    title: Field[str]
    language: ForeignKey[KLanguage] = field(to_field="code", on_update="cascade")  # declared below


class KLanguage(Model, table="k_language", timestamps=False):
    language_id: Field[djogi.SmallInt] = field(primary_key=True)
    code: Field[str] = field(max_length=2, unique=True)


class KFilmActor(Model, table="k_film_actor", primary_key=("film", "actor")):
    film: ForeignKey[KFilm] = field(column="film_id", on_delete="cascade")
    actor: ForeignKey[KActor] = field(column="actor_id", on_delete="cascade")
    role: Field[str] = field(default="")


class KDoc(Model, table="k_doc", managed=False, timestamps=False):
    doc_id: Field[int] = field(primary_key=True)
    body: Field[str]


MODELS = (KActor, KLanguage, KFilm, KFilmActor)


@pytest.fixture
async def films(db: Database, pg: psycopg.AsyncConnection[TupleRow]) -> Database:
    for up in creating(projected(*MODELS)):
        await pg.execute(up.encode())  # a step may hold several statements
    # pagila's trigger: last_update is kept by the database; djogi's now() agrees with it
    await db.raw("CREATE FUNCTION k_touch() RETURNS trigger LANGUAGE plpgsql AS "
                 "$$ BEGIN NEW.last_update = now(); RETURN NEW; END $$")  # fmt: skip
    await db.raw("CREATE TRIGGER k_touch BEFORE UPDATE ON k_actor FOR EACH ROW EXECUTE FUNCTION k_touch()")
    return db


async def test_sequence_key_and_trigger_kept_timestamp(films: Database) -> None:
    ann = await films.create(KActor(name="Ann"))
    bob = await films.create(KActor(name="Bob"))
    assert (ann.actor_id, bob.actor_id) == (1, 2) and isinstance(ann.last_update, dt.datetime)
    assert await films.get(KActor, 2) == bob
    renamed = await films.save(ann, name="Anne")
    assert renamed.name == "Anne" and renamed.last_update > ann.last_update
    assert await films.refresh(renamed) == renamed
    owner = await films.raw("SELECT pg_get_serial_sequence('k_actor', 'actor_id')")
    assert owner == [("public.k_actor_actor_id_seq",)]
    many = await films.bulk_create([KActor(name=f"x{i}") for i in range(3)])
    assert [a.actor_id for a in many] == [3, 4, 5]


async def test_identity_always_and_fk_to_a_unique_field_on_update_cascade(films: Database) -> None:
    en = await films.create(KLanguage(language_id=1, code="en"))
    assert en.language_id == 1
    dune = await films.create(KFilm(title="Dune", language="en"))
    assert isinstance(dune.film_id, int)
    with pytest.raises(NotFound, match="KLanguage with language_id=2 does not exist"):
        await films.get(KLanguage, 2)
    await films.raw("UPDATE k_language SET code = 'EN' WHERE language_id = 1")
    assert (await films.refresh(dune)).language == "EN"
    joined = await films.all(KFilm.objects.select_related(KFilm.language))
    assert [(f.title, lang.code) for f, lang in joined] == [("Dune", "EN")]
    assert await films.all(KFilm.objects.filter(KFilm.language.language_id == 1)) == [await films.refresh(dune)]


async def test_composite_key_crud(films: Database) -> None:
    await films.create(KLanguage(language_id=1, code="en"))
    film = await films.create(KFilm(title="Alien", language="en"))
    ann = await films.create(KActor(name="Ann"))
    link = await films.create(KFilmActor(film=film.film_id, actor=ann.actor_id, role="Ripley"))
    assert isinstance(link.created_at, dt.datetime)
    assert await films.get(KFilmActor, (film.film_id, ann.actor_id)) == link
    with pytest.raises(ValidationError, match=r"composite key \(film, actor\); pass a tuple of 2 values"):
        await films.get(KFilmActor, film.film_id)
    saved = await films.save(link, role="Ellen Ripley")
    assert saved.role == "Ellen Ripley" and saved.updated_at >= link.updated_at
    assert await films.bulk_update([msgspec.structs.replace(saved, role="E.")], ["role"]) == 1
    assert (await films.refresh(saved)).role == "E."
    await films.delete(saved)
    with pytest.raises(NotFound, match=r"KFilmActor with \(film, actor\)=\(\d+, 1\) does not exist"):
        await films.refresh(saved)


async def test_unmanaged_model_reads_and_writes(films: Database) -> None:
    await films.raw("CREATE TABLE k_doc (doc_id bigint PRIMARY KEY, body text NOT NULL)")
    doc = await films.create(KDoc(doc_id=7, body="hello"))
    assert await films.get(KDoc, 7) == doc


async def test_a_column_djogi_cannot_decode_raises_naming_the_field(films: Database) -> None:
    await films.raw("CREATE TABLE k_doc (doc_id bigint PRIMARY KEY, body tsvector NOT NULL)")
    await films.raw("INSERT INTO k_doc VALUES (1, to_tsvector('simple', 'a fat cat'))")
    with pytest.raises(DecodeError, match=r"KDoc\.body: its column 'body' is of type tsvector, which djogi cannot"):
        await films.get(KDoc, 1)
    with pytest.raises(DecodeError, match=r"KDoc\.body"):
        await films.raw("SELECT * FROM k_doc", into=KDoc)
    assert await films.all(KDoc.objects.filter(KDoc.doc_id == 2)) == []  # no row, nothing decoded


async def test_a_result_shape_that_changes_after_a_good_one_is_checked_again(films: Database) -> None:
    """The column-type check compares a result's column types with the previous result's first: a column whose
    type changed since (DDL between two runs of the same SQL) is still checked and refused."""
    await films.raw("CREATE TABLE k_doc (doc_id bigint PRIMARY KEY, body text NOT NULL)")
    await films.raw("INSERT INTO k_doc VALUES (1, 'a fat cat')")
    assert (await films.get(KDoc, 1)).body == "a fat cat"
    await films.raw("ALTER TABLE k_doc ALTER COLUMN body TYPE tsvector USING to_tsvector('simple', body)")
    with pytest.raises(DecodeError, match=r"KDoc\.body: its column 'body' is of type tsvector, which djogi cannot"):
        await films.get(KDoc, 1)


async def test_bulk_writes_of_identity_always_keys(films: Database) -> None:
    await films.create(KLanguage(language_id=1, code="en"))
    made = await films.bulk_create([KFilm(title=f"f{i}", language="en") for i in range(3)])
    assert sorted(f.film_id for f in made) == [1, 2, 3]
    assert await films.bulk_create([KFilm(title="g", language="en")], returning=False) == 1
    assert sorted(f.film_id for f in await films.all(KFilm.objects)) == [1, 2, 3, 4]


async def test_relations_by_declared_keys_and_to_field(films: Database) -> None:
    """Prefetch, reverse accessors and joins follow the referenced column (a declared key, a ``to_field``)."""
    await films.create(KLanguage(language_id=1, code="en"))
    await films.create(KLanguage(language_id=2, code="fr"))
    alien = await films.create(KFilm(title="Alien", language="en"))
    await films.create(KFilm(title="Amelie", language="fr"))
    ann = await films.create(KActor(name="Ann"))
    await films.create(KFilmActor(film=alien.film_id, actor=ann.actor_id))
    langs = await films.all(KLanguage.objects.order_by(KLanguage.code).prefetch(prefetch(KLanguage.k_film)))
    assert [(lang.code, [f.title for f in lang.k_film]) for lang in langs] == [("en", ["Alien"]), ("fr", ["Amelie"])]
    loaded = await films.all(KFilm.objects.order_by(KFilm.title).prefetch(prefetch(KFilm.language)))
    assert [(f.title, f.language.language_id) for f in loaded] == [("Alien", 1), ("Amelie", 2)]
    cast = await films.all(KActor.objects.prefetch(prefetch(KActor.k_film_actor)))
    assert [[link.film for link in a.k_film_actor] for a in cast] == [[alien.film_id]]
    assert await films.all(KLanguage.objects.filter(KLanguage.k_film.any(KFilm.title == "Amelie"))) == [
        await films.get(KLanguage, 2)
    ]
