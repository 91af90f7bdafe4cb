"""Relation options given through ``field(...)``: ON DELETE, deferrability, and their checks."""

from __future__ import annotations

import pytest

from djogi import Field, ForeignKey, Model, field
from djogi.errors import ModelDefinitionError
from djogi.model import descriptor, registry_scope


def test_on_delete_and_deferrable_reach_the_relation() -> None:
    with registry_scope():

        class Owner(Model, table="ro_owners"):
            name: Field[str]

        class Pet(Model, table="ro_pets"):
            owner: ForeignKey[Owner] = field(on_delete="cascade", deferrable=True)
            keeper: ForeignKey[Owner | None] = field(on_delete="set null", default=None)
            vet: ForeignKey[Owner | None] = field(default=None)

        rel = {fd.name: fd.relation for fd in descriptor(Pet).relations}
        assert rel["owner"] is not None and (rel["owner"].on_delete, rel["owner"].deferrable) == ("cascade", True)
        assert rel["keeper"] is not None and rel["keeper"].on_delete == "set null"
        assert rel["vet"] is not None and (rel["vet"].on_delete, rel["vet"].deferrable) == ("restrict", False)
        assert descriptor(Pet).field("keeper").nullable


def test_set_null_needs_an_optional_field() -> None:
    with registry_scope(), pytest.raises(ModelDefinitionError, match=r"Pet2\.owner: on_delete=\"set null\" needs"):

        class Owner2(Model, table="ro_owners2"):
            name: Field[str]

        class Pet2(Model, table="ro_pets2"):
            owner: ForeignKey[Owner2] = field(on_delete="set null")


def test_on_delete_on_a_plain_field_is_refused() -> None:
    with registry_scope(), pytest.raises(ModelDefinitionError, match=r"Odd\.n: on_delete/deferrable apply to"):

        class Odd(Model, table="ro_odd"):
            n: Field[int] = field(on_delete="cascade")
