"""Issue 15 (write path): every write path stores exactly what it returns, or refuses with a djogi error
naming the field and writes nothing. One regression test per finding."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from msgspec import UNSET, UnsetType

import djogi
from djogi import Field, ForeignKey, Jsonb, Model, Real, SmallInt, field
from djogi.algebra import insert_one
from djogi.codecs import jsonb_extras, jsonb_replace
from djogi.codecs.values import column_value
from djogi.errors import DjogiError, StaleObject, ValidationError
from djogi.executor import Database
from djogi.executor.bulk import _loaded_column
from djogi.model import descriptor
from tests.migrate.helpers import creating, projected

pytestmark = pytest.mark.anyio


class WpMood(djogi.Enum):
    __pg_name__ = "wp_mood"
    CALM = "calm"
    LOUD = "loud"


class WpMeta(msgspec.Struct, frozen=True):
    isbn: str


class WpOwner(Model, table="wp_owners"):
    name: Field[str]


class WpRow(Model, table="wp_rows"):
    name: Field[str] = field(unique=True)
    small: Field[SmallInt] = field(default=0)
    medium: Field[djogi.Integer] = field(default=0)
    real: Field[Real] = field(default=0.0)
    price: Field[Decimal] = field(precision=10, scale=2, default=Decimal("0"))
    floats: Field[list[float]] = field(default=[])
    ints: Field[list[int]] = field(default=[])
    maybe_ints: Field[list[int | None]] = field(default=[])
    doc: Field[dict[str, Any]] = field(default={})
    meta: Field[Jsonb[WpMeta] | None] = field(default=None)
    mood: Field[WpMood] = field(default=WpMood.CALM)
    owner: ForeignKey[WpOwner | None] = field(default=None)
    label: Field[str] = field(default="")
    at: Field[dt.datetime | None] = field(default=None)
    code: Field[str | UnsetType] = field(db_default="'dflt'", default=UNSET)
    version: Field[int] = field(version=True, default=0)


@pytest.fixture
async def wdb(db: Database) -> Database:
    for up in creating(projected(WpOwner, WpRow)):
        await db.raw(up)
    await db.reload_types()
    return db


async def _count(db: Database) -> int:
    [(n,)] = await db.raw("SELECT count(*) FROM wp_rows")
    return int(n)


async def _refused(db: Database, write: Any, field_name: str) -> None:
    """``write()`` raises a ValidationError naming ``WpRow.<field>`` and no row changes."""
    before = await db.raw("SELECT * FROM wp_rows ORDER BY name")
    with pytest.raises(ValidationError, match=rf"WpRow\.{field_name}\b"):
        await write()
    assert await db.raw("SELECT * FROM wp_rows ORDER BY name") == before


# ---------------------------------------------------------------------------------- 1. full save


async def test_full_save_writes_db_default_fields(wdb: Database) -> None:
    row = await wdb.create(WpRow(name="a"))
    assert row.code == "dflt"
    saved = await wdb.save(msgspec.structs.replace(row, code="edited"))
    assert saved.code == "edited"
    assert await wdb.raw("SELECT code FROM wp_rows") == [("edited",)]


# ---------------------------------------------------------------------------------- 2. JSONB keys and numbers


async def test_full_save_keeps_unknown_jsonb_keys(wdb: Database) -> None:
    await wdb.raw(
        "INSERT INTO wp_rows (name, small, medium, real, price, floats, ints, maybe_ints, doc, meta, mood, label,"
        " version) VALUES ('a', 0, 0, 0, 0, '{}', '{}', '{}', '{\"n\": 1.00000000000000000001}',"
        " '{\"isbn\": \"1\", \"extra\": 5}', 'calm', '', 0)"
    )
    row = await wdb.one(WpRow.objects)
    assert row.meta is not None and dict(jsonb_extras(row.meta)) == {"extra": 5}
    row = await wdb.save(row)
    assert await wdb.raw("SELECT meta->>'extra', doc->>'n' FROM wp_rows") == [("5", "1.00000000000000000001")]
    assert row.meta is not None
    await wdb.save(row, meta=jsonb_replace(row.meta, isbn="2"))
    assert await wdb.raw("SELECT meta FROM wp_rows") == [({"isbn": "2", "extra": 5},)]


async def test_json_refuses_int_keys_and_nan_everywhere(wdb: Database) -> None:
    await _refused(wdb, lambda: wdb.create(WpRow(name="a", doc={1: "x"})), "doc")  # type: ignore[dict-item]
    for doc in ({"x": math.nan}, {"x": [math.inf]}, {"x": Decimal("NaN")}):
        bad = WpRow(name="a", doc=doc)
        await _refused(wdb, partial(wdb.create, bad), "doc")
        await _refused(wdb, partial(wdb.bulk_create, [bad]), "doc")
        await _refused(wdb, partial(wdb.bulk_insert, [bad], conflict_target=["name"]), "doc")


# ---------------------------------------------------------------------------------- 3. ranges, scale, REAL


@pytest.mark.parametrize(
    ("field_name", "value"),
    [("small", 40000), ("medium", 3_000_000_000), ("real", 1e39), ("real", 1e-50), ("price", Decimal("1.005")),
     ("price", Decimal("123456789")), ("price", Decimal("Infinity"))],
)  # fmt: skip
async def test_out_of_range_values_are_refused_on_every_path(wdb: Database, field_name: str, value: object) -> None:
    bad = WpRow(name="a", **{field_name: value})
    await _refused(wdb, lambda: wdb.create(bad), field_name)
    await _refused(wdb, lambda: wdb.bulk_create([bad]), field_name)
    await _refused(wdb, lambda: wdb.bulk_create([bad], returning=False), field_name)
    await _refused(wdb, lambda: wdb.bulk_insert([bad], conflict_target=["name"]), field_name)
    await _refused(wdb, lambda: wdb.get_or_create(bad, lookup=["name"]), field_name)
    row = await wdb.create(WpRow(name="b"))
    await _refused(wdb, lambda: wdb.save(row, **{field_name: value}), field_name)
    await _refused(wdb, lambda: wdb.save(msgspec.structs.replace(row, **{field_name: value})), field_name)
    await _refused(wdb, lambda: wdb.bulk_update([msgspec.structs.replace(row, **{field_name: value})], [field_name]),
                   field_name)  # fmt: skip
    await _refused(wdb, lambda: wdb.execute(WpRow.objects.update(**{field_name: value})), field_name)


async def test_bulk_create_returns_what_is_stored(wdb: Database) -> None:
    [created] = await wdb.bulk_create([WpRow(name="a", real=0.1)])
    [(stored,)] = await wdb.raw("SELECT real FROM wp_rows")
    assert created.real == stored != 0.1
    assert (await wdb.create(WpRow(name="b", real=0.1))).real == stored


# ---------------------------------------------------------------------------------- 4. NaN and infinities


async def test_nan_and_infinities_in_float_arrays_are_stored_exactly(wdb: Database) -> None:
    values = [math.nan, math.inf, -math.inf, -0.0, 1.5]
    inserted = await wdb.bulk_insert([WpRow(name="a", floats=values)], conflict_target=["name"])
    [(stored,)] = await wdb.raw("SELECT floats::text FROM wp_rows WHERE name = 'a'")
    assert stored == "{NaN,Infinity,-Infinity,-0,1.5}"
    assert repr(inserted[0].floats) == repr(values)
    row = await wdb.create(WpRow(name="b"))
    assert await wdb.bulk_update([msgspec.structs.replace(row, floats=values)], ["floats"]) == 1
    assert await wdb.raw("SELECT floats::text FROM wp_rows WHERE name = 'b'") == [(stored,)]


# ---------------------------------------------------------------------------------- 5. NULL inside arrays


async def test_null_array_elements_follow_the_declared_element_type(wdb: Database) -> None:
    rows = await wdb.bulk_create([WpRow(name="a", maybe_ints=[1, None])])
    assert (await wdb.save(rows[0])).maybe_ints == [1, None]
    assert (await wdb.create(WpRow(name="b", maybe_ints=[None]))).maybe_ints == [None]
    await wdb.bulk_insert([WpRow(name="c", maybe_ints=[None, 2])], conflict_target=["name"])
    bad = WpRow(name="x", ints=[1, None])  # type: ignore[list-item]
    await _refused(wdb, lambda: wdb.create(bad), "ints")
    await _refused(wdb, lambda: wdb.bulk_create([bad]), "ints")
    await _refused(wdb, lambda: wdb.bulk_insert([bad], conflict_target=["name"]), "ints")
    await _refused(wdb, lambda: wdb.save(rows[0], ints=[None]), "ints")


# ---------------------------------------------------------------------------------- 6. version bumps


async def test_every_update_path_bumps_the_version(wdb: Database) -> None:
    row = await wdb.create(WpRow(name="a"))
    assert await wdb.execute(WpRow.objects.update(label="bulk")) == 1
    with pytest.raises(StaleObject):
        await wdb.save(msgspec.structs.replace(row, label="stale"))
    assert await wdb.raw("SELECT label, version FROM wp_rows") == [("bulk", 1)]
    await wdb.bulk_upsert([WpRow(name="a", label="up")], conflict_target=["name"], update_fields=["label"])
    await wdb.update_or_create(WpRow(name="a", label="uoc"), lookup=["name"])
    assert await wdb.raw("SELECT label, version FROM wp_rows") == [("uoc", 3)]
    upsert = insert_one(WpRow(name="a", label="do")).on_conflict(WpRow.name).do_update(set={"label": "do"})
    await wdb.execute(upsert)
    assert await wdb.raw("SELECT label, version FROM wp_rows") == [("do", 4)]


# ---------------------------------------------------------------------------------- 7. bulk_create errors


async def test_bulk_create_validates_like_create(wdb: Database) -> None:
    owner = await wdb.create(WpOwner(name="o"))
    plain = int(owner.id)
    [made] = await wdb.bulk_create([WpRow(name="a", owner=plain)])  # type: ignore[arg-type]
    created = await wdb.create(WpRow(name="b", owner=plain))  # type: ignore[arg-type]
    assert made.owner == created.owner == owner.id and type(made.owner) is type(owner.id)
    assert await wdb.raw("SELECT owner_id FROM wp_rows WHERE name = 'a'") == [(plain,)]
    for field_name, value in (("mood", "shouting"), ("label", 5), ("at", dt.datetime(2020, 1, 1))):
        bad = WpRow(name="x", **{field_name: value})
        await _refused(wdb, partial(wdb.create, bad), field_name)
        await _refused(wdb, partial(wdb.bulk_create, [bad]), field_name)
    assert await wdb.one(WpRow.objects.filter(WpRow.name == "a")) == made  # the connection still works


async def test_bulk_create_checks_decimals_whatever_the_callers_context(wdb: Database) -> None:
    """The NUMERIC(10, 2) column check sums the column in a context of its own: a caller's context that
    traps rounding (which the column's bound 10**8 needs at 3 digits) neither leaks a bare
    ``decimal.Rounded`` nor changes what is stored or refused."""
    strict = decimal.Context(prec=3, traps=[decimal.Rounded, decimal.Inexact, decimal.InvalidOperation])
    prices = [Decimal("12345678.91"), Decimal("-0.50"), Decimal("1.500"), Decimal("0")]
    with decimal.localcontext(strict):
        made = await wdb.bulk_create([WpRow(name=f"p{i}", price=p) for i, p in enumerate(prices)])
        assert [m.price for m in made] == prices
        await _refused(wdb, partial(wdb.bulk_create, [WpRow(name="x", price=Decimal("1.005"))]), "price")
    assert await wdb.raw("SELECT price FROM wp_rows ORDER BY name") == [(p,) for p in prices]


class WpBoom(Model, table="wp_boom"):
    n: Field[int | UnsetType] = field(db_default="(1 / 0)", default=UNSET)


async def test_bulk_create_task_group_failure_is_a_djogi_error(wdb: Database) -> None:
    """A failure inside bulk_create's task group (here the query generating a ``db_default``) comes out as
    the djogi error, not an ``ExceptionGroup``, and the pool still works."""
    await wdb.raw(
        "CREATE TABLE wp_boom (id bigint PRIMARY KEY DEFAULT heerid_next_desc(), created_at timestamptz NOT NULL "
        "DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), n bigint NOT NULL DEFAULT 0)"
    )
    with pytest.raises(DjogiError, match="division by zero"):
        await wdb.bulk_create([WpBoom(), WpBoom(n=1)])
    assert await wdb.raw("SELECT count(*) FROM wp_boom") == [(0,)]


async def test_bulk_create_refusing_a_value_in_a_transaction_leaves_it_usable(wdb: Database) -> None:
    """The rows are checked before any is sent (while the keys are generated): a refused value raises
    without failing the transaction, as a failed COPY would."""
    good = [WpRow(name=f"r{i}") for i in range(5)]
    async with wdb.atomic():
        with pytest.raises(ValidationError, match=r"WpRow\.mood\b"):
            await wdb.bulk_create([*good, WpRow(name="x", mood="shouting")])  # type: ignore[arg-type]
        assert len(await wdb.bulk_create(good)) == 5
    assert await _count(wdb) == 5


def test_generated_heerid_keys_are_checked_as_a_column() -> None:
    """Keys loaded from the generator are used as loaded when the whole column is in 0..2**63-1 (one
    ``min``), and each is converted, raising ValidationError naming the bad one, when it is not."""
    desc, key = descriptor(WpOwner), descriptor(WpOwner).pk_field
    keys = [5, 2**63 - 1, 0]
    assert _loaded_column(desc, key, keys) is keys
    with pytest.raises(ValidationError, match="-1"):
        _loaded_column(desc, key, [5, -1])
    with pytest.raises(ValidationError, match="None"):
        _loaded_column(desc, key, [5, None])


class WpTagged(Model, table="wp_tagged"):
    moods: Field[list[WpMood]] = field(default=[])


async def test_bulk_create_refuses_enum_arrays_by_name(wdb: Database) -> None:
    """COPY has no dumper for an enum array yet: refused naming the field, before anything is sent."""
    with pytest.raises(ValidationError, match=r"WpTagged\.moods: bulk_create\(\) cannot COPY an enum array"):
        await wdb.bulk_create([WpTagged(moods=[WpMood.CALM])])


class WpMoment(msgspec.Struct, frozen=True):
    at: dt.datetime


class WpEvent(Model, table="wp_events"):
    moment: Field[Jsonb[WpMoment]]


def test_jsonb_datetimes_with_second_offsets_are_refused() -> None:
    """JSON (RFC 3339) writes whole-minute offsets: msgspec would store 1893 Berlin time (UTC+00:53:28)
    28 seconds off, so such a value is refused; the same instant in UTC is stored exactly."""
    lmt = dt.datetime(1893, 1, 1, tzinfo=ZoneInfo("Europe/Berlin"))
    fd = descriptor(WpEvent).field("moment")
    with pytest.raises(ValidationError, match=r"WpEvent\.moment .*offsets are whole minutes"):
        column_value(fd, WpMoment(at=lmt), model="WpEvent")
    utc = WpMoment(at=lmt.astimezone(dt.UTC))
    assert column_value(fd, utc, model="WpEvent") is utc


# ---------------------------------------------------------------------------------- 8. lone surrogates


async def test_lone_surrogates_raise_djogi_errors(wdb: Database) -> None:
    bad = WpRow(name="a", label="\ud800")
    await _refused(wdb, lambda: wdb.create(bad), "label")
    await _refused(wdb, lambda: wdb.bulk_create([bad]), "label")
    await _refused(wdb, lambda: wdb.bulk_insert([bad], conflict_target=["name"]), "label")
    await _refused(wdb, lambda: wdb.create(WpRow(name="a", doc={"k": "\udc00"})), "doc")
    with pytest.raises(ValidationError, match=r"WpRow\.label"):
        WpRow.objects.filter(WpRow.label == "\ud800")
    with pytest.raises(DjogiError):
        await wdb.create(WpRow(name="a", mood="\ud800"))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="unpaired surrogates"):
        await wdb.raw("SELECT $1::text", ["\ud800"])
    assert await wdb.raw("SELECT 1") == [(1,)]  # the connection still works


# ---------------------------------------------------------------------------------- 9. one table


@pytest.mark.parametrize(
    ("field_name", "value"),
    [("label", "\ud800"), ("real", Decimal("0.5")), ("at", dt.datetime(2020, 1, 1)), ("owner", "7")],
)
async def test_where_and_writes_accept_the_same_values(wdb: Database, field_name: str, value: object) -> None:
    column = getattr(WpRow, field_name)
    try:
        WpRow.objects.filter(column == value)
    except ValidationError:
        await _refused(wdb, lambda: wdb.create(WpRow(name="a", **{field_name: value})), field_name)
        await _refused(wdb, lambda: wdb.bulk_create([WpRow(name="a", **{field_name: value})]), field_name)
    else:
        await wdb.create(WpRow(name="a", **{field_name: value}))
        await wdb.bulk_create([WpRow(name="b", **{field_name: value})])
        assert await _count(wdb) == 2


# ---------------------------------------------------------------------------------- keys stored as UUID


class WpRanjOwner(Model[djogi.RanjId], table="wp_ranj_owners"):
    name: Field[str]


class WpRanjRow(Model, table="wp_ranj_rows"):
    owner: ForeignKey[WpRanjOwner]


async def test_uuid_keys_are_written_on_every_path(db: Database) -> None:
    """RanjId keys are plain UUIDs: create, save, bulk_create and where() take them (a merge once checked
    their storage by the key's Python type and refused every UUID key as "expected int")."""
    for up in creating(projected(WpRanjOwner, WpRanjRow)):
        await db.raw(up)
    owner = await db.create(WpRanjOwner(name="o"))
    other = await db.create(WpRanjOwner(name="p"))
    child = await db.create(WpRanjRow(owner=owner.id))
    [bulk] = await db.bulk_create([WpRanjRow(owner=owner.id)])
    assert bulk.owner == child.owner == owner.id
    moved = await db.save(msgspec.structs.replace(child, owner=other.id))
    assert moved.owner == other.id
    assert await db.raw("SELECT owner_id FROM wp_ranj_rows WHERE id = $1", [child.id]) == [(other.id,)]
    assert [r.id for r in await db.all(WpRanjRow.objects.filter(WpRanjRow.owner == owner.id))] == [bulk.id]
