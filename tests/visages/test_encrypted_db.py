"""Encrypted-at-rest fields against the real server: every write path seals, every read opens, filters refuse."""

from __future__ import annotations

import msgspec
import pytest

from djogi import EncryptedFieldError, KeyRingError, ValidationError, to_visage, visage, visage_query
from djogi.codecs.encrypted import OVERHEAD
from djogi.executor import Database, StatementEvent

from .models import Patient, schema_sql

pytestmark = pytest.mark.anyio
K1, K2 = "11" * 32, "22" * 32


@pytest.fixture
async def edb(db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("DJOGI_KEYRING", f"1:{K1}")
    for statement in schema_sql():
        await db.raw(statement)
    return db


async def _stored(db: Database, name: str) -> tuple[bytes, bytes | None]:
    rows = await db.raw("SELECT ssn, diagnosis FROM vis_patients WHERE name = $1", (name,))
    ((ssn, diagnosis),) = rows
    return bytes(ssn), None if diagnosis is None else bytes(diagnosis)


async def test_create_get_save_round_trip(edb: Database) -> None:
    events: list[StatementEvent] = []
    edb.add_listener(events.append)
    ann = await edb.create(Patient(name="Ann", ssn="123-45-6789", diagnosis="flu"))
    assert (ann.ssn, ann.diagnosis) == ("123-45-6789", "flu")
    ssn, diagnosis = await _stored(edb, "Ann")
    assert b"123-45-6789" not in ssn and ssn[:2] == b"\x01\x01" and len(ssn) == len("123-45-6789") + OVERHEAD
    assert diagnosis is not None and b"flu" not in diagnosis
    assert await edb.get(Patient, ann.id) == ann
    saved = await edb.save(ann, diagnosis=None)
    assert saved.diagnosis is None and (await _stored(edb, "Ann"))[1] is None
    assert not any("123-45-6789" in repr(e.params) or "flu" in repr(e.params) for e in events)


async def test_equal_texts_have_different_ciphertexts(edb: Database) -> None:
    await edb.create(Patient(name="A", ssn="same"))
    await edb.create(Patient(name="B", ssn="same"))
    assert (await _stored(edb, "A"))[0] != (await _stored(edb, "B"))[0]


async def test_bulk_paths_seal(edb: Database) -> None:
    made = await edb.bulk_create([Patient(name=f"c{i}", ssn=f"ssn-{i}") for i in range(3)])
    await edb.bulk_insert([Patient(name="i0", ssn="ssn-i0", diagnosis="cold")], conflict_target=["id"])
    await edb.bulk_update([msgspec.structs.replace(made[0], ssn="ssn-new")], fields=["ssn"])
    rows = {p.name: (p.ssn, p.diagnosis) for p in await edb.all(Patient.objects)}
    assert rows == {"c0": ("ssn-new", None), "c1": ("ssn-1", None), "c2": ("ssn-2", None), "i0": ("ssn-i0", "cold")}
    for name in rows:
        assert b"ssn" not in (await _stored(edb, name))[0]


async def test_filters_on_encrypted_columns_are_refused(edb: Database) -> None:
    with pytest.raises(ValidationError, match=r"Patient\.ssn: the column is encrypted at rest"):
        Patient.objects.filter(Patient.ssn == "123")
    with pytest.raises(ValidationError, match="encrypted at rest"):
        Patient.objects.filter(Patient.ssn.in_(["1", "2"]))
    with pytest.raises(ValidationError, match=r"order_by\(\): Patient\.ssn is encrypted at rest"):
        Patient.objects.order_by(Patient.ssn.desc())
    with pytest.raises(ValidationError, match=r"order_by\(\): Patient\.diagnosis is encrypted at rest"):
        Patient.objects.order_by(Patient.diagnosis)
    await edb.create(Patient(name="Ann", ssn="1"))
    assert await edb.count(Patient.objects.filter(Patient.diagnosis == None)) == 1  # noqa: E711


async def test_rotation_by_appending_a_key(edb: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    old = await edb.create(Patient(name="Old", ssn="old"))
    monkeypatch.setenv("DJOGI_KEYRING", f"1:{K1},2:{K2}")
    new = await edb.create(Patient(name="New", ssn="new"))
    assert (await _stored(edb, "Old"))[0][1] == 1 and (await _stored(edb, "New"))[0][1] == 2
    assert {p.ssn for p in await edb.all(Patient.objects)} == {"old", "new"}
    monkeypatch.setenv("DJOGI_KEYRING", f"2:{K2}")
    with pytest.raises(EncryptedFieldError, match=r"Patient\.ssn: .*key id 1, which DJOGI_KEYRING no longer holds"):
        await edb.get(Patient, old.id)
    assert (await edb.get(Patient, new.id)).ssn == "new"


async def test_tampered_or_moved_values_do_not_decrypt(edb: Database) -> None:
    await edb.create(Patient(name="Ann", ssn="123", diagnosis="flu"))
    await edb.raw("UPDATE vis_patients SET diagnosis = ssn")  # a ciphertext moved to another field
    with pytest.raises(EncryptedFieldError, match=r"Patient\.diagnosis: the stored value does not authenticate"):
        await edb.all(Patient.objects)
    await edb.raw("UPDATE vis_patients SET diagnosis = '\\x0102'::bytea")
    with pytest.raises(EncryptedFieldError, match="fewer than an encrypted value's 30"):
        await edb.all(Patient.objects)


async def test_no_keyring(edb: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DJOGI_KEYRING")
    with pytest.raises(KeyRingError, match="DJOGI_KEYRING is empty"):
        await edb.create(Patient(name="Ann", ssn="1"))
    assert await edb.count(Patient.objects) == 0
    monkeypatch.setenv("DJOGI_KEYRING", f"1:{K1[:-2]}")
    with pytest.raises(KeyRingError, match="entry 1 is not") as caught:
        await edb.create(Patient(name="Ann", ssn="1"))
    assert K1[:-2] not in str(caught.value)


async def test_visages_decrypt_exposed_fields(edb: Database) -> None:
    ann = await edb.create(Patient(name="Ann", ssn="123", diagnosis="flu"))
    admin = visage(Patient, "admin")
    assert admin.__struct_fields__ == ("id", "created_at", "updated_at", "name", "ssn")
    (row,) = await edb.all(visage_query(admin))
    assert row == to_visage(ann, admin) and row.ssn == "123"  # type: ignore[attr-defined]


async def test_repr_hides_protected_values(edb: Database) -> None:
    ann = await edb.create(Patient(name="Ann", ssn="123-45-6789", diagnosis="flu"))
    text = repr(ann) + str(ann)
    assert "123-45-6789" not in text and "flu" not in text and "Ann" in text
