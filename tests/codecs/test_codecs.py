"""Adapters, value validation and row decoding against a real PostgreSQL 18 (``pg_sync`` fixture)."""

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import heeranjid
import msgspec
import psycopg
import pytest

import djogi
from djogi import Field, ForeignKey, Jsonb, Model, field
from djogi.codecs import configure_adapters, encode_value, jsonb_extras, jsonb_replace, row_decoder
from djogi.errors import DecodeError, ValidationError
from djogi.model import descriptor, registry_scope


class Mood(djogi.Enum):
    HAPPY = "happy"
    GRUMPY = "grumpy"


class Meta(msgspec.Struct, frozen=True):
    isbn: str
    pages: int | None = None


@pytest.fixture
def shapes() -> Iterator[dict[str, type[Model]]]:
    with registry_scope():

        class Person(Model, table="people"):
            name: Field[str] = field(max_length=5)
            mood: Field[Mood] = field(default=Mood.HAPPY)
            moods: Field[list[Mood | None]] = field(default=[])
            meta: Field[Jsonb[Meta] | None] = field(default=None)
            extra: Field[dict[str, Any] | None] = field(default=None)
            age: Field[djogi.SmallInt] = field(default=0)
            friend: ForeignKey["Person | None"] = field(default=None)

        class Doc(Model[djogi.RanjId], table="docs"):
            owner: ForeignKey[Person]
            born: Field[dt.datetime | None] = field(default=None)

        yield {"Person": Person, "Doc": Doc}


SCHEMA = """
CREATE TYPE mood AS ENUM ('happy', 'grumpy');
CREATE TABLE people (
    id bigint PRIMARY KEY DEFAULT heerid_next_desc(), created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(), name varchar(5) NOT NULL, mood mood NOT NULL,
    moods mood[] NOT NULL, meta jsonb, extra jsonb, age smallint NOT NULL, friend_id bigint);
CREATE TABLE docs (
    id uuid PRIMARY KEY DEFAULT ranjid_next(), created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(), owner_id bigint NOT NULL, born timestamptz);
"""


def setup(conn: psycopg.Connection[Any], *, with_oids: bool) -> None:
    conn.execute(SCHEMA)
    oids = dict(conn.execute("SELECT typname::text, oid::int FROM pg_type WHERE typname = 'mood'").fetchall())
    configure_adapters(conn.adapters, enum_oids=oids if with_oids else {})


def insert_person(conn: psycopg.Connection[Any], model: type[Model], **values: Any) -> None:
    """INSERT a person as the executor would: every data field of the instance, validated."""
    desc = descriptor(model)
    instance = model(**values)
    fds = [fd for fd in desc.fields if not fd.db_filled]
    params = [encode_value(fd, getattr(instance, fd.name), model=desc.name) for fd in fds]
    cols = ", ".join(fd.column for fd in fds)
    marks = ", ".join(f"${i}" for i in range(1, len(fds) + 1))
    psycopg.RawCursor(conn).execute(f"INSERT INTO people ({cols}) VALUES ({marks})", params, binary=True)


def fetch(
    conn: psycopg.Connection[Any], model: type[Model], table: str, where: str = "", params: Any = ()
) -> list[Any]:
    columns = descriptor(model).columns
    decoder = row_decoder(model, columns)
    with psycopg.RawCursor(conn, row_factory=decoder.row_factory) as cur:
        cur.execute(f"SELECT {', '.join(columns)} FROM {table} {where} ORDER BY created_at, id", params, binary=True)
        return cur.fetchall()


