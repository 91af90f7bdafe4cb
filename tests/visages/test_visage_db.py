"""Visages against the real server: narrowed queries, in-memory conversion, nested relations, hashes, parity."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import msgspec
import pytest

from djogi import Field, Loaded, Model, VisageError, check_parity, field, protect, to_visage, visage, visage_query
from djogi.executor import Database, StatementEvent
from djogi.model import registry_scope
from djogi.protect import MASK
from djogi.visages.presentation import hash_id

from .models import Title, TitlePublic, Writer, schema_sql

pytestmark = pytest.mark.anyio
KEY = "0f" * 32


@pytest.fixture
async def vdb(db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("DJOGI_PRESENTATION_HMAC_KEY", KEY)
    for statement in schema_sql():
        await db.raw(statement)
    return db


async def _world(db: Database) -> tuple[Writer, Writer, Title]:
    ann = await db.create(Writer(name="Ann", email="ann@example.com", phone="555", notes="late"))
    bob = await db.create(Writer(name="Bob", email="bob@example.com"))
    title = await db.create(Title(name="Dune", price=12, writer=ann.id, editor=bob.id))
    return ann, bob, title


async def test_query_and_memory_agree(vdb: Database) -> None:
    ann, bob, _ = await _world(vdb)
    for audience in ("public", "self", "admin", "export"):
        v = visage(Writer, audience)
        fetched = await vdb.all(visage_query(v).order_by(Writer.name))
        assert fetched == [to_visage(ann, v), to_visage(bob, v)]
    admin = (await vdb.all(visage_query(visage(Writer, "admin")).order_by(Writer.name)))
    assert [(w.email, w.phone) for w in admin] == [(MASK, MASK), (MASK, None)]  # type: ignore[attr-defined]
    own = await vdb.all(visage_query(visage(Writer, "self")).order_by(Writer.name))
    assert [w.email for w in own] == ["ann@example.com", "bob@example.com"]  # type: ignore[attr-defined]


async def test_hash_id_same_in_sql_and_python(vdb: Database) -> None:
    _, bob, title = await _world(vdb)
    v = visage(Title, "export")
    (row,) = await vdb.all(visage_query(v))
    assert row == to_visage(title, v)
    assert row.editor == hash_id(bob.id) and len(row.editor) == 64  # type: ignore[attr-defined]


async def test_nested_relations_need_loading(vdb: Database) -> None:
    ann, _, title = await _world(vdb)
    admin, own = visage(Title, "admin"), visage(Title, "self")
    with pytest.raises(VisageError, match=r"Title\.writer was not loaded.*prefetch\(Title\.writer\)"):
        to_visage(title, admin)
    (loaded,) = await vdb.all(Title.objects.prefetch(Title.writer))
    assert isinstance(loaded, Loaded)
    shown = to_visage(loaded, admin)
    assert shown.writer == to_visage(ann, visage(Writer, "public"))  # type: ignore[attr-defined]
    assert to_visage(loaded, own).writer == ann  # type: ignore[attr-defined]
    decoded = msgspec.json.decode(msgspec.json.encode(shown))
    assert decoded["writer"] == {"id": ann.id, "created_at": decoded["writer"]["created_at"],
                                 "updated_at": decoded["writer"]["updated_at"], "name": "Ann"}  # fmt: skip
    assert "email" not in decoded["writer"] and "price" in decoded


async def test_declared_visage_with_derived_field(vdb: Database) -> None:
    await _world(vdb)
    (row,) = await vdb.all(visage_query(TitlePublic))
    assert row.shout == "DUNE" and row.name == "Dune"
    assert await check_parity(vdb, TitlePublic) == 1


async def test_prefetch_of_unrelated_visage(vdb: Database) -> None:
    await _world(vdb)
    rows = await vdb.all(Title.objects.prefetch(Title.writer))
    assert [to_visage(r, TitlePublic).name for r in rows] == ["Dune"]


async def test_protected_values_stay_out_of_logs_and_reprs(vdb: Database) -> None:
    events: list[StatementEvent] = []
    vdb.add_listener(events.append)
    ann = await vdb.create(Writer(name="Ann", email="ann@example.com", phone="555-0100"))
    await vdb.save(ann, email="ann@elsewhere.org")
    await vdb.bulk_insert([Writer(name="Bob", email="bob@example.com")], conflict_target=["id"])
    logged = " ".join(repr(e.params) for e in events)
    assert "Ann" in logged and "@" not in logged and "555-0100" not in logged
    shown = repr(ann) + repr(to_visage(ann, visage(Writer, "self")))
    assert "ann@example.com" not in shown and "email=***" in shown and "name='Ann'" in shown


async def test_protected_values_of_every_scalar_type_stay_out_of_logs(vdb: Database) -> None:
    """Not only text: a protected number, date, time, interval, UUID or bytes is sent unchanged and logged
    as ``'***'``; it reads back exactly."""
    with registry_scope():

        class Vault(Model, table="vis_vault"):
            n: Field[int] = field(protected=protect("sensitive", "test"))
            amount: Field[Decimal] = field(protected=protect("sensitive", "test"))
            ratio: Field[float] = field(protected=protect("sensitive", "test"))
            born: Field[dt.date] = field(protected=protect("pii", "test"))
            seen: Field[dt.datetime] = field(protected=protect("pii", "test"))
            at: Field[dt.time] = field(protected=protect("pii", "test"))
            span: Field[dt.timedelta] = field(protected=protect("pii", "test"))
            token: Field[uuid.UUID] = field(protected=protect("secret", "test"))
            blob: Field[bytes] = field(protected=protect("secret", "test"))

        await vdb.raw(
            'CREATE TABLE vis_vault (id BIGINT PRIMARY KEY DEFAULT heerid_next_desc(), created_at TIMESTAMPTZ '
            "NOT NULL DEFAULT now(), updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), n BIGINT NOT NULL, amount "
            "NUMERIC NOT NULL, ratio DOUBLE PRECISION NOT NULL, born DATE NOT NULL, seen TIMESTAMPTZ NOT NULL, "
            "at TIME NOT NULL, span INTERVAL NOT NULL, token UUID NOT NULL, blob BYTEA NOT NULL)"
        )
        events: list[StatementEvent] = []
        vdb.add_listener(events.append)
        values = dict(
            n=987654321, amount=Decimal("1234.5678"), ratio=0.4375, born=dt.date(1971, 2, 3),
            seen=dt.datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC), at=dt.time(10, 11, 12, 131415),
            span=dt.timedelta(days=3, seconds=7, microseconds=9), token=uuid.UUID(int=0xFEEDFACE),
            blob=b"\x00\xffsecret",
        )  # fmt: skip
        row = await vdb.create(Vault(**values))
        assert {k: getattr(row, k) for k in values} == values
        assert {k: type(getattr(row, k)) for k in values} == {k: type(v) for k, v in values.items()}
        logged = " ".join(repr(e.params) for e in events)
        for value in values.values():
            assert repr(value) not in logged and str(value) not in logged
        assert logged.count("'***'") >= len(values)
