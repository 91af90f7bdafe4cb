"""Models shared by the relation tests (tables prefixed ``rel_``) and their DDL from the migration library."""

from __future__ import annotations

from typing import Annotated

from djogi import ForeignKey, Model, field
from djogi.migrate import diff, project
from djogi.migrate.snapshot import Snapshot
from djogi.model import descriptor


class Publisher(Model, table="rel_publishers"):
    name: str


class Author(Model, table="rel_authors"):
    name: str
    email: str = ""
    publisher: Annotated[ForeignKey[Publisher], field(related_name="authors")] | None = None


class Book(Model, table="rel_books"):
    title: str
    author: Annotated[ForeignKey[Author], field(on_delete="cascade", related_name="books")]
    pages: int = 0
    editor: Annotated[ForeignKey[Author], field(on_delete="set null", related_name="edited")] | None = None


class Tag(Model, table="rel_tags"):
    label: str


class BookTag(Model, table="rel_book_tags", through=(Book, Tag), unique_together=(("book", "tag"),)):
    book: Annotated[ForeignKey[Book], field(on_delete="cascade", related_name="links")]
    tag: Annotated[ForeignKey[Tag], field(on_delete="cascade", related_name="links")]


class Review(Model, table="rel_reviews"):
    author: Annotated[ForeignKey[Author], field(related_name="reviews")]  # on_delete restrict (default)
    text: str = ""


MODELS = (Publisher, Author, Book, Tag, BookTag, Review)


def schema_sql() -> list[str]:
    """Every DDL statement creating the relation test tables (as ``djogi migrations`` would)."""
    snapshot = project([descriptor(m) for m in MODELS], "main", None).unwrap()
    plan = diff(Snapshot(enums={}, indexes=(), models={}), snapshot).unwrap()
    return [step.up for step in plan.steps]
