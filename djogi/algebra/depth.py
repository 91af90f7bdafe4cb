"""Deeply nested values: any nesting up to ``MAX_DEPTH`` nodes works, deeper ones are a ``ValidationError``.

The algebra's walks (rendering, shaping, ``node_key``, in-memory evaluation) recurse once per level of
nesting, so a predicate or expression nested a few hundred levels deep (``x = x + 1`` in a loop, a chain of
``~(p | q)``) exceeds Python's default recursion limit. The public entry points (``compile`` and so
``.sql()``, ``node_key`` and so ``==`` / ``hash`` of predicates and queries, ``compile_python``,
``matches``, ``is_portable``, and the query combinators) are wrapped by ``guarded``: the common, shallow
call costs nothing more; when a ``RecursionError`` occurs, the value's depth is measured without
recursion, a value deeper than ``MAX_DEPTH`` nodes is refused with a ``ValidationError``, and otherwise the
call is repeated with the recursion limit raised for its duration.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import msgspec

from djogi.errors import ValidationError

__all__ = ["MAX_DEPTH", "check_depth", "guarded", "nesting_depth", "recursion_room", "retry_deep"]

MAX_DEPTH = 10_000
"""The deepest nesting (nodes on the longest path from the root) the algebra accepts."""

_FRAMES_PER_LEVEL = 8  # Python frames the recursive walks use per level of nesting, at most
_lock = threading.Lock()
_holders = 0
_saved_limit = 0

P = ParamSpec("P")
R = TypeVar("R")


def _children(node: object) -> tuple[Any, ...] | list[Any]:
    if isinstance(node, msgspec.Struct):
        return [getattr(node, f) for f in node.__struct_fields__]
    if type(node) is tuple or type(node) is list:
        return node
    if type(node) is dict:
        return list(node.values())
    return ()


def nesting_depth(value: object) -> int:
    """The number of nodes (Structs, tuples, lists, dicts) on the longest path down from ``value``, measured
    without recursion; a subtree shared by several parents is measured once."""
    depth: dict[int, int] = {}
    stack: list[tuple[object, bool]] = [(value, False)]
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        if key in depth:
            continue
        kids = _children(node)
        if expanded or not kids:
            depth[key] = 1 + max((depth.get(id(k), 0) for k in kids), default=0) if kids else 0
            continue
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in depth)
    return depth[id(value)]


def check_depth(depth: int) -> None:
    """``ValidationError`` when ``depth`` exceeds ``MAX_DEPTH``."""
    if depth > MAX_DEPTH:
        raise ValidationError(
            f"the value is nested {depth} levels deep; djogi accepts at most {MAX_DEPTH} "
            "(build long AND / OR chains with and_(*parts) / or_(*parts), which stay flat)"
        )


@contextmanager
def recursion_room(depth: int) -> Iterator[None]:
    """Raise the interpreter's recursion limit enough for walks of ``depth`` levels, for the duration of
    the block (thread-safe: the limit is restored when the last concurrent holder leaves)."""
    global _holders, _saved_limit
    with _lock:
        if _holders == 0:
            _saved_limit = sys.getrecursionlimit()
        _holders += 1
        need = _saved_limit + depth * _FRAMES_PER_LEVEL
        if sys.getrecursionlimit() < need:
            sys.setrecursionlimit(need)
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                sys.setrecursionlimit(_saved_limit)


def retry_deep(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)`` again after a ``RecursionError``: refused past ``MAX_DEPTH``, else run with
    room for the arguments' depth."""
    depth = max([nesting_depth(a) for a in (*args, *kwargs.values())], default=0)
    check_depth(depth)
    with recursion_room(depth):
        try:
            return fn(*args, **kwargs)
        except RecursionError:
            raise ValidationError(
                f"the value is too deeply nested ({depth} levels) for this interpreter's stack"
            ) from None


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` made safe for deep values (see the module docstring): shallow calls run as they are."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except RecursionError:
            pass
        return retry_deep(fn, *args, **kwargs)

    return call
