"""Deep nesting (issue 15): predicates and expressions nested 1,000+ levels work through every public entry
point, and values nested deeper than ``depth.MAX_DEPTH`` are a ``ValidationError``, never a RecursionError."""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from djogi import Field, Model, field
from djogi.algebra import compile_python, matches, node_key, same
from djogi.algebra.aggregate import sum_
from djogi.algebra.compile import cache_clear, compile
from djogi.algebra.depth import DESCRIBE_DEPTH, MAX_DEPTH
from djogi.algebra.traverse import nesting_depth
from djogi.algebra.window import row_number
from djogi.errors import ValidationError


class DeepItem(Model, table="deep_items"):
    name: Field[str]
    qty: Field[int] = field(default=0)


@functools.cache
def deep_pred(levels: int) -> Any:
    """``levels`` alternating nestings of ``~(p | q)`` and ``(p & q) | r`` (And/Or/Not do not flatten)."""
    p: Any = DeepItem.qty > 0
    for i in range(levels):
        p = ~(p | (DeepItem.qty == i)) if i % 2 else (p & (DeepItem.name == str(i))) | (DeepItem.qty < i)
    return p


@functools.cache
def deep_expr(levels: int) -> Any:
    x: Any = DeepItem.qty
    for i in range(levels):
        x = x + i
    return x


ROW = DeepItem(name="a", qty=3)
NAMES = ["where", "compile", "sql", "values", "group_by", "window", "update", "matches", "compile_python",
         "matches expr", "node_key", "hash", "==", "same", "query hash"]  # fmt: skip


def entry_points(pred: Any, expr: Any) -> dict[str, Callable[[], object]]:
    def q() -> Any:
        return DeepItem.objects.where(pred)

    return {
        "where": lambda: DeepItem.objects.where(pred),
        "compile": lambda: compile(q()),
        "sql": lambda: DeepItem.objects.where(expr > 1).sql(),
        "values": lambda: compile(DeepItem.objects.values(x=expr, total=sum_(expr))),
        "group_by": lambda: compile(DeepItem.objects.values(expr).group_by(expr).order_by(expr)),
        "window": lambda: compile(DeepItem.objects.values(n=row_number().over(order_by=expr))),
        "update": lambda: compile(q().update(qty=expr)),
        "matches": lambda: matches(pred, ROW),
        "compile_python": lambda: compile_python(pred)(ROW),
        "matches expr": lambda: matches(expr > 1, ROW),
        "node_key": lambda: node_key(pred),
        "hash": lambda: hash(pred),
        "==": lambda: pred == pred,
        "same": lambda: same(expr, expr),
        "query hash": lambda: hash(q()),
    }


@pytest.mark.parametrize("name", NAMES)
def test_a_thousand_levels_work_everywhere(name: str) -> None:
    cache_clear()
    pred, expr = deep_pred(1000), deep_expr(2000)
    assert nesting_depth(pred) > 2000 and nesting_depth(expr) > 2000
    limit = sys.getrecursionlimit()
    entry_points(pred, expr)[name]()
    assert sys.getrecursionlimit() == limit  # raised only while needed


def test_deep_results_are_right() -> None:
    pred = deep_pred(1000)
    shallow = deep_pred(10)
    assert matches(pred, ROW) == matches(pred, ROW)
    stmt = compile(DeepItem.objects.where(deep_expr(1500) > 1))
    assert stmt.sql.count("+") == 1500 and len(stmt.params) == 1501
    copy = deep_pred.__wrapped__(1000)  # an equal value built again
    assert copy is not pred
    assert node_key(pred) == node_key(copy) and hash(pred) == hash(copy)
    assert {pred: 1}[copy] == 1
    assert pred == copy and pred != deep_pred(999)
    assert matches(shallow, ROW) == compile_python(shallow)(ROW)


def test_deep_compile_in_a_worker_thread() -> None:
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(compile(DeepItem.objects.where(deep_pred(3000)))))
    thread.start()
    thread.join()
    assert out and "WHERE" in out[0].sql  # type: ignore[attr-defined]


KEYED = ["node_key", "hash", "==", "same"]  # flat keys: any depth


def test_structural_keys_work_at_any_depth() -> None:
    pred, expr = deep_pred(MAX_DEPTH // 2 + 10), deep_expr(MAX_DEPTH + 10)
    assert nesting_depth(pred) > MAX_DEPTH
    for name in KEYED:
        entry_points(pred, expr)[name]()
    copy = deep_pred.__wrapped__(MAX_DEPTH // 2 + 10)
    assert pred == copy and hash(pred) == hash(copy)


@pytest.mark.parametrize("name", [n for n in NAMES if n not in KEYED])
def test_past_the_limit_is_a_validation_error(name: str) -> None:
    pred, expr = deep_pred(MAX_DEPTH // 2 + 10), deep_expr(MAX_DEPTH + 10)
    with pytest.raises(ValidationError, match=f"nested .* levels deep; djogi accepts at most {MAX_DEPTH}"):
        entry_points(pred, expr)[name]()


def test_repr_and_describe_work_at_any_depth() -> None:
    pred, expr = deep_pred(MAX_DEPTH // 2 + 10), deep_expr(MAX_DEPTH + 10)
    assert repr(expr).count("BinOp(op='+'") == MAX_DEPTH + 10 and str(expr) == repr(expr)
    assert repr(pred).count("Not(part=") == (MAX_DEPTH // 2 + 10) // 2
    assert repr(pred).startswith("Not(part=Or(parts=(And(parts=(Not(part=")
    text = repr(DeepItem.objects.where(deep_pred(1000)))
    assert text.startswith("Select(") and text.count("Not(part=") == 500
    last = MAX_DEPTH + 9
    named = "".join(f" + {i})" for i in range(last - DESCRIBE_DEPTH + 2, last + 1))
    assert expr.describe() == "(" * DESCRIBE_DEPTH + "... + ...)" + named


def test_a_type_error_on_a_deep_expression_names_it_briefly() -> None:
    with pytest.raises(
        ValidationError,
        match=r"^cannot compute \(\(\(.*\.\.\. \+ \.\.\.\) \+ 1977\) .* \+ 1999\) \(int\) \+ 'x' \(str\)$",
    ):
        deep_expr(2000) + "x"


def test_repr_is_msgspecs_repr() -> None:
    """Shallow nodes: the walk writes exactly what msgspec's own (recursive) repr writes."""
    import msgspec

    from djogi.algebra.aggregate import count

    nodes: list[Any] = [
        deep_expr(3),
        deep_pred(4),
        count(),
        DeepItem.qty.asc(),
        (DeepItem.name == "a") | (DeepItem.qty.in_([1])),
    ]
    for node in nodes:
        assert repr(node) == msgspec.Struct.__repr__(node)
