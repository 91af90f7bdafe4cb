"""Codec round trips: every supported value, written through a real table and read back by the row decoder,
comes back equal, or is refused before any SQL with ``ValidationError``.

One model holds a nullable column per supported kind. Each case (one kind) inserts a row per example with
``encode_value`` and the binary adapters (``configure_adapters``), then decodes it with ``row_decoder``.
Equality follows PostgreSQL where Python's differs: NaN equals NaN, ``-0.0`` keeps its sign in DOUBLE
PRECISION, tz-aware datetimes compare as instants (they come back in the session's zone), and untyped
JSON numbers compare numerically (JSONB stores decimals).
"""

import datetime as dt
import math
import os
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import djogi
from djogi import Field, ForeignKey, Jsonb, Model, field
from djogi.codecs import configure_adapters, encode_value, jsonb_extras, row_decoder
from djogi.errors import ValidationError
from djogi.model import descriptor

EXAMPLES = int(os.environ.get("DJOGI_PROPERTY_EXAMPLES", "60"))


class Hue(djogi.Enum):
    RED = "red"
    GREEN = "green"
    BLUE_GREEN = "blue green"


class Spec(msgspec.Struct, frozen=True):
    label: str
    size: int | None = None


class Target(Model, table="prop_codec_targets"):
    """Only referenced by ``Sample.ref`` (no FOREIGN KEY constraint is created for it)."""


class Sample(Model, table="prop_codec_samples"):
    text: Field[str | None] = field(default=None)
    short: Field[str | None] = field(max_length=10, default=None)
    small: Field[djogi.SmallInt | None] = field(default=None)
    medium: Field[djogi.Integer | None] = field(default=None)
    big: Field[int | None] = field(default=None)
    real: Field[float | None] = field(default=None)
    amount: Field[Decimal | None] = field(default=None)
    day: Field[dt.date | None] = field(default=None)
    clock: Field[dt.time | None] = field(default=None)
    moment: Field[dt.datetime | None] = field(default=None)
    span: Field[dt.timedelta | None] = field(default=None)
    ident: Field[uuid.UUID | None] = field(default=None)
    blob: Field[bytes | None] = field(default=None)
    doc: Field[dict[str, Any] | None] = field(default=None)
    spec: Field[Jsonb[Spec] | None] = field(default=None)
    ints: Field[list[int | None] | None] = field(default=None)
    words: Field[list[str | None] | None] = field(default=None)
    floats: Field[list[float | None] | None] = field(default=None)
    hue: Field[Hue | None] = field(default=None)
    hues: Field[list[Hue | None] | None] = field(default=None)
    ref: ForeignKey[Target | None] = field(default=None)


DESC = descriptor(Sample)
DDL = "CREATE TABLE prop_codec_samples ({})".format(
    ", ".join(
        [
            "id bigint PRIMARY KEY DEFAULT heerid_next_desc()",
            "created_at timestamptz NOT NULL DEFAULT now()",
            "updated_at timestamptz NOT NULL DEFAULT now()",
        ]
        + [f"{fd.column} {fd.sql_type}" for fd in DESC.fields[3:]]
    )
)

ZONES = [
    dt.UTC,
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("America/St_Johns"),
    ZoneInfo("Europe/Berlin"),
    dt.timezone(dt.timedelta(hours=14)),
    dt.timezone(dt.timedelta(hours=-12, minutes=-30)),
]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "text": st.text(),
    "short": st.text(max_size=14),
    "small": st.integers(-(2**15) - 2, 2**15 + 1),
    "medium": st.integers(-(2**31) - 2, 2**31 + 1),
    "big": st.integers(-(2**63) - 2, 2**63 + 1),
    "real": st.floats(),
    "amount": st.decimals(),
    "day": st.dates(),
    "clock": st.times() | st.times(timezones=st.just(dt.UTC)),
    "moment": st.datetimes(
        min_value=dt.datetime(2, 1, 1),
        max_value=dt.datetime(9998, 12, 31),
        timezones=st.none() | st.sampled_from(ZONES),
    ),
    "span": st.timedeltas(),
    "ident": st.uuids(),
    "blob": st.binary(),
    "doc": st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    "spec": st.builds(Spec, st.text(max_size=10), st.none() | st.integers(-(2**63), 2**63 - 1)),
    "ints": st.lists(st.none() | st.integers(-(2**63), 2**63 - 1), max_size=5),
    "words": st.lists(st.none() | st.text(max_size=6), max_size=5),
    "floats": st.lists(st.none() | st.floats(), max_size=5),
    "hue": st.sampled_from(Hue) | st.sampled_from(["red", "purple"]),
    "hues": st.lists(st.none() | st.sampled_from(Hue), max_size=4),
    "ref": st.integers(0, 2**63 - 1).map(djogi.HeerIdDesc),
}


