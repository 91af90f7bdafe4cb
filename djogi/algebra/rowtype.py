"""Named, typed result rows: the Python type of an expression, and msgspec Structs generated for projections.

``row_type((("genre", Genre), ("n", int)))`` returns a frozen Struct class, the same class for the same
fields (so queries projecting the same names and types compare equal and share compile-cache entries).
``python_type(expr, nullable)`` maps an expression's ``ValueType`` to the Python type rows decode to:
``sum`` over BIGINT is NUMERIC (``Decimal``), ``avg`` is ``Decimal`` (``float`` over DOUBLE PRECISION),
``min``/``max``/``sum``/``avg`` are ``T | None`` (NULL over an empty group), ``count`` is ``int``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import keyword
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

import msgspec

from djogi.algebra.expr import ValueType, text_argument
from djogi.errors import ValidationError
from djogi.identifiers import identifier_problem
from djogi.passwords import PasswordHash

__all__ = ["Row", "check_name", "python_type", "row_type"]

if TYPE_CHECKING:

    class Row:
        """A row of ``values(name=...)`` / ``annotate(...)``: a generated frozen Struct whose fields follow the
        expressions; type checkers see its attributes as ``Any`` (the fields are known only at run time)."""

        def __getattr__(self, name: str) -> Any: ...

else:
    Row = msgspec.Struct

_KIND_PY: dict[str | None, Any] = {
    "str": str, "int": int, "float": float, "decimal": decimal.Decimal, "bool": bool, "date": dt.date,
    "datetime": dt.datetime, "time": dt.time, "timedelta": dt.timedelta, "uuid": uuid.UUID, "bytes": bytes,
    "heerid": int, "json": Any, "jsonb": Any, "password": PasswordHash, "encrypted": str, None: Any,
}  # fmt: skip


def python_type(vtype: ValueType, nullable: bool) -> Any:
    """The Python type a value of ``vtype`` decodes to (``Optional`` when ``nullable``)."""
    if vtype.kind == "enum":
        base: Any = vtype.enum
    elif vtype.kind == "array":
        inner = vtype.enum if vtype.element == "enum" else _KIND_PY.get(vtype.element, Any)
        base = list[inner]  # type: ignore[valid-type]
    else:
        base = _KIND_PY.get(vtype.kind, Any)
    return Optional[base] if nullable and base is not Any else base  # noqa: UP045 (a runtime type object)


def check_name(name: str, what: str) -> str:
    """``name`` if it can be both a SQL alias and a Python attribute, else ``ValidationError``."""
    problem = identifier_problem(text_argument(name, what, "total"))
    if problem is None and (not name.isidentifier() or keyword.iskeyword(name) or name.startswith("__")):
        problem = "it must be a Python identifier not starting with '__'"
    if problem is not None:
        raise ValidationError(f"{what} {name!r}: {problem}")
    return name


_TYPES: dict[tuple[tuple[str, Any], ...], type[msgspec.Struct]] = {}


def row_type(fields: Sequence[tuple[str, Any]]) -> type[msgspec.Struct]:
    """A frozen Struct class with these ``(name, type)`` fields, cached by its fields.

    ``ValidationError`` for a repeated or unusable name.
    """
    key = tuple(fields)
    found = _TYPES.get(key)
    if found is None:
        names = [check_name(n, "result column") for n, _ in key]
        if len(set(names)) != len(names):
            raise ValidationError(f"result column names repeat: {names}")
        found = _TYPES[key] = msgspec.defstruct("Row", list(key), frozen=True, module=__name__)
    return found
