"""Model classes are called through vectorcall (``djogi.vectorcall``), and construction still validates."""

from __future__ import annotations

import msgspec
import pytest

from djogi import Field, Model, field
from djogi.model import ModelMeta
from djogi.vectorcall import HAVE_VECTORCALL, inherit_vectorcall


class VcBook(Model, table="vc_books"):
    title: Field[str]
    pages: Field[int] = field(default=0)


def test_model_metaclass_has_the_vectorcall_flag() -> None:
    assert ModelMeta.__flags__ & HAVE_VECTORCALL


def test_construction_through_vectorcall_keeps_defaults_and_keywords() -> None:
    book = VcBook(title="Dune", pages=412)
    assert (book.title, book.pages) == ("Dune", 412)
    assert VcBook(title="Emma").pages == 0
    with pytest.raises(TypeError, match="title"):
        VcBook(pages=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        VcBook("Dune")  # type: ignore[misc]  # keyword-only


def test_a_fresh_metaclass_gains_the_flag_and_its_classes_still_construct() -> None:
    class Meta(msgspec.StructMeta):
        pass

    inherited = inherit_vectorcall(Meta, msgspec.StructMeta)
    assert inherited and Meta.__flags__ & HAVE_VECTORCALL

    class Point(msgspec.Struct, metaclass=Meta):
        x: int
        y: int = 2

    assert Point(1) == Point(x=1, y=2)
    assert inherit_vectorcall(Meta, msgspec.StructMeta)  # already set: nothing to do


def test_a_base_without_vectorcall_is_left_alone() -> None:
    class Plain:
        pass

    class Child(Plain):
        pass

    assert not inherit_vectorcall(Child, Plain)
    assert not Child.__flags__ & HAVE_VECTORCALL