@pytest.mark.parametrize("with_oids", [True, False], ids=["enum-oids", "no-enum-oids"])
def test_round_trip_through_model(
    pg_sync: psycopg.Connection[Any], shapes: dict[str, type[Model]], with_oids: bool
) -> None:
    person, doc = shapes["Person"], shapes["Doc"]
    setup(pg_sync, with_oids=with_oids)
    insert_person(
        pg_sync,
        person,
        name="Ann",
        mood=Mood.GRUMPY,
        moods=[Mood.HAPPY, None, Mood.GRUMPY],
        meta=Meta("isbn-1", 10),
        extra={"k": [1, 2.5, None]},
        age=-32768,
    )
    (ann,) = fetch(pg_sync, person, "people")
    assert isinstance(ann, person) and isinstance(ann.id, djogi.HeerIdDesc)
    assert ann.mood is Mood.GRUMPY and ann.moods == [Mood.HAPPY, None, Mood.GRUMPY]
    assert all(m is None or type(m) is Mood for m in ann.moods)
    assert ann.meta == Meta("isbn-1", 10) and ann.extra == {"k": [1, 2.5, None]} and ann.age == -32768
    assert ann.friend is None and ann.created_at.tzinfo is not None

    insert_person(pg_sync, person, name="Bob", friend=ann.id)
    bob = fetch(pg_sync, person, "people", "WHERE friend_id = $1", (ann.id,))[0]
    assert bob.friend == ann.id and bob.moods == [] and bob.meta is None and bob.mood is Mood.HAPPY

    psycopg.RawCursor(pg_sync).execute("INSERT INTO docs (owner_id) VALUES ($1)", (bob.id,), binary=True)
    (d,) = fetch(pg_sync, doc, "docs")
    assert isinstance(d.id, djogi.RanjId) and d.owner == bob.id and d.born is None
    (same,) = fetch(pg_sync, doc, "docs", "WHERE id = $1", (d.id,))
    assert same == d


@pytest.mark.parametrize("with_oids", [True, False], ids=["enum-oids", "no-enum-oids"])
def test_enum_parameters_in_comparisons(
    pg_sync: psycopg.Connection[Any], shapes: dict[str, type[Model]], with_oids: bool
) -> None:
    person = shapes["Person"]
    setup(pg_sync, with_oids=with_oids)
    insert_person(pg_sync, person, name="Ann", mood=Mood.GRUMPY, moods=[Mood.GRUMPY])
    insert_person(pg_sync, person, name="Bob", mood=Mood.HAPPY, moods=[])
    cur = psycopg.RawCursor(pg_sync)

    def names(where: str, *params: Any) -> list[str]:
        cur.execute(f"SELECT name FROM people WHERE {where} ORDER BY name", params, binary=True)
        return [row[0] for row in cur.fetchall()]

    assert names("mood = $1", Mood.GRUMPY) == ["Ann"]
    assert names("mood <> $1", Mood.GRUMPY) == ["Bob"]
    assert names("mood > $1", Mood.HAPPY) == ["Ann"]  # enum order, not label order
    assert names("mood = ANY($1)", [Mood.HAPPY, Mood.GRUMPY]) == ["Ann", "Bob"]
    assert names("moods @> $1", [Mood.GRUMPY]) == ["Ann"]
    assert names("moods = $1", []) == ["Bob"]
    assert names("mood IN ($1, $2)", Mood.HAPPY, "grumpy") == ["Ann", "Bob"]  # plain labels work too


