"""Python <-> PostgreSQL values: psycopg adapters, value validation, JSON, and fast row decoders.

- ``configure_adapters(adapters, enum_oids=...)``: dumpers/loaders for djogi's types on a psycopg map.
- ``encode_value(fd, value)``: validate a value bound for a column (``ValidationError`` naming the field).
- ``row_decoder(Model, columns)``: cached decoder of binary rows into frozen model instances.
- ``tuple_converter(specs)``: the same per-value conversions for projections (``values(...)`` rows).
- ``json_encode`` / ``json_decode``: JSON of models and values (keys as msgspec writes them).
- ``jsonb_extras`` / ``jsonb_replace``: the unknown keys a decoded ``Jsonb[T]`` value keeps.
"""

from djogi.codecs.adapters import configure_adapters
from djogi.codecs.json import json_decode, json_encode, jsonb_extras, jsonb_replace
from djogi.codecs.rows import (
    RowDecoder,
    projection_converter,
    projection_needs_converter,
    row_decoder,
    tuple_converter,
)
from djogi.codecs.values import encode_value

__all__ = [
    "RowDecoder",
    "configure_adapters",
    "encode_value",
    "json_decode",
    "json_encode",
    "jsonb_extras",
    "jsonb_replace",
    "projection_converter",
    "projection_needs_converter",
    "row_decoder",
    "tuple_converter",
]
