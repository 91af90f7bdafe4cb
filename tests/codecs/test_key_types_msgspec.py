"""Key values and msgspec (issue 15): models are msgspec Structs that users encode directly, so every key
kind encodes and decodes with msgspec and ``json`` out of the box, and a key equals its integer. Key values
are plain ``int`` (HeerId kinds) and ``uuid.UUID`` (RanjId kinds); djogi's key types are ``typing.NewType``
subclasses, which msgspec treats as their supertype."""

from __future__ import annotations

import json
import uuid
from typing import Any

import msgspec
import pytest

from djogi import Field, ForeignKey, HeerId, HeerIdDesc, Model, RanjId, RanjIdDesc, field
from djogi.errors import ValidationError
from djogi.types import Jsonb

RANJ = "00000000-0000-8000-8007-a120006400c8"


class KDesc(Model, table="k_desc"):
    name: Field[str]


class KAsc(Model[HeerId], table="k_asc"):
    name: Field[str]
    parent: ForeignKey[KDesc | None] = field(default=None)


class KRanj(Model[RanjId], table="k_ranj"):
    name: Field[str]


class KRefs(msgspec.Struct, frozen=True):
    owner: HeerIdDesc
    doc: RanjId | None = None


class KRanjDesc(Model[RanjIdDesc], table="k_ranj_desc"):
    name: Field[str]
    refs: Field[Jsonb[dict[str, Any]]] = field(default={})
    typed: Field[Jsonb[KRefs] | None] = field(default=None)


def rows() -> list[Model]:
    desc_id = HeerIdDesc.from_parts(1_700_000_000_000, 3, 7)
    return [
        KDesc(name="a", id=desc_id),
        KAsc(name="b", id=HeerId(4_194_345_002), parent=desc_id),
        KRanj(name="c", id=RanjId.from_str(RANJ)),
        KRanjDesc(
            name="d", id=RanjIdDesc.from_str(RANJ), refs={"owner": desc_id},
            typed=KRefs(owner=desc_id, doc=RanjId.from_str(RANJ)),
        ),
    ]


@pytest.mark.parametrize("row", rows(), ids=lambda r: type(r).__name__)
def test_msgspec_json_round_trip(row: Model) -> None:
    data = msgspec.json.encode(row)
    assert msgspec.json.decode(data, type=type(row)) == row


@pytest.mark.parametrize("row", rows(), ids=lambda r: type(r).__name__)
def test_msgspec_builtins_round_trip(row: Model) -> None:
    assert msgspec.convert(msgspec.to_builtins(row), type(row)) == row


@pytest.mark.parametrize("row", rows()[:2], ids=lambda r: type(r).__name__)
def test_heerid_keys_are_ints(row: Model) -> None:
    assert json.loads(json.dumps(row.id)) == row.id
    assert row.id == int(row.id)  # type: ignore[call-overload]


def test_ranjid_keys_are_uuids() -> None:
    """``json.dumps`` has no UUID support: a RanjId key is written with ``str`` (msgspec writes it as is)."""
    row = rows()[2]
    assert isinstance(row.id, uuid.UUID) and isinstance(row.id, RanjId)
    assert json.loads(json.dumps(str(row.id))) == str(row.id) == msgspec.json.decode(msgspec.json.encode(row.id))


def test_key_types_check_their_values() -> None:
    assert HeerIdDesc("42") == 42 and isinstance(42, HeerIdDesc) and not isinstance(-1, HeerIdDesc)
    assert HeerIdDesc.info(HeerIdDesc.from_parts(1_700_000_000_000, 3, 7)).node_id == 3
    assert RanjId(RANJ) == uuid.UUID(RANJ) and RanjIdDesc.info(uuid.UUID(RANJ)).to_uuid() == uuid.UUID(RANJ)
    for bad in (-1, 2**63, "x", 1.5, True):
        with pytest.raises(ValidationError, match=r"HeerIdDesc: expected an int in 0\.\.2\*\*63-1"):
            HeerIdDesc(bad)
    with pytest.raises(ValidationError, match="RanjId: expected a UUID"):
        RanjId("nope")
