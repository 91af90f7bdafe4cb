"""Model instances are plain frozen msgspec Structs: JSON, replace, pattern matching, equality."""

import datetime as dt
import json
from collections.abc import Iterator

import msgspec
import pytest

import djogi
from djogi import Field, ForeignKey, Model, field
from djogi.codecs import json_decode, json_encode
from djogi.model import registry_scope


@pytest.fixture
def models() -> Iterator[tuple[type[Model], type[Model]]]:
    with registry_scope():

        class Owner(Model, table="owners"):
            name: Field[str]

        class Pet(Model, table="pets"):
            name: Field[str]
            owner: ForeignKey[Owner]
            born: Field[dt.date | None] = field(default=None)

        yield Owner, Pet


def test_json_round_trip_of_models_with_keys(models: tuple[type[Model], type[Model]]) -> None:
    """Keys are plain ints (HeerId kinds): msgspec, djogi's json codec and ``json`` write them as numbers,
    and decoding into the model gives the model back (issue 15)."""
    _, pet_model = models
    created = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)
    owner_id = djogi.HeerIdDesc(2**62 + 12345)  # beyond JavaScript's safe integers: exact in JSON itself
    pet = pet_model(id=djogi.HeerIdDesc(77), created_at=created, updated_at=created, name="Rex", owner=owner_id)
    data = json_encode(pet)
    assert data == msgspec.json.encode(pet)
    assert msgspec.json.decode(data) == {
        "id": 77,
        "created_at": "2024-05-01T12:30:00Z",
        "updated_at": "2024-05-01T12:30:00Z",
        "name": "Rex",
        "owner": 2**62 + 12345,
        "born": None,
    }
    assert json_decode(data, pet_model) == pet == msgspec.json.decode(data, type=pet_model)
    assert json.loads(json.dumps(pet.owner)) == pet.owner == int(pet.owner)

    class PetOut(msgspec.Struct, frozen=True):
        id: djogi.HeerIdDesc
        owner: djogi.HeerIdDesc
        ranj: djogi.RanjId | None = None

    out = json_decode(data, PetOut)
    assert out.id == djogi.HeerIdDesc(77) and out.owner == owner_id
    # the decimal-string form (HeeRanjID's serde) is accepted in msgspec's lax mode
    lax = msgspec.json.decode(b'{"id": "5", "owner": 6}', type=PetOut, strict=False)
    assert lax == PetOut(djogi.HeerIdDesc(5), djogi.HeerIdDesc(6))
    for bad in (b'{"id": -1, "owner": 6}', b'{"id": 9223372036854775808, "owner": 6}', b'{"id": "5", "owner": 6}'):
        with pytest.raises(msgspec.ValidationError, match="id"):
            json_decode(bad, PetOut)


def test_instances_are_frozen_structs(models: tuple[type[Model], type[Model]]) -> None:
    owner_model, pet_model = models
    pet = pet_model(name="Rex", owner=djogi.HeerIdDesc(1))
    assert pet.id is msgspec.UNSET and pet.created_at is msgspec.UNSET
    with pytest.raises(AttributeError):
        pet.name = "Max"  # type: ignore[misc]
    older = msgspec.structs.replace(pet, born=dt.date(2020, 1, 1))
    assert type(older) is pet_model and older.born == dt.date(2020, 1, 1) and pet.born is None
    assert older != pet and msgspec.structs.replace(older, born=None) == pet
    assert hash(pet) == hash(msgspec.structs.replace(pet))
    assert isinstance(pet, msgspec.Struct) and not isinstance(pet, owner_model)


def test_pattern_matching(models: tuple[type[Model], type[Model]]) -> None:
    owner_model, pet_model = models

    def describe(value: object) -> str:
        match value:
            case pet_model(name=name, born=None):  # type: ignore[misc]
                return f"pet {name}, birthday unknown"
            case pet_model(name=name, born=dt.date(year=year)):  # type: ignore[misc]
                return f"pet {name}, born {year}"
            case owner_model(name=name):  # type: ignore[misc]
                return f"owner {name}"
        return "?"

    assert describe(pet_model(name="Rex", owner=djogi.HeerIdDesc(1))) == "pet Rex, birthday unknown"
    assert describe(pet_model(name="Rex", owner=djogi.HeerIdDesc(1), born=dt.date(2019, 3, 1))) == "pet Rex, born 2019"
    assert describe(owner_model(name="Ann")) == "owner Ann"


def test_objects_is_one_immutable_select_per_model() -> None:
    from djogi.algebra.query import select

    with registry_scope():

        class Shelf(Model, table="inst_shelves"):
            label: Field[str]

        assert Shelf.objects is Shelf.objects
        assert Shelf.objects == select(Shelf)
        assert Shelf.objects.filter(Shelf.label == "a") is not Shelf.objects


def test_class_level_columns_resolve_per_class_and_are_cached_in_c() -> None:
    """``Shelf.label`` is a column of Shelf, ``Tall.label`` (a subclass model) one of Tall, each cached on the
    class's own metaclass as a property over ``dict.get`` (no Python frame per read); instances still read
    their values, and an abstract base without a table still shows msgspec's field descriptor."""
    from djogi.algebra.expr import Column

    with registry_scope():

        class Labelled(Model):
            label: Field[str]

        class Shelf(Labelled, table="inst_label_shelves"):
            width: Field[int]

        class Tall(Shelf, table="inst_label_tall"):
            height: Field[int]

        assert not isinstance(Labelled.label, Column)
        assert isinstance(Shelf.label, Column) and Shelf.label.model is Shelf
        assert Tall.label.model is Tall and Tall.width.model is Tall and Tall.height.model is Tall
        assert Shelf.label is Shelf.label and Tall.objects.model is Tall
        cached = type(Tall).__dict__["label"]
        assert isinstance(cached, property) and type(cached.fget).__name__ == "builtin_function_or_method"
        assert Tall(label="a", width=1, height=2).label == "a"
        with pytest.raises(AttributeError, match="has no attribute 'depth'"):
            _ = Tall.depth

        class Untabled(Tall):  # a subclass declaring no table shares Tall's metaclass, not its columns
            depth: Field[int]

        assert not isinstance(Untabled.label, Column) and not isinstance(Untabled.depth, Column)


def test_abstract_bases_still_combine_and_a_metaclass_called_directly_works() -> None:
    from djogi.model import ModelMeta

    with registry_scope():

        class Stamped(Model):
            async def before_save(self, db: object) -> None: ...

        class Labelled(Model):
            label: Field[str]

        class Box(Labelled, Stamped, table="inst_boxes"):
            size: Field[int]

        made = ModelMeta("Made", (Model,), {"__annotations__": {"n": Field[int]}, "__module__": __name__},
                         table="inst_made")  # fmt: skip
        assert Box.label.model is Box and Box.size.model is Box and made.n.model is made  # type: ignore[attr-defined]
