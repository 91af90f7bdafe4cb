"""The parity check of derived visage fields: PostgreSQL's value of each derived field against its Python form."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

from djogi.algebra.query import select
from djogi.errors import DerivedParityError
from djogi.schema import descriptor
from djogi.visages.core import Visage, visage_query
from djogi.visages.derived import derived_python

__all__ = ["check_parity", "parity_problems"]


class Rows(Protocol):
    """What ``check_parity`` fetches through: ``djogi.Database`` (or anything with its ``all``)."""

    def all(self, query: Any, /) -> Awaitable[Sequence[Any]]: ...


def parity_problems(fetched: Sequence[Visage[Any]], rows: Sequence[Any]) -> list[str]:
    """Where the derived fields of visages ``fetched`` (as PostgreSQL computed them) differ from their Python
    form over the model ``rows`` (matched by primary key): one line per field and row, none when they agree."""
    problems: list[str] = []
    if not fetched:
        return problems
    key = descriptor(type(fetched[0]).__visage_model__).primary_key
    by_key = {tuple(getattr(r, k) for k in key): r for r in rows}
    for shown in fetched:
        v = type(shown)
        ident = tuple(getattr(shown, k) for k in key)
        row = by_key.get(ident)
        if row is None:
            problems.append(f"{v.__name__} {ident!r}: no model row with this key")
            continue
        for f in v.__visage_fields__:
            if f.derived is None:
                continue
            sql_value = getattr(shown, f.name)
            py_value = derived_python(f.derived, row, f"{v.__name__}.{f.name}")
            if sql_value != py_value or type(sql_value) is not type(py_value):
                problems.append(
                    f"{v.__name__}.{f.name} for {ident!r}: SQL gives {sql_value!r}, Python gives {py_value!r}"
                )
    return problems


async def check_parity(db: Rows, v: type[Visage[Any]]) -> int:
    """Fetch visage ``v`` and its model's rows through ``db`` (two SELECTs) and compare each derived field's
    SQL and Python forms; the number of rows compared. ``DerivedParityError`` listing every difference."""
    fetched = await db.all(visage_query(v))
    rows = await db.all(select(v.__visage_model__))
    problems = parity_problems(fetched, rows)
    if problems:
        raise DerivedParityError("derived fields differ between SQL and Python:\n" + "\n".join(problems))
    return len(fetched)
