"""Each node's children, declared once, and every walk of the algebra built on that declaration.

A node class (a frozen msgspec Struct of the algebra) declares which of its fields hold other nodes:

- ``__children__``: fields whose nodes belong to the node's own query scope (a node, ``None``, or tuples
  of those, nested: ``Func.args``, ``Grouping.sets``, ``Insert.rows``, ``Update.assignments``);
- ``__scopes__``: fields holding a query rendered as a scope of its own (a subquery, a derived table, a
  CTE body, a set operation's arms).

Every other field is data (names, flags, types, bound values). The walks here read only these
declarations: ``walk`` / ``find`` (scope-local by default; ``stop`` names node types whose insides belong
to another scope, such as ``outer()`` references), ``map_children`` (rebuild a node with its children
replaced), ``node_key`` / ``same`` / ``key_hash`` (structural identity: every field, ``__key__`` fields
only where a class declares them), ``nesting_depth`` (for the depth guard), and ``field_roles`` (how the
compile cache's shape walk treats each field). All walks are iterative unless noted, so any depth works.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

import msgspec

__all__ = [
    "children",
    "field_roles",
    "find",
    "key_hash",
    "map_children",
    "nesting_depth",
    "node_classes",
    "node_key",
    "same",
    "walk",
]

Role = Literal["child", "scope", "data"]


def _declared(cls: type, name: str) -> tuple[str, ...]:
    value: tuple[str, ...] = getattr(cls, name, ())
    return value


def field_roles(cls: type[msgspec.Struct]) -> tuple[tuple[str, Role], ...]:
    """Each field of ``cls`` in declaration order with its role: ``child``, ``scope`` or ``data``."""
    kids, scopes = _declared(cls, "__children__"), _declared(cls, "__scopes__")
    return tuple((f, "child" if f in kids else "scope" if f in scopes else "data") for f in cls.__struct_fields__)


def node_classes() -> list[type[msgspec.Struct]]:
    """Every Struct class that declares its children (``__children__`` or ``__scopes__``) in its own body,
    among the classes defined so far (import ``djogi.algebra`` first to see them all)."""
    found: list[type[msgspec.Struct]] = []
    todo: list[type] = [msgspec.Struct]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if "__children__" in vars(cls) or "__scopes__" in vars(cls):
            found.append(cls)
    return sorted(set(found), key=lambda c: (c.__module__, c.__qualname__))


_FIELDS: dict[object, tuple[str, ...]] = {}


def _fields(t: type, into_scopes: bool) -> tuple[str, ...]:
    key: object = (t, True) if into_scopes else t
    found = _FIELDS.get(key)
    if found is None:
        found = _declared(t, "__children__") + (_declared(t, "__scopes__") if into_scopes else ())
        _FIELDS[key] = found
    return found


def children(node: object, *, into_scopes: bool = False) -> list[Any]:
    """The nodes directly under ``node`` (flattening tuples, skipping ``None`` and plain values), in
    field order; with ``into_scopes`` the nodes of its scope fields too."""
    out: list[Any] = []
    if isinstance(node, msgspec.Struct):
        _flatten([getattr(node, f) for f in _fields(type(node), into_scopes)], out)
    return out


def _flatten(items: list[Any] | tuple[Any, ...], out: list[Any]) -> None:
    stack = list(reversed(items))
    while stack:
        x = stack.pop()
        if isinstance(x, msgspec.Struct):
            out.append(x)
        elif type(x) is tuple or type(x) is list:
            stack.extend(reversed(x))


def walk(node: object, *, into_scopes: bool = False, stop: tuple[type, ...] = ()) -> Iterator[Any]:
    """Every node in ``node`` (a node, or tuples / lists of nodes and plain values), depth first in field
    order, ``node`` itself first. Scope fields are entered only with ``into_scopes``; the insides of
    ``stop`` nodes are not entered (the nodes themselves are yielded)."""
    stack: list[Any] = []
    _flatten([node], stack)
    stack.reverse()
    while stack:
        x = stack.pop()
        yield x
        if stop and isinstance(x, stop):
            continue
        names = _fields(type(x), into_scopes)
        if names:
            below: list[Any] = []
            _flatten([getattr(x, f) for f in names], below)
            stack.extend(reversed(below))


def find(node: object, types: tuple[type, ...], *, into_scopes: bool = False, stop: tuple[type, ...] = ()) -> Any:
    """The first node of one of ``types`` in ``walk`` order (``None`` if there is none)."""
    for x in walk(node, into_scopes=into_scopes, stop=stop):
        if isinstance(x, types):
            return x
    return None


def map_children(node: Any, fn: Callable[[Any], Any]) -> Any:
    """``node`` with every node in its child fields replaced by ``fn(node)`` (tuples rebuilt, plain values and
    scope fields kept); ``node`` itself when nothing changed. Recursion is in ``fn``'s hands."""
    names = _fields(type(node), False) if isinstance(node, msgspec.Struct) else ()
    changes = {}
    for name in names:
        value = getattr(node, name)
        new = _map_value(value, fn)
        if new is not value:
            changes[name] = new
    return msgspec.structs.replace(node, **changes) if changes else node


def _map_value(value: Any, fn: Callable[[Any], Any]) -> Any:
    if isinstance(value, msgspec.Struct):
        return fn(value)
    if type(value) is tuple:
        items = tuple(_map_value(v, fn) for v in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


# ------------------------------------------------------------------------------------------------ identity


def node_key(node: object) -> tuple[object, ...]:
    """A hashable structural key of a node (or any value inside one).

    Two nodes have equal keys exactly when they are built from the same parts: a node by its type and
    every field (only its ``__key__`` fields where the class declares them: a column by model and field),
    values by (type, value) with NaN equal to NaN. Use it for caches and tests instead of ``==``.

    The key is flat (a prefix encoding: a Struct's type followed by its fields' keys, ``(tuple, n)``
    followed by ``n`` items' keys, ``(type, value)`` for a value), built without recursion, so keys of any
    nesting depth are built, hashed and compared in linear time.
    """
    out: list[object] = []
    stack = [node]
    while stack:
        x = stack.pop()
        t = type(x)
        if isinstance(x, msgspec.Struct):
            key = getattr(t, "__key__", None)
            if key is not None:
                out.append((t, *[getattr(x, f) for f in key]))
            else:
                out.append(t)
                stack.extend(_astuple(x)[::-1])
        elif t is tuple or t is list:
            out.append((tuple, len(x)))  # type: ignore[arg-type]
            stack.extend(x[::-1])  # type: ignore[index]
        elif x != x:  # NaN (float or Decimal)
            out.append((t, "NaN"))
        else:
            out.append((t, x))
    return tuple(out)


_astuple = msgspec.structs.astuple


def same(a: object, b: object) -> bool:
    """Structural equality of two nodes (``==`` on expressions builds a predicate instead)."""
    return node_key(a) == node_key(b)


def key_hash(node: object) -> int:
    """``hash(node_key(node))``: the structural hash of a node."""
    return hash(node_key(node))


# ------------------------------------------------------------------------------------------------ depth


def _parts(node: object) -> tuple[Any, ...] | list[Any]:
    """Everything ``node_key`` and the renderers may descend into: every field of a Struct, the items of a
    tuple or list, the values of a dict."""
    if isinstance(node, msgspec.Struct):
        return _astuple(node)
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
        kids = _parts(node)
        if expanded or not kids:
            depth[key] = 1 + max((depth.get(id(k), 0) for k in kids), default=0) if kids else 0
            continue
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in depth)
    return depth[id(value)]
