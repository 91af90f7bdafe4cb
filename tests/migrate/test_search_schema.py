"""Search columns and indexes through compose -> apply -> introspect/verify: extensions, tsvector and vector
columns, trigram opclasses, HNSW/IVFFlat indexes with storage parameters."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import psycopg

from djogi import Field, Index, IndexColumn, Model, SqlType, TsVector, Vector, field
from djogi.migrate import Bucket, apply, compose, introspect, verify
from djogi.migrate.snapshot import load
from djogi.model import models, registry_scope

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _declare() -> None:
    class Note(
        Model,
        table="notes",
        indexes=(
            Index(columns=("words",), method="gin"),
            Index(columns=(IndexColumn(name="title", opclass="gin_trgm_ops"),), method="gin", name="notes_trgm"),
            Index(columns=(IndexColumn(name="embedding", opclass="vector_cosine_ops"),), method="hnsw",
                  name="notes_hnsw", storage_parameters=(("m", 12), ("ef_construction", 40))),
            Index(columns=(IndexColumn(name="embedding", opclass="vector_l2_ops"),), method="ivfflat",
                  name="notes_ivf", storage_parameters=(("lists", 4),)),
        ),
    ):  # fmt: skip
        title: Field[str]
        words: Field[TsVector | None] = field(default=None)
        embedding: Field[Annotated[Vector, SqlType("VECTOR(4)")]]


def test_search_schema_composes_applies_and_verifies(db_url: str, tmp_path: Path) -> None:
    with registry_scope(isolated=True):
        _declare()
        plan = compose(tmp_path, models(), NOW).unwrap()
    up = (tmp_path / "main" / "_global_" / f"{plan.version}.sdjql").read_text()
    assert up.index('CREATE EXTENSION IF NOT EXISTS "pg_trgm";') < up.index('CREATE TABLE "notes"')
    assert up.index('CREATE EXTENSION IF NOT EXISTS "vector";') < up.index('CREATE TABLE "notes"')
    assert '"words" TSVECTOR' in up and '"embedding" vector(4) NOT NULL' in up
    assert 'USING hnsw ("embedding" vector_cosine_ops) WITH (ef_construction = 40, m = 12)' in up
    assert 'USING ivfflat ("embedding") WITH (lists = 4)' in up  # the default operator class
    apply(db_url, tmp_path)
    with psycopg.connect(db_url, autocommit=True) as conn:
        live = introspect(conn)
    snap = load(tmp_path / "main" / "_global_" / "schema_snapshot.json").unwrap()
    assert live.structure() == snap.structure()
    hnsw = next(i for i in snap.indexes if i.name == "notes_hnsw")
    assert (hnsw.index_type, hnsw.storage_parameters) == ("Hnsw", {"ef_construction": "40", "m": "12"})
    assert verify(db_url, tmp_path, Bucket("main")).ok
    with registry_scope(isolated=True):
        _declare()
        assert compose(tmp_path, models(), NOW + dt.timedelta(seconds=1)).unwrap().buckets == ()  # nothing to do
