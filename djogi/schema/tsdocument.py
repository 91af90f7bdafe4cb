"""The generation expression of a ``TsVector`` field declared ``generated=tsvector_of(config, *fields)`` (pure).

``to_tsvector('english'::regconfig, "title" || ' ' || COALESCE("body", ''))``: the configuration is a
``regconfig`` literal (the two-argument ``to_tsvector`` is immutable, as a generation expression must be),
the fields are the model's own text columns joined by a space, an optional one ``COALESCE``d to ``''``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from djogi.errors import ModelDefinitionError
from djogi.identifiers import quote_ident
from djogi.schema.descriptors import FieldDescriptor
from djogi.schema.fields import TsVectorOf

__all__ = ["CONFIG_NAME", "document_problem", "document_sql"]

CONFIG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
"""A text search configuration's name (``english``, ``public.my_config``), as djogi splices it into SQL."""


def document_problem(doc: TsVectorOf, value_kind: str) -> str | None:
    """Why ``doc`` cannot generate a field of ``value_kind`` (before the other fields are known), or None."""
    if value_kind != "tsvector":
        return f"tsvector_of(...) generates a TsVector field, not a {value_kind} one"
    if not isinstance(doc.config, str) or not CONFIG_NAME.fullmatch(doc.config):
        return f"tsvector_of(): {doc.config!r} is not a text search configuration name (such as 'english')"
    if not doc.fields or not all(isinstance(f, str) for f in doc.fields):
        return "tsvector_of() takes the configuration and one or more field names: tsvector_of('english', 'title')"
    return None


def document_sql(model: str, field_name: str, doc: TsVectorOf, fields: Sequence[FieldDescriptor]) -> str:
    """The SQL of ``doc`` over the columns of ``fields`` (the model's fields); ``ModelDefinitionError`` naming
    ``model.field_name`` for a name that is not one of its text fields or is itself generated."""
    by_name = {fd.name: fd for fd in fields}
    parts = []
    for name in doc.fields:
        fd = by_name.get(name)
        problem = (f"has no field {name!r}" if fd is None
                   else f"field {name!r} is not a text field" if fd.value_kind != "str"
                   else f"field {name!r} is generated itself" if fd.generated is not None
                   else None)  # fmt: skip
        if problem is not None:
            raise ModelDefinitionError(f"{model}.{field_name}: tsvector_of(): the model {problem}; name its str "
                                       "fields")  # fmt: skip
        assert fd is not None
        column = quote_ident(fd.column)
        parts.append(f"COALESCE({column}, '')" if fd.nullable else column)
    joined = " || ' ' || ".join(parts)
    return f"to_tsvector('{doc.config}'::regconfig, {joined})"
