"""Public algebra entry points raise djogi errors only: random ``(field, op, value)`` filter triples give a
predicate or a ``DjogiError``, never a bare ``ValueError`` / ``TypeError`` / ``decimal.InvalidOperation``."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from djogi import Enum, Field, Model, field
from djogi.algebra.filters import OPS, predicate_from_filters
from djogi.algebra.predicate import Pred
from djogi.errors import DjogiError
from djogi.types import Jsonb

EXAMPLES = int(os.environ.get("DJOGI_PROPERTY_EXAMPLES", "300"))


class FzKind(Enum):
    A = "a"
    B = "b"


class FzRow(Model, table="fz_rows"):
    name: Field[str]
    qty: Field[int] = field(default=0)
    ratio: Field[float] = field(default=0.0)
    price: Field[Decimal] = field(default=Decimal(0))
    flag: Field[bool] = field(default=False)
    day: Field[dt.date | None] = field(default=None)
    at: Field[dt.datetime | None] = field(default=None)
    clock: Field[dt.time | None] = field(default=None)
    span: Field[dt.timedelta | None] = field(default=None)
    token: Field[uuid.UUID | None] = field(default=None)
    blob: Field[bytes | None] = field(default=None)
    kind: Field[FzKind] = field(default=FzKind.A)
    tags: Field[list[str]] = field(default=[])
    nums: Field[list[int]] = field(default=[])
    meta: Field[Jsonb[dict[str, Any]]] = field(default={})


FIELDS = sorted(f for f in FzRow.__struct_fields__)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(2**70), 2**70), st.floats(), st.decimals(),
    st.text(max_size=6), st.sampled_from(["", " ", "1,2", "nan", "inf", "-inf", "1e999", "sNaN", "1,", ",", "a,b",
                                          "2024-01-01", "2024-13-01", "12:00", "25:00", "true", "maybe", "0x10",
                                          "1_000", "١٢", "\x00", "\ud800", "00000000-0000-0000-0000-000000000000"]),
    st.binary(max_size=3), st.dates(), st.datetimes(), st.times(), st.timedeltas(), st.uuids(),
    st.sampled_from(list(FzKind)), st.just(object()), st.just(Decimal("NaN")), st.just(float("nan")),
)  # fmt: skip
filter_values = st.one_of(scalars, st.lists(scalars, max_size=3), st.tuples(scalars, scalars),
                          st.dictionaries(st.text(max_size=2), scalars, max_size=2))  # fmt: skip


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FIELDS), st.sampled_from(sorted(OPS)), filter_values), max_size=3))
@example([("at", "between", None)])
@example([("at", "between", b"")])
@example([("price", "between", "1")])
@example([("qty", "in", 5)])
def test_random_filters_give_a_predicate_or_a_djogi_error(filters: list[tuple[str, str, Any]]) -> None:
    try:
        pred = predicate_from_filters(FzRow, filters)
    except DjogiError:
        return
    assert isinstance(pred, Pred)


def test_signalling_nan_for_a_float_column_is_a_djogi_error() -> None:
    with pytest.raises(DjogiError):
        predicate_from_filters(FzRow, [("ratio", "eq", Decimal("sNaN"))])


def test_lone_surrogate_in_a_jsonb_filter_is_a_djogi_error() -> None:
    with pytest.raises(DjogiError):
        predicate_from_filters(FzRow, [("meta", "eq", {"k": "\ud800"})])