def test_jsonb_unknown_keys_survive_read_and_save(
    pg_sync: psycopg.Connection[Any], shapes: dict[str, type[Model]]
) -> None:
    person = shapes["Person"]
    setup(pg_sync, with_oids=True)
    newer = {"isbn": "x", "pages": 3, "edition": 2, "tags": ["a"], "nested": {"deep": True}}
    pg_sync.execute(
        "INSERT INTO people (name, mood, moods, meta, age) VALUES ('Ann', 'happy', '{}', %s::jsonb, 0)",
        (msgspec.json.encode(newer).decode(),),
    )
    (ann,) = fetch(pg_sync, person, "people")
    meta = ann.meta
    assert isinstance(meta, Meta) and meta == Meta("x", 3) and Meta("x", 3) == meta
    assert hash(meta) == hash(Meta("x", 3)) and repr(meta) == repr(Meta("x", 3))
    assert meta != Meta("x", 4) and dict(jsonb_extras(meta)) == {"edition": 2, "tags": ["a"], "nested": {"deep": True}}
    match meta:
        case Meta(isbn="x", pages=pages):
            assert pages == 3
        case _:
            pytest.fail("pattern matching on Meta failed")

    # Saved again unchanged (model-level replace keeps the same value) and with a field changed.
    saved = msgspec.structs.replace(ann, name="Anna")
    psycopg.RawCursor(pg_sync).execute(
        "UPDATE people SET name = $1, meta = $2 WHERE id = $3",
        (saved.name, encode_value(descriptor(person).field("meta"), saved.meta), saved.id),
        binary=True,
    )
    assert pg_sync.execute("SELECT meta FROM people").fetchone() == (newer,)
    changed = jsonb_replace(meta, pages=4)
    assert changed == Meta("x", 4) and jsonb_extras(changed) == jsonb_extras(meta)
    pg_sync.execute("UPDATE people SET meta = %s", (changed,))
    assert pg_sync.execute("SELECT meta FROM people").fetchone() == ({**newer, "pages": 4},)
    assert jsonb_extras(msgspec.structs.replace(meta, pages=5)) == {}  # documented: plain replace drops them


def test_naive_datetimes_are_rejected_before_sql(pg_sync: psycopg.Connection[Any]) -> None:
    configure_adapters(pg_sync.adapters)
    naive = dt.datetime(2024, 1, 1, 12, 0)
    for params in ([naive], [[naive]], [[dt.datetime.now(dt.UTC), naive]]):
        with pytest.raises(ValidationError, match=r"naive datetime 2024-01-01T12:00:00 .*tzinfo=datetime.UTC"):
            pg_sync.execute("SELECT %s", params)
    aware = dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    assert pg_sync.execute("SELECT %s::timestamptz", [aware], binary=True).fetchone() == (aware,)
    assert pg_sync.execute("SELECT %t::timestamptz", [aware]).fetchone() == (aware,)


def test_native_values_keep_psycopg_adapters(pg_sync: psycopg.Connection[Any]) -> None:
    configure_adapters(pg_sync.adapters)
    values = [
        "ünïcødé ✓", 2**63 - 1, float("inf"), -0.0, True, Decimal("-Infinity"), Decimal("1.5E+30"), dt.date(1, 1, 1),
        dt.time(23, 59, 59, 999999), dt.timedelta(days=-3, microseconds=7), uuid.UUID(int=1), b"\x00\xff",
        [1, None, 3], [], {"a": [1, {"b": None}]},
    ]  # fmt: skip
    marks = ", ".join(["%s"] * len(values))
    row = pg_sync.execute(f"SELECT {marks}".replace("%s, %s, %s)", ""), values, binary=True).fetchone()
    assert row is not None
    assert list(row[:-2]) == values[:-2] and row[-1] == values[-1]
    nan = pg_sync.execute("SELECT %s::float8, %s::numeric", [float("nan"), Decimal("NaN")], binary=True).fetchone()
    assert nan is not None and nan[0] != nan[0] and nan[1].is_nan()


def test_heeranjid_parameters(pg_sync: psycopg.Connection[Any]) -> None:
    configure_adapters(pg_sync.adapters)
    ranj = djogi.RanjId.from_str(str(pg_sync.execute("SELECT ranjid_next()").fetchone()[0]))  # type: ignore[index]
    for binary in (True, False):
        row = pg_sync.execute(
            "SELECT %s::bigint, %s::bigint, %s::uuid, pg_typeof(%s)::text, %s::bigint, %s::uuid",
            [djogi.HeerIdDesc(2**63 - 1), djogi.HeerId(7), ranj, heeranjid.HeerIdDesc(1), heeranjid.HeerIdDesc(9),
             djogi.RanjId.info(ranj)],
            binary=binary,
        ).fetchone()
        assert row == (2**63 - 1, 7, ranj, "bigint", 9, ranj)


