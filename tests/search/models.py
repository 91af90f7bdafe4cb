"""Models of the search tests (tables prefixed ``search_``) and their DDL from the migration library."""

from __future__ import annotations

from typing import Annotated

from msgspec import UNSET, UnsetType

from djogi import Field, Index, IndexColumn, Model, SqlType, TsVector, Vector, field, tsvector_of
from djogi.migrate import diff, project
from djogi.migrate.snapshot import Snapshot
from djogi.model import descriptor

Vector3 = Annotated[Vector, SqlType("VECTOR(3)")]


class Article(
    Model,
    table="search_articles",
    indexes=(
        Index(columns=("words",), method="gin", name="search_articles_words_gin"),
        Index(columns=(IndexColumn(name="title", opclass="gin_trgm_ops"),), method="gin",
              name="search_articles_title_trgm"),
        Index(columns=(IndexColumn(name="body", opclass="gist_trgm_ops"),), method="gist",
              name="search_articles_body_trgm"),
    ),
):  # fmt: skip
    title: Field[str]
    body: Field[str]
    words: Field[TsVector | None] = field(default=None)


class Post(Model, table="search_posts", indexes=(Index(columns=("search",), method="gin", name="search_posts_gin"),)):
    """The full-text document as a generated column: the database keeps it, nothing writes it."""

    title: Field[str]
    body: Field[str | None] = field(default=None)
    search: Field[TsVector | UnsetType] = field(generated=tsvector_of("english", "title", "body"), default=UNSET)


class Item(
    Model,
    table="search_items",
    indexes=(
        Index(columns=(IndexColumn(name="embedding", opclass="vector_l2_ops"),), method="hnsw",
              name="search_items_hnsw", storage_parameters=(("m", 8), ("ef_construction", 32))),
        Index(columns=(IndexColumn(name="embedding", opclass="vector_cosine_ops"),), method="ivfflat",
              name="search_items_ivfflat", storage_parameters=(("lists", 10),)),
        Index(columns=(IndexColumn(name="embedding", opclass="vector_ip_ops"),), method="hnsw",
              name="search_items_ip"),
    ),
):  # fmt: skip
    name: Field[str]
    embedding: Field[Vector3]
    spare: Field[Vector3 | None] = field(default=None)


MODELS = (Article, Post, Item)


def schema_sql() -> list[str]:
    """Every DDL statement creating the search test tables (as ``djogi migrations`` would)."""
    snapshot = project([descriptor(m) for m in MODELS], "main", None).unwrap()
    plan = diff(Snapshot(enums={}, indexes=(), models={}), snapshot).unwrap()
    return [step.up for step in plan.steps]
