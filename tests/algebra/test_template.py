"""Named parameters (``param()``) and ``template()``: a query compiled once, bound per run. Golden SQL and
parameters; every wrong, missing or ill-typed value refused with a ValidationError naming the parameter."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest

import djogi
from djogi import Field, Model, field, param
from djogi.algebra import compile_python, template
from djogi.algebra.compile import compile
from djogi.algebra.expr import Slot, coerce, value_type
from djogi.algebra.template import Template
from djogi.errors import ArgumentTypeError, NotPortable, ValidationError


class Shade(djogi.Enum):
    __pg_name__ = "tpl_shade"
    DARK = "dark"
    LIGHT = "light"


class TplBook(Model, table="tpl_books"):
    title: Field[str]
    price: Field[Decimal] = field(default=Decimal(0))
    shade: Field[Shade] = field(default=Shade.DARK)
    published: Field[dt.date | None] = field(default=None)


COLS = ", ".join(
    f'"tpl_books"."{c}"' for c in ("id", "created_at", "updated_at", "title", "price", "shade", "published")
)
B = '"tpl_books".'


def test_template_pins_sql_and_binds_each_run() -> None:
    q = (TplBook.objects.where(TplBook.title == param("title"), TplBook.price < Decimal(10))
         .order_by(TplBook.id).limit(5))  # fmt: skip
    t = template(q)
    assert t.sql == (f'SELECT {COLS} FROM "tpl_books" WHERE ({B}"title" = $1::text AND {B}"price" < $2::numeric) '
                     f'ORDER BY {B}"id" ASC LIMIT 5')  # fmt: skip
    assert t.names == {"title"}
    assert t.bind({"title": "Dune"}) == ["Dune", Decimal(10)]
    assert t.bind({"title": "Emma"}) == ["Emma", Decimal(10)]


def test_one_name_in_two_places_and_negation() -> None:
    q = TplBook.objects.where(~((TplBook.title == param("t")) | (TplBook.price.between(param("lo"), param("hi")))))
    t = template(q)
    # both sides are NOT NULL (a named parameter is never NULL), so the complements need no IS NULL arm
    assert t.sql == (f'SELECT {COLS} FROM "tpl_books" WHERE ({B}"title" <> $1::text AND '
                     f'{B}"price" NOT BETWEEN $2::numeric AND $3::numeric)')  # fmt: skip
    assert t.bind({"t": "x", "lo": 1, "hi": Decimal("2.5")}) == ["x", Decimal(1), Decimal("2.5")]
    same = template(TplBook.objects.where((TplBook.title == param("t")) | (TplBook.title.startswith("x"))
                                          | (TplBook.title == param("t"))))  # fmt: skip
    assert same.names == {"t"}
    assert same.bind({"t": "y"}) == ["y", "x%", "y"]


def test_values_are_checked_and_normalised_as_where_does() -> None:
    t = template(TplBook.objects.where(TplBook.shade == param("shade"), TplBook.published >= param("since")))
    assert t.sql.endswith(f'WHERE ({B}"shade" = $1::"tpl_shade" AND {B}"published" >= $2::date)')
    assert t.bind({"shade": "light", "since": dt.date(2020, 1, 2)}) == [Shade.LIGHT, dt.date(2020, 1, 2)]
    with pytest.raises(ValidationError, match=r"param\('shade'\)"):
        t.bind({"shade": "grey", "since": dt.date(2020, 1, 2)})
    with pytest.raises(ValidationError, match=r"param\('since'\): cannot use 'soon'"):
        t.bind({"shade": "dark", "since": "soon"})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, r"missing parameter 'title': this prepared query takes title$"),
        ({"titel": "x"}, r"missing parameter 'title'; unknown parameter 'titel': this prepared query takes title$"),
        ({"title": "x", "extra": 1}, r"unknown parameter 'extra': this prepared query takes title$"),
        ({"title": 5}, r"param\('title'\): cannot use 5 \(int\); expected str"),
        ({"title": None}, r"param\('title'\) is None: .*is_null\(\)"),
    ],
)
def test_wrong_missing_or_bad_values_name_the_parameter(values: dict[str, object], message: str) -> None:
    t = template(TplBook.objects.where(TplBook.title == param("title")))
    with pytest.raises(ValidationError, match=message):
        t.bind(values)


def test_a_query_without_parameters_takes_none() -> None:
    t = template(TplBook.objects.order_by(TplBook.id))
    assert t.bind({}) == [] and t.names == frozenset()
    with pytest.raises(ValidationError, match="unknown parameter 'x': this prepared query takes no parameters"):
        t.bind({"x": 1})


def test_compile_and_sql_refuse_an_unbound_parameter() -> None:
    q = TplBook.objects.where(TplBook.title == param("title"))
    for run in (lambda: compile(q), q.sql, lambda: djogi.algebra.count_of(q).sql()):
        with pytest.raises(ValidationError, match=r"param\('title'\) has no value here: .*db\.prepare\(query\), which"):
            run()


def test_untyped_parameter_needs_a_type() -> None:
    untyped = TplBook.objects.where(TplBook.price > djogi.algebra.abs_(param("x")))
    with pytest.raises(ValidationError, match=r"param\('x'\) has no type here"):
        template(untyped)
    typed = template(TplBook.objects.where(TplBook.price > djogi.algebra.abs_(param("x", "numeric"))))
    assert f'{B}"price" > abs($1::numeric)' in typed.sql
    assert typed.bind({"x": Decimal(-3)}) == [Decimal(-3)]


def test_bad_names_and_arguments() -> None:
    with pytest.raises(ArgumentTypeError, match="param\\(\\) name takes a str"):
        param(5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="must be a Python identifier"):
        param("two words")
    with pytest.raises(ArgumentTypeError, match=r"template\(\) and db\.prepare\(\) take a select .*, not Compare\("):
        template(TplBook.title == "x")  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match=r"take a select query .*, not Update\(\.\.\.\)$"):
        template(TplBook.objects.update(title=param("t")))  # type: ignore[arg-type]


def test_a_mutation_with_a_named_parameter_is_refused_naming_it() -> None:
    update = TplBook.objects.where(TplBook.title == "x").update(price=param("p"))
    with pytest.raises(ValidationError, match=r"param\('p'\) has no value here: only a select .* \(Update\) takes"):
        compile(update)


@pytest.mark.parametrize(
    ("method", "op", "bound"),
    [
        ("contains", "LIKE", "%50\\%\\_\\\\x%"),
        ("icontains", 'COLLATE "C" ILIKE', "%50\\%\\_\\\\x%"),
        ("startswith", "LIKE", "50\\%\\_\\\\x%"),
        ("iendswith", 'COLLATE "C" ILIKE', "%50\\%\\_\\\\x"),
        ("iexact", 'COLLATE "C" ILIKE', "50\\%\\_\\\\x"),
        ("regex", "~", "50%_\\x"),
    ],
)
def test_a_pattern_match_binds_its_pattern_on_each_run(method: str, op: str, bound: str) -> None:
    """The text of a pattern match may be a named parameter: each run escapes ``% _ \\`` in the value and
    wraps it in ``%`` as a written text would be (a regex is bound as it is)."""
    t = template(TplBook.objects.where(getattr(TplBook.title, method)(param("t"))))
    written = compile(TplBook.objects.where(getattr(TplBook.title, method)("50%_\\x")))
    assert t.sql == written.sql == f"SELECT {COLS} FROM \"tpl_books\" WHERE {B}\"title\" {op} $1::text"
    assert t.bind({"t": "50%_\\x"}) == list(written.params) == [bound]
    with pytest.raises(ValidationError, match=r"param\('t'\): cannot use 5 \(int\); expected str"):
        t.bind({"t": 5})
    with pytest.raises(ValidationError, match=r"param\('t'\) is None"):
        t.bind({"t": None})


def test_a_named_pattern_in_a_negation_and_beside_an_equality() -> None:
    q = TplBook.objects.where(TplBook.title != param("t"), ~TplBook.title.contains(param("t")))
    t = template(q)
    assert f'{B}"title" <> $1::text' in t.sql and f'{B}"title" NOT LIKE $2::text' in t.sql
    assert t.bind({"t": "a_b"}) == ["a_b", "%a\\_b%"]  # one name: the value itself, and its pattern
    with pytest.raises(ValidationError, match=r"param\('t'\) has no value here"):
        compile(q)
    with pytest.raises(NotPortable, match="named parameter"):
        compile_python(TplBook.title.icontains(param("t")))
    with pytest.raises(ValidationError, match=r"TplBook\.title\.contains\(param\('n'\)\): the parameter is bigint; a"):
        TplBook.title.contains(param("n", "bigint"))


def test_a_named_offset_binds_a_number_of_rows_and_a_named_limit_is_refused() -> None:
    t = template(TplBook.objects.order_by(TplBook.title).limit(10).offset(param("skip")))
    assert t.sql == f'SELECT {COLS} FROM "tpl_books" ORDER BY {B}"title" ASC LIMIT 10 OFFSET $1::bigint'
    assert t.bind({"skip": 20}) == [20] and t.bind({"skip": 0}) == [0]
    too_big = (2**63, f"{2**63} is outside the BIGINT range")
    for bad, problem in ((-1, "-1 is negative"), (True, "cannot use True"), too_big):
        with pytest.raises(ValidationError, match=rf"param\('skip'\): {problem}"):
            t.bind({"skip": bad})
    with pytest.raises(ValidationError, match=r"param\('skip'\) has no value here"):
        compile(TplBook.objects.offset(param("skip")))
    with pytest.raises(ValidationError, match=r"offset\(param\('s'\)\): the parameter is text; an offset is a bigint"):
        TplBook.objects.offset(param("s", "text"))
    refused = r"\(param\('n'\)\): a named parameter cannot stand for the "
    with pytest.raises(ValidationError, match=rf"^limit{refused}limit \(it is written into the SQL as a number"):
        TplBook.objects.limit(param("n"))  # type: ignore[arg-type]
    union = TplBook.objects.values(TplBook.title).union(TplBook.objects.values(TplBook.title))
    with pytest.raises(ValidationError, match=rf"^offset{refused}offset of a set operation; build the query"):
        union.offset(param("n"))  # type: ignore[arg-type]


def test_in_memory_evaluation_refuses_a_named_parameter() -> None:
    with pytest.raises(NotPortable, match="named parameter"):
        compile_python(TplBook.title == param("title"))


def test_none_query_is_empty_and_takes_no_parameters() -> None:
    t = template(TplBook.objects.where(TplBook.title == param("title")).none())  # none() drops the condition
    assert t.empty and t.names == frozenset() and t.bind({}) == []
    with pytest.raises(ValidationError, match="unknown parameter 'title'"):
        t.bind({"title": "x"})


def test_a_list_test_refuses_a_named_parameter() -> None:
    with pytest.raises(ValidationError, match=r"TplBook.title.in\(param\('t'\)\): a named parameter stands for one"):
        TplBook.title.in_(param("t"))  # type: ignore[arg-type]


_SAMPLES: list[tuple[str, object]] = [
    ("bigint", 7), ("bigint", 2**63), ("bigint", True), ("bigint", 7.0), ("numeric", 3), ("numeric", 0.1),
    ("double precision", 2), ("double precision", Decimal("0.1")), ("text", "a\x00b"), ("text", "dune"),
    ("boolean", 1), ("boolean", False), ("date", dt.datetime(2020, 1, 2, tzinfo=dt.UTC)), ("date", dt.date(2020, 1, 2)),
    ("timestamptz", dt.datetime(2020, 1, 2)), ("timestamptz", dt.datetime(2020, 1, 2, tzinfo=dt.UTC)),
    ("timestamp", dt.datetime(2020, 1, 2, 3, 4)), ("timestamp", dt.datetime(2020, 1, 2, tzinfo=dt.UTC)),
    ("jsonb", {"a": [1, 2.5]}), ("jsonb", {1: "x"}), ("text[]", ["a", "b"]), ("text[]", ("a", None)),
    ("bigint[]", [1, 2]), ("bigint[]", "12"), ("bytea", bytearray(b"x")), ("uuid", "not a uuid"),
    ("interval", dt.timedelta(seconds=3)), ("vector", [1, 2.5]), ("vector", [math.nan]), ("tsquery", "a & b"),
]  # fmt: skip


@pytest.mark.parametrize(("sql_type", "value"), _SAMPLES)
def test_each_slot_binds_exactly_as_where_checks(sql_type: str, value: object) -> None:
    """A template picks each slot's check once; a run's value comes out as ``coerce`` (``where()``'s check)
    makes it (an array as a list), or is refused with the same message naming the parameter."""
    vtype = value_type(sql_type)
    query = TplBook.objects.order_by(TplBook.id)
    t = Template(query, "SELECT $1", (Slot("v", vtype),), compile(query).result, False, ())
    try:
        expected: object = coerce(vtype, value, "param('v')")
    except ValidationError as refused:
        with pytest.raises(ValidationError) as caught:
            t.bind({"v": value})
        assert str(caught.value) == str(refused) and str(refused).startswith("param('v'): ")
        return
    bound = t.bind({"v": value})[0]
    assert bound == (list(expected) if type(expected) is tuple else expected)
    assert type(bound) is (list if type(expected) is tuple else type(expected))
