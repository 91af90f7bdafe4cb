"""In-memory evaluation follows PostgreSQL's value semantics, or refuses with ``NotPortable``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import msgspec
import pytest

import djogi
from djogi import Field, Model, field
from djogi.algebra import abs_, coalesce, func, length, lower, nullif, upper
from djogi.algebra.predicate import Pred
from djogi.errors import NotPortable


class Level(djogi.Enum):
    LOW = "low"
    HIGH = "high"
    MID = "mid"  # declared last: sorts after HIGH in PostgreSQL, before it alphabetically


class Probe(Model, table="eval_probes"):
    name: Field[str | None] = field(default=None)
    other: Field[str | None] = field(default=None)
    n: Field[int | None] = field(default=None)
    x: Field[float | None] = field(default=None)
    d: Field[Decimal | None] = field(default=None)
    at: Field[dt.datetime | None] = field(default=None)
    level: Field[Level | None] = field(default=None)
    tags: Field[list[str]] = field(default=[])
    meta: Field[djogi.Jsonb[dict[str, Any]] | None] = field(default=None)


NAN = float("nan")
EST = dt.timezone(dt.timedelta(hours=-5))

CASES: list[tuple[str, Pred, dict[str, Any], bool]] = [
    ("nan equals nan", Probe.x == NAN, {"x": NAN}, True),
    ("nan above inf", Probe.x > float("inf"), {"x": NAN}, True),
    ("decimal nan above all", Probe.d > Decimal("1e100"), {"d": Decimal("NaN")}, True),
    ("decimal nan in list", Probe.d.in_([Decimal("NaN")]), {"d": Decimal("NaN")}, True),
    ("decimal vs float as float", Probe.d == Probe.x, {"d": Decimal("0.1"), "x": 0.1}, True),
    ("int vs decimal exact", Probe.n == Probe.d, {"n": 10**20, "d": Decimal(10**20)}, True),
    ("null compares false", Probe.n != 1, {"n": None}, False),
    ("negation keeps null", ~(Probe.n == 1), {"n": None}, True),
    ("not_in false on null", Probe.n.not_in([1]), {"n": None}, False),
    ("unset is null", Probe.id.is_null(), {}, True),
    ("instant comparison", Probe.at == dt.datetime(2024, 1, 1, 5, tzinfo=dt.UTC),
     {"at": dt.datetime(2024, 1, 1, tzinfo=EST)}, True),
    ("enum declaration order", Probe.level > Level.HIGH, {"level": Level.MID}, True),
    ("ascii-only icontains", Probe.name.icontains("É"), {"name": "é"}, False),
    ("ascii icontains", Probe.name.icontains("AB"), {"name": "xaby"}, True),
    ("iexact", Probe.name.iexact("straSSe"), {"name": "STRASSE"}, True),
    ("like is literal", Probe.name.contains("a%"), {"name": "abc"}, False),
    ("c-collated ordering", Probe.name.collate("C") < "a", {"name": "B"}, True),
    ("field vs field C", Probe.name.collate("C") > Probe.other, {"name": "é", "other": "z"}, True),
    ("between", Probe.n.between(1, 3), {"n": 3}, True),
    ("xor", (Probe.n == 1) ^ Probe.x.is_null(), {"n": 1, "x": None}, False),
    ("distinct both null", Probe.n.is_distinct_from(Probe.d), {}, False),
    ("array contains", Probe.tags.contains(["a", "b"]), {"tags": ["b", "c", "a"]}, True),
    ("array contained by", Probe.tags.contained_by(["a"]), {"tags": ["a", "b"]}, False),
    ("array overlap", Probe.tags.overlap(["z", "b"]), {"tags": ["b"]}, True),
    ("integer division truncates", Probe.n / 2 == -1, {"n": -3}, True),
    ("exact numeric arithmetic", Probe.d * 3 == Decimal("0.3"), {"d": Decimal("0.1")}, True),
    ("coalesce", coalesce(Probe.n, 7) == 7, {}, True),
    ("nullif nan", nullif(Probe.x, NAN).is_null(), {"x": NAN}, True),
    ("length", length(Probe.name) == 2, {"name": "日本"}, True),
    ("abs", abs_(Probe.x) == 2.5, {"x": -2.5}, True),
    ("ascii lower", lower(Probe.name.collate("C")) == "aé", {"name": "Aé"}, True),
    ("ascii upper", upper(Probe.name.collate("C")) == "Aé", {"name": "aé"}, True),
]  # fmt: skip


@pytest.mark.parametrize(("name", "pred", "values", "expected"), CASES, ids=[c[0] for c in CASES])
def test_semantics(name: str, pred: Pred, values: dict[str, Any], expected: bool) -> None:
    row = Probe(**values)
    assert pred.matches(row) is expected
    assert pred.compile_python()(row) is expected


NOT_PORTABLE: list[tuple[Pred, str]] = [
    (Probe.name < "a", "text ordering depends on the database collation"),
    (Probe.name.regex("a"), "regular expressions"),
    (Probe.meta.path("a") == 1, "JSON"),
    (Probe.at < func("now", returns="timestamptz"), "now\\(\\) has no in-memory evaluation"),
    (lower(Probe.name) == "a", "apply it to x.collate"),
    (Probe.name.collate("de_DE") == "a", "collation 'de_DE'"),
    (Probe.d / 2 > 1, "PostgreSQL-only rules"),
    ((Probe.n == 1) & (Probe.name > "b"), "text ordering"),
]


@pytest.mark.parametrize(("pred", "reason"), NOT_PORTABLE)
def test_not_portable(pred: Pred, reason: str) -> None:
    assert not pred.is_portable()
    with pytest.raises(NotPortable, match=reason) as info:
        pred.compile_python()
    assert info.value.node is not None


def test_compiled_is_reusable_and_fast_enough() -> None:
    keep = ((Probe.n > 1) & Probe.name.istartswith("a") | Probe.x.is_null()).compile_python()
    rows = [Probe(n=i, name="Ab" if i % 2 else "b", x=1.0) for i in range(10)]
    assert [r.n for r in rows if keep(r)] == [3, 5, 7, 9]
    assert msgspec.UNSET is Probe().id
