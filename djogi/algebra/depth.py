"""Deeply nested values: any nesting up to ``MAX_DEPTH`` nodes works, deeper ones are a ``ValidationError``.

The algebra's walks (rendering, shaping, ``node_key``, in-memory evaluation) recurse once per level of
nesting, so a predicate or expression nested a few hundred levels deep (``x = x + 1`` in a loop, a chain of
``~(p | q)``) exceeds Python's default recursion limit. The public entry points (``compile`` and so
``.sql()``, ``node_key`` and so ``==`` / ``hash`` of predicates and queries, ``compile_python``,
``matches``, ``is_portable``, and the query combinators) are wrapped by ``guarded``: the common, shallow
call costs nothing more; when a ``RecursionError`` occurs, the value's depth is measured without
recursion, a value deeper than ``MAX_DEPTH`` nodes is refused with a ``ValidationError``, and otherwise the
call is repeated with the recursion limit raised for its duration.

``repr()`` of nodes (``node_repr``) walks without recursion, and ``describe()`` (``described``) names at most
``DESCRIBE_DEPTH`` levels and shows deeper ones as ``...``: both work at any depth and never raise.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import msgspec

from djogi.algebra.traverse import nesting_depth
from djogi.errors import ValidationError

__all__ = [
    "DESCRIBE_DEPTH",
    "MAX_DEPTH",
    "check_depth",
    "described",
    "guarded",
    "node_repr",
    "recursion_room",
    "retry_deep",
]

MAX_DEPTH = 10_000
"""The deepest nesting (nodes on the longest path from the root) the algebra accepts."""

DESCRIBE_DEPTH = 24
"""The levels of an expression ``describe()`` names in error messages; deeper ones show as ``...``."""

_FRAMES_PER_LEVEL = 8  # Python frames the recursive walks use per level of nesting, at most
_lock = threading.Lock()
_describing = threading.local()
_holders = 0
_saved_limit = 0

P = ParamSpec("P")
R = TypeVar("R")


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


def described(describe: Callable[[], str]) -> str:
    """``describe()`` when fewer than ``DESCRIBE_DEPTH`` descriptions enclose it in this thread,
    else ``"..."`` (so describing a node nested any depth takes a bounded stack)."""
    level: int = getattr(_describing, "level", 0)
    if level >= DESCRIBE_DEPTH:
        return "..."
    _describing.level = level + 1
    try:
        return describe()
    finally:
        _describing.level = level


def node_repr(node: msgspec.Struct) -> str:
    """``repr(node)`` as msgspec writes it (``BinOp(op='+', left=..., ...)``), built without recursion through
    nested Structs and tuples, so it works at any depth; other values are shown with ``repr()``."""
    out: list[str] = []
    stack: list[tuple[bool, object]] = [(False, node)]  # (is a piece of text to emit as is, item)
    while stack:
        piece, item = stack.pop()
        if piece:
            out.append(item)  # type: ignore[arg-type]
            continue
        todo: list[tuple[bool, object]]
        if isinstance(item, msgspec.Struct):
            todo = [(True, type(item).__name__ + "(")]
            for i, name in enumerate(item.__struct_fields__):
                todo += [(True, (", " if i else "") + name + "="), (False, getattr(item, name))]
            todo.append((True, ")"))
        elif type(item) is tuple:
            todo = [(True, "(")]
            for i, value in enumerate(item):
                todo += [(True, ", " if i else ""), (False, value)]
            todo.append((True, ",)" if len(item) == 1 else ")"))
        else:
            out.append(repr(item))
            continue
        stack.extend(reversed(todo))
    return "".join(out)