def _same_float(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return bool(a == b)


def _same(name: str, sent: Any, got: Any) -> bool:
    if sent is None or got is None:
        return sent is got
    if name == "real":
        return _same_float(sent, got)
    if name == "floats":
        return len(sent) == len(got) and all(_same_float(a, b) for a, b in zip(sent, got, strict=True))
    if name == "amount":
        return (sent.is_nan() and got.is_nan()) or sent == got
    if name == "moment":
        return bool(sent.astimezone(dt.UTC) == got.astimezone(dt.UTC)) and got.tzinfo is not None
    if name in ("hue", "hues"):
        return bool(sent == got) and all(x is None or type(x) is Hue for x in (got if name == "hues" else [got]))
    return bool(sent == got)


@pytest.fixture
def conn(pg_sync: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    pg_sync.execute("CREATE TYPE hue AS ENUM ('red', 'green', 'blue green')")
    pg_sync.execute(DDL)
    configure_adapters(pg_sync.adapters)
    yield pg_sync


def round_trip(conn: psycopg.Connection[Any], name: str, value: Any) -> Any:
    """Insert ``value`` into column ``name`` and read the row back as a ``Sample``; None when refused."""
    fd = DESC.field(name)
    try:
        param = encode_value(fd, value, model="Sample")
    except ValidationError as exc:
        assert str(exc).startswith(f"Sample.{name} (")
        return _REFUSED
    cur = psycopg.RawCursor(conn)
    cur.execute(f"INSERT INTO prop_codec_samples ({fd.column}) VALUES ($1) RETURNING id", (param,), binary=True)
    (row_id,) = cur.fetchone()  # type: ignore[misc]
    decoder = row_decoder(Sample, DESC.columns)
    with psycopg.RawCursor(conn, row_factory=decoder.row_factory) as read:
        read.execute(f"SELECT {', '.join(DESC.columns)} FROM prop_codec_samples WHERE id = $1", (row_id,), binary=True)
        sample = read.fetchone()
    assert isinstance(sample, Sample) and sample.id == djogi.HeerIdDesc(row_id)
    return getattr(sample, name)


_REFUSED = object()


def _json_refused(value: Any) -> bool:
    """JSONB cannot hold NUL in text (keys included) nor NaN/Infinity."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_json_refused(k) or _json_refused(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_json_refused(v) for v in value)
    return False


# Values that must be refused before SQL (PostgreSQL cannot store them as sent).
MUST_REFUSE: dict[str, Callable[[Any], bool]] = {
    "text": lambda v: "\x00" in v,
    "short": lambda v: "\x00" in v or len(v) > 10,
    "small": lambda v: not -(2**15) <= v < 2**15,
    "medium": lambda v: not -(2**31) <= v < 2**31,
    "big": lambda v: not -(2**63) <= v < 2**63,
    "clock": lambda v: v.tzinfo is not None,
    "moment": lambda v: v.tzinfo is None,
    "hue": lambda v: v not in Hue._value2member_map_,
    "amount": lambda v: v.is_snan(),
    "doc": _json_refused,
    "spec": lambda v: "\x00" in v.label,
    "words": lambda v: any(w is not None and "\x00" in w for w in v),
}


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_round_trip(conn: psycopg.Connection[Any], name: str) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(value=st.none() | STRATEGIES[name])
    @example(value=None)
    def check(value: Any) -> None:
        got = round_trip(conn, name, value)
        must_refuse = value is not None and MUST_REFUSE.get(name, lambda _: False)(value)
        if got is _REFUSED:
            assert must_refuse, f"{name}: {value!r} was refused but PostgreSQL can store it"
        else:
            assert not must_refuse, f"{name}: {value!r} should have been refused before SQL"
            assert _same(name, value, got), f"{name}: sent {value!r}, got {got!r}"

    check()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("small", -(2**15)),
        ("small", 2**15 - 1),
        ("medium", -(2**31)),
        ("medium", 2**31 - 1),
        ("big", -(2**63)),
        ("big", 2**63 - 1),
        ("real", -0.0),
        ("real", float("nan")),
        ("real", float("-inf")),
        ("amount", Decimal("NaN")),
        ("amount", Decimal("-Infinity")),
        ("amount", Decimal("1E+131071")),
        ("amount", Decimal("1E-16383")),
        ("amount", Decimal("-0.000")),
        ("amount", Decimal("123.4500")),
        ("amount", Decimal("-NaN")),
        ("moment", dt.datetime(2024, 3, 31, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"))),  # in the DST gap
        ("moment", dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin"))),  # ambiguous
        ("span", dt.timedelta.max),
        ("span", dt.timedelta.min),
        ("span", dt.timedelta(microseconds=-1)),
        ("clock", dt.time(23, 59, 59, 999999)),
        ("day", dt.date(1, 1, 1)),
        ("day", dt.date(9999, 12, 31)),
        ("ints", []),
        ("ints", [None]),
        ("words", ["", None, "\u2603"]),
        ("floats", [float("nan"), None, -0.0]),
        ("hues", [Hue.BLUE_GREEN, None]),
        ("ref", djogi.HeerIdDesc(2**63 - 1)),
        ("doc", {"n": 10**18, "f": 0.1, "nested": [{"a": None}, True, "é"]}),
    ],
)
def test_edges(conn: psycopg.Connection[Any], name: str, value: Any) -> None:
    got = round_trip(conn, name, value)
    assert got is not _REFUSED and _same(name, value, got), f"{name}: sent {value!r}, got {got!r}"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("amount", Decimal("1E+131072")),
        ("amount", Decimal("1E-16384")),
        ("amount", Decimal("sNaN")),
        ("doc", {"bad": float("nan")}),
        ("doc", {"k": "\x00"}),
        ("floats", [1.0, "x"]),
        ("ints", [2**63]),
    ],
)
def test_refused_before_sql(conn: psycopg.Connection[Any], name: str, value: Any) -> None:
    assert round_trip(conn, name, value) is _REFUSED


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spec=STRATEGIES["spec"].filter(lambda s: "\x00" not in s.label),
    extras=st.dictionaries(
        st.text(max_size=6).filter(lambda k: k not in ("label", "size")), json_values, max_size=4
    ).filter(lambda d: not _json_refused(d)),
)
@example(spec=Spec("a", 1), extras={"newer": {"deep": [1, None]}})
def test_jsonb_unknown_keys_round_trip(conn: psycopg.Connection[Any], spec: Spec, extras: dict[str, Any]) -> None:
    document = {**msgspec.structs.asdict(spec), **extras}
    cur = psycopg.RawCursor(conn)
    cur.execute(
        "INSERT INTO prop_codec_samples (spec) VALUES ($1::jsonb) RETURNING id",
        (msgspec.json.encode(document).decode(),),
    )
    (row_id,) = cur.fetchone()  # type: ignore[misc]
    with psycopg.RawCursor(conn, row_factory=row_decoder(Sample, ("id", "spec")).row_factory) as read:
        read.execute("SELECT id, spec FROM prop_codec_samples WHERE id = $1", (row_id,), binary=True)
        sample = read.fetchone()
    assert sample is not None and sample.spec == spec and isinstance(sample.spec, Spec)
    assert jsonb_extras(sample.spec) == extras
    cur.execute(
        "UPDATE prop_codec_samples SET spec = $1 WHERE id = $2",
        (encode_value(DESC.field("spec"), sample.spec), row_id),
        binary=True,
    )
    cur.execute("SELECT spec FROM prop_codec_samples WHERE id = $1", (row_id,))
    assert cur.fetchone() == (document,)
