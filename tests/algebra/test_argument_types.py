"""Wrong kinds of objects given to public algebra entry points raise ``ArgumentTypeError`` (a djogi error that
is also a ``TypeError`` and a ``ValidationError``) naming the argument, never a bare ``TypeError`` /
``AttributeError`` / ``KeyError`` (issue 15)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from djogi import ArgumentTypeError, Field, Model, ValidationError, field
from djogi.algebra import (
    and_,
    compile_python,
    matches,
    not_,
    or_,
    select,
    xor,
)
from djogi.algebra.compile import compile
from djogi.algebra.dml import delete, insert, insert_from, insert_one
from djogi.algebra.expr import cast, func, param
from djogi.algebra.render import RenderContext, render_predicate
from djogi.algebra.sources import aliased
from djogi.errors import DjogiError


class ArgItem(Model, table="arg_items"):
    name: Field[str]
    qty: Field[int] = field(default=0)


Q = ArgItem.objects
JUNK: Any = 5.9

CASES: dict[str, tuple[Callable[[], object], str]] = {
    "compile(42)": (lambda: compile(42), r"^cannot compile int: compile\(\) takes a query or mutation"),  # type: ignore[arg-type]
    "where(5.9)": (lambda: Q.where(JUNK), r"^where\(\) takes predicates such as Book.price > 5, not 5.9$"),
    "filter": (lambda: Q.filter(Q), r"^where\(\) takes predicates"),
    "exclude": (lambda: Q.exclude(JUNK), r"^exclude\(\) takes predicates"),
    "having": (lambda: Q.values(ArgItem.qty).group_by(ArgItem.qty).having(JUNK), r"^having\(\) takes predicates"),
    "and_": (lambda: and_(ArgItem.qty > 1, JUNK), r"^and_\(\) takes predicates"),
    "or_": (lambda: or_(JUNK), r"^or_\(\) takes predicates"),
    "not_": (lambda: not_(JUNK), r"^not_\(\) takes predicates"),
    "xor": (lambda: xor(ArgItem.qty > 1, JUNK), r"^xor\(\) takes predicates"),
    "bool(pred)": (lambda: bool(ArgItem.qty > 1), r"has no truth value"),
    "select(object)": (lambda: select(object), r"^<class 'object'> is not a djogi model"),
    "select([])": (lambda: select([]), r"^\[\] is not a djogi model"),  # type: ignore[arg-type]
    "join": (lambda: Q.join(JUNK), r"^5.9 is not a djogi model"),
    "aliased(model)": (lambda: aliased(JUNK, "a"), r"^5.9 is not a djogi model"),
    "aliased(name)": (lambda: aliased(ArgItem, JUNK), r"^alias takes a str such as 'total', not 5.9$"),
    "insert(model)": (lambda: insert(JUNK, []), r"is not a djogi model"),
    "insert_one": (lambda: insert_one(JUNK), r"is not a djogi model"),
    "cast": (lambda: cast(ArgItem.qty, JUNK), r"^cast\(\) type takes a str such as 'numeric\(10, 2\)', not 5.9$"),
    "func(name)": (lambda: func(JUNK, ArgItem.qty, returns="int"), r"^func\(\) name takes a str"),
    "func(returns)": (lambda: func("f", ArgItem.qty, returns=JUNK), r"^func\(returns=...\) takes a str"),
    "collate": (lambda: ArgItem.name.collate(JUNK), r"^collate\(\) takes a str such as 'C'"),
    "param(name)": (lambda: param(JUNK), r"^param\(\) name takes a str such as 'title', not 5.9$"),
    "param(sql_type)": (lambda: param("x", JUNK), r"^param\('x', sql_type\) takes a str such as 'text', not 5.9$"),
    "param(sql_type=str)": (lambda: param("x", str), r"^param\('x', sql_type\) takes a str such as 'text'"),  # type: ignore[arg-type]
    "on_conflict(constraint=)": (lambda: insert_one(ArgItem(name="a")).on_conflict(constraint=JUNK),
                                 r"^on_conflict\(constraint=...\) takes a str such as 'books_isbn_key', not 5.9$"),
    "for_update(of=)": (lambda: Q.for_update(of=ArgItem), r"^FOR UPDATE of= takes a list of models such as \[Book\]"),
    "matches": (lambda: matches(JUNK, ArgItem(name="a")), r"^compile_python\(\) takes predicates"),
    "compile_python": (lambda: compile_python(JUNK), r"^compile_python\(\) takes predicates"),
    "render_predicate": (lambda: render_predicate(JUNK, RenderContext()), r"^render_predicate\(\) takes predicates"),
    "in_(str)": (lambda: ArgItem.name.in_("abc"), r"^ArgItem.name.in_\(\) takes a list of values, not the str 'abc' "
                 r"\(which would be its characters\); write in_\(\['abc'\]\)"),
    "not_in(bytes)": (lambda: ArgItem.name.not_in(b"ab"), r"^ArgItem.name.not_in\(\) takes a list of values, not"),
    "do_update([...])": (lambda: insert_one(ArgItem(name="a")).on_conflict(ArgItem.name).do_update(["qty"]),  # type: ignore[arg-type]
                         r"^assignments to ArgItem take a mapping of field names to values"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_wrong_kind_of_argument_is_an_argument_type_error(name: str) -> None:
    call, message = CASES[name]
    with pytest.raises(ArgumentTypeError, match=message) as info:
        call()
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValidationError)
    assert isinstance(info.value, DjogiError)


def test_a_plain_bool_keeps_its_hint() -> None:
    with pytest.raises(ArgumentTypeError, match=r"^where\(\): expected a predicate, got the plain bool True"):
        Q.where(True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "call",
    [lambda: insert(ArgItem, JUNK), lambda: delete(JUNK), lambda: insert_from(ArgItem, JUNK, JUNK)],
    ids=["insert(rows)", "delete(query)", "insert_from(columns)"],
)
def test_dml_builders_with_the_wrong_kind_of_argument(call: Callable[[], object]) -> None:
    with pytest.raises(ArgumentTypeError):
        call()
