"""Models shared by the relation tests (tables prefixed ``rel_``) and their DDL from the migration library."""

from __future__ import annotations

from djogi import Field, ForeignKey, Model, field
from djogi.migrate import diff, project
from djogi.migrate.snapshot import Snapshot
from djogi.model import descriptor


class Publisher(Model, table="rel_publishers"):
    name: Field[str]


class Author(Model, table="rel_authors"):
    name: Field[str]
    email: Field[str] = field(default="")
    publisher: ForeignKey[Publisher | None] = field(related_name="authors", default=None)


class Book(Model, table="rel_books"):
    title: Field[str]
    author: ForeignKey[Author] = field(on_delete="cascade", related_name="books")
    pages: Field[int] = field(default=0)
    editor: ForeignKey[Author | None] = field(on_delete="set null", related_name="edited", default=None)


class Tag(Model, table="rel_tags"):
    label: Field[str]


class BookTag(Model, table="rel_book_tags", through=(Book, Tag), unique_together=(("book", "tag"),)):
    book: ForeignKey[Book] = field(on_delete="cascade", related_name="links")
    tag: ForeignKey[Tag] = field(on_delete="cascade", related_name="links")


class Review(Model, table="rel_reviews"):
    author: ForeignKey[Author] = field(related_name="reviews")  # on_delete restrict (default)
    text: Field[str] = field(default="")


MODELS = (Publisher, Author, Book, Tag, BookTag, Review)


def schema_sql() -> list[str]:
    """Every DDL statement creating the relation test tables (as ``djogi migrations`` would)."""
    snapshot = project([descriptor(m) for m in MODELS], "main", None).unwrap()
    plan = diff(Snapshot(enums={}, indexes=(), models={}), snapshot).unwrap()
    return [step.up for step in plan.steps]