def test_encode_value_rejects_with_model_field_and_fix(shapes: dict[str, type[Model]]) -> None:
    person, doc = descriptor(shapes["Person"]), descriptor(shapes["Doc"])

    def rejected(desc: Any, name: str, value: object) -> str:
        with pytest.raises(ValidationError) as info:
            encode_value(desc.field(name), value, model=desc.name)
        return str(info.value)

    assert rejected(person, "age", 32768) == (
        "Person.age (SMALLINT): 32768 is outside the SMALLINT range -32768..32767; pass an int within the "
        "column's range, or declare a wider type (BigInt)"
    )
    assert "cannot use True (bool); expected int" in rejected(person, "age", True)
    assert "6 characters, more than the 5 of VARCHAR(5)" in rejected(person, "name", "abcdef")
    assert "NUL" in rejected(person, "name", "a\x00b")
    assert "surrogates" in rejected(person, "name", "\ud800")
    assert "cannot use 5 (int); expected str" in rejected(person, "name", 5)
    assert "cannot use 'sad' (str); expected a Mood member" in rejected(person, "mood", "sad")
    assert "element 1: cannot use 'sad' (str); expected a Mood" in rejected(person, "moods", [Mood.HAPPY, "sad"])
    assert "cannot use {'isbn': 'x'} (dict); expected Meta" in rejected(person, "meta", {"isbn": "x"})
    assert "NULL (None) for a NOT NULL column" in rejected(person, "name", None)
    assert (
        "Doc.born (TIMESTAMPTZ): naive datetime datetime.datetime(2024, 1, 1, 0, 0) (no timezone); attach a timezone"
        in rejected(doc, "born", dt.datetime(2024, 1, 1))
    )
    assert "cannot use '5' (str); expected int" in rejected(doc, "owner", "5")
    assert "-5 is not a HeeRanjID key" in rejected(doc, "owner", -5)
    assert encode_value(doc.field("owner"), 5) == 5  # a plain int key, as create() takes it
    assert encode_value(person.field("mood"), "grumpy") == "grumpy"
    assert encode_value(person.field("moods"), (Mood.HAPPY, None)) == [Mood.HAPPY, None]
    assert encode_value(person.field("age"), -32768) == -32768


def test_row_decoder_errors_name_model_and_field(
    pg_sync: psycopg.Connection[Any], shapes: dict[str, type[Model]]
) -> None:
    person = shapes["Person"]
    columns = ("id", "name", "mood")
    decoder = row_decoder(person, columns)
    assert row_decoder(person, columns) is decoder
    ok = decoder.decode_row((5, "Ann", b"happy"))
    assert ok.id == djogi.HeerIdDesc(5) and ok.mood is Mood.HAPPY and ok.created_at is msgspec.UNSET
    assert ok.moods is msgspec.UNSET and ok.age is msgspec.UNSET  # not read: UNSET, never the field's default
    with pytest.raises(DecodeError, match=r"Person.mood: cannot decode 'sad'"):
        decoder.decode_row((5, "Ann", "sad"))
    with pytest.raises(DecodeError, match=r"Person.mood: cannot decode 'sad'.*\(row 1\)"):
        decoder.decode_rows([(5, "Ann", "happy"), (6, "Bob", "sad")])
    with pytest.raises(DecodeError, match="row has 2 values for 3 columns"):
        decoder.decode_row((5, "Ann"))
    with pytest.raises(DecodeError, match=r"Person\.meta: JSONB value does not fit Meta"):
        row_decoder(person, ("name", "meta")).decode_row(("Ann", {"pages": 1}))
    with pytest.raises(ValueError, match="Person has no column"):
        row_decoder(person, ("id", "nope"))
    with pytest.raises(ValueError, match=r"needs the column\(s\) of required field\(s\) \['name'\]"):
        row_decoder(person, ("id",))
