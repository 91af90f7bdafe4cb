"""Golden SQL for relation paths, reverse / many-to-many accessors and eager loading (no database)."""

from __future__ import annotations

import pytest

from djogi import Field, ForeignKey, Model, field, m2m, prefetch, reverse
from djogi.algebra import count, dml
from djogi.errors import ModelDefinitionError, NotPortable, ValidationError
from djogi.model import registry_scope

from .models import Author, Book, BookTag, Publisher, Tag

BOOK_COLS = (
    '"rel_books"."id", "rel_books"."created_at", "rel_books"."updated_at", "rel_books"."title", '
    '"rel_books"."author_id", "rel_books"."pages", "rel_books"."editor_id"'
)
AUTHOR_COLS = (
    '"rel_authors"."id", "rel_authors"."created_at", "rel_authors"."updated_at", "rel_authors"."name", '
    '"rel_authors"."email", "rel_authors"."publisher_id"'
)


def sql(q: object) -> str:
    return q.sql().sql  # type: ignore[attr-defined,no-any-return]


def test_to_one_path_is_a_correlated_exists() -> None:
    q = Book.objects.where(Book.author.to(Author.name) == "Ann")
    assert sql(q) == (
        f'SELECT {BOOK_COLS} FROM "rel_books" WHERE EXISTS (SELECT 1 FROM "rel_authors" WHERE '
        '("rel_authors"."id" = "rel_books"."author_id" AND "rel_authors"."name" = $1::text))'
    )
    assert q.sql().params == ("Ann",)


def test_attribute_sugar_equals_to() -> None:
    assert Book.author.email.describe() == Book.author.to(Author.email).describe() == "Book.author.email"
    assert Book.objects.where(Book.author.email == "a@x") == Book.objects.where(Book.author.to(Author.email) == "a@x")


def test_negated_path_is_not_exists_and_keeps_null_keys() -> None:
    q = Book.objects.exclude(Book.editor.to(Author.name) == "Ann")
    assert sql(q).endswith(
        'WHERE NOT EXISTS (SELECT 1 FROM "rel_authors" WHERE ("rel_authors"."id" = "rel_books"."editor_id" '
        'AND "rel_authors"."name" = $1::text))'
    )


def test_positive_conjunction_through_one_hop_shares_one_exists() -> None:
    q = Book.objects.where((Book.author.to(Author.name) == "Ann") & (Book.author.email.endswith("@x")), Book.pages > 3)
    assert sql(q).endswith(
        'WHERE (EXISTS (SELECT 1 FROM "rel_authors" WHERE ("rel_authors"."id" = "rel_books"."author_id" AND '
        '"rel_authors"."name" = $1::text AND "rel_authors"."email" LIKE $2::text)) '
        'AND "rel_books"."pages" > $3::bigint)'
    )


def test_two_hop_path_nests_exists() -> None:
    q = Book.objects.where(Book.author.to(Author.publisher).to(Publisher.name) == "Tor")
    assert sql(q).endswith(
        'WHERE EXISTS (SELECT 1 FROM "rel_authors" WHERE ("rel_authors"."id" = "rel_books"."author_id" AND '
        'EXISTS (SELECT 1 FROM "rel_publishers" WHERE ("rel_publishers"."id" = "rel_authors"."publisher_id" AND '
        '"rel_publishers"."name" = $1::text))))'
    )


def test_path_mixing_outer_columns_uses_the_outer_row() -> None:
    q = Book.objects.where(Book.author.to(Author.name) == Book.title)
    assert '"rel_authors"."name" = "rel_books"."title"' in sql(q)


def test_self_reference_path_is_aliased() -> None:
    with registry_scope():

        class Emp(Model, table="rel_emps"):
            name: Field[str]
            boss: ForeignKey[Emp | None] = field(related_name="reports", default=None)

        q = Emp.objects.where(Emp.boss.to(Emp.name) == "Bo")
        assert sql(q).endswith(
            'WHERE EXISTS (SELECT 1 FROM "rel_emps" AS "emp__boss" WHERE ("emp__boss"."id" = "rel_emps"."boss_id" '
            'AND "emp__boss"."name" = $1::text))'
        )
        r = Emp.objects.where(Emp.reports.any(Emp.name == "x"))
        assert sql(r).endswith(
            'WHERE EXISTS (SELECT 1 FROM "rel_emps" AS "rel_emps__reports" WHERE ("rel_emps__reports"."boss_id" = '
            '"rel_emps"."id" AND "rel_emps__reports"."name" = $1::text))'
        )


def test_order_by_path_left_joins() -> None:
    q = Book.objects.order_by(Book.author.to(Author.name).desc(), Book.author.email)
    assert sql(q) == (
        f'SELECT {BOOK_COLS} FROM "rel_books" LEFT JOIN "rel_authors" AS "rel_books__author" ON '
        '"rel_books__author"."id" = "rel_books"."author_id" ORDER BY "rel_books__author"."name" DESC, '
        '"rel_books__author"."email" ASC'
    )


def test_path_elsewhere_and_in_memory_is_refused() -> None:
    with pytest.raises(ValidationError, match="relation path"):
        Book.objects.values(Book.author.email).sql()
    with pytest.raises(NotPortable):
        (Book.author.email == "x").compile_python()
    with pytest.raises(ValidationError, match="only one relation path"):
        Book.objects.where(Book.author.to(Author.name) == Book.editor.to(Author.name))


def test_reverse_any_none_count() -> None:
    assert Author.books == reverse(Book.author)
    q = Author.objects.where(Author.books.any(Book.pages > 100)).annotate(n_books=Author.books.count())
    assert sql(q) == (
        f'SELECT {AUTHOR_COLS}, (SELECT count(*) FROM "rel_books" WHERE "rel_books"."author_id" = "rel_authors"."id") '
        'AS "n_books" FROM "rel_authors" WHERE EXISTS (SELECT 1 FROM "rel_books" WHERE ("rel_books"."author_id" = '
        '"rel_authors"."id" AND "rel_books"."pages" > $1::bigint))'
    )
    assert q.annotation_type is not None and q.annotation_type.__annotations__["n_books"] is int
    none = Author.objects.where(Author.books.none())
    assert sql(none).endswith(
        'WHERE NOT EXISTS (SELECT 1 FROM "rel_books" WHERE "rel_books"."author_id" = "rel_authors"."id")'
    )


def test_m2m_any_goes_through_the_link_table() -> None:
    tags = m2m(BookTag.book, BookTag.tag)
    q = Book.objects.where(tags.any(Tag.label == "sf"))
    assert sql(q).endswith(
        'WHERE EXISTS (SELECT 1 FROM "rel_tags" INNER JOIN "rel_book_tags" ON "rel_book_tags"."tag_id" = '
        '"rel_tags"."id" WHERE ("rel_book_tags"."book_id" = "rel_books"."id" AND "rel_tags"."label" = $1::text))'
    )


def test_select_related_joins_by_nullability() -> None:
    inner = Book.objects.select_related(Book.author).sql()
    assert inner.sql == (
        f'SELECT {BOOK_COLS}, {AUTHOR_COLS} FROM "rel_books" INNER JOIN "rel_authors" ON '
        '"rel_authors"."id" = "rel_books"."author_id"'
    )
    assert inner.result.optional == (False, False)  # type: ignore[union-attr]
    left = Book.objects.select_related(Book.editor).sql()
    assert ' LEFT JOIN "rel_authors" ON "rel_authors"."id" = "rel_books"."editor_id"' in left.sql
    assert left.result.optional == (False, True)  # type: ignore[union-attr]


def test_prefetch_does_not_change_sql_and_mutations_refuse_eager_loading() -> None:
    q = Author.objects.where(Author.name == "A")
    assert q.prefetch(Author.books).sql() == q.sql()
    with pytest.raises(ValidationError, match="prefetch"):
        q.prefetch(Author.books).delete()
    with pytest.raises(ValidationError, match="does not support prefetch"):
        dml.update(q.prefetch(Author.books), name="B")
    with pytest.raises(ValidationError, match="does not support prefetch"):
        dml.delete(q.prefetch(Author.books))
    with pytest.raises(ValidationError, match="join"):
        Book.objects.select_related(Book.author).update(pages=1)


def test_prefetch_validation() -> None:
    with pytest.raises(ValidationError, match="query over Book"):
        prefetch(Author.books, query=Tag.objects)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="then"):
        prefetch(Author.books, then=prefetch(Author.books))
    with pytest.raises(ValidationError, match="starts from Author"):
        Book.objects.prefetch(Author.books)
    with pytest.raises(ValidationError, match="twice"):
        Author.objects.prefetch(Author.books, Author.books)


def test_reverse_accessor_collisions_are_refused_at_class_creation() -> None:
    with registry_scope():

        class Owner(Model, table="rel_owners"):
            pets: Field[int] = field(default=0)

        with pytest.raises(ModelDefinitionError, match=r"clashes with the field Owner\.pets"):

            class Pet(Model, table="pets"):
                owner: ForeignKey[Owner]

        class Cat(Model, table="rel_cats"):
            owner: ForeignKey[Owner] = field(related_name="cats")

        with pytest.raises(ModelDefinitionError, match=r"already used by Cat\.owner"):

            class Cat2(Model, table="rel_cats2"):
                owner: ForeignKey[Owner] = field(related_name="cats")

        with pytest.raises(ModelDefinitionError, match="related_name applies"):

            class Bad(Model, table="rel_bad"):
                x: Field[int] = field(related_name="y")


def test_default_reverse_names_shared_by_two_relations_are_ambiguous_on_use() -> None:
    with registry_scope():

        class Acct(Model, table="rel_accts"):
            name: Field[str]

        class Move(Model, table="rel_moves"):
            src: ForeignKey[Acct]
            dst: ForeignKey[Acct]

        with pytest.raises(ValidationError, match=r"Acct.rel_moves is ambiguous.*reverse\(Move.src\)"):
            _ = Acct.rel_moves  # type: ignore[attr-defined]
        assert reverse(Move.dst).field == "dst"


def test_count_in_having_is_a_plain_expression() -> None:
    q = Author.objects.where(Author.books.count(Book.pages > 1) >= 2)
    assert "(SELECT count(*) FROM" in sql(q)
    assert count  # the aggregate stays available next to related counts


def test_a_column_attribute_compared_through_a_relation_is_refused_not_silently_false() -> None:
    clash = Book.author.name == "Ann"  # `name` is Column's own attribute: this is a Python bool
    assert clash is False
    with pytest.raises(ValidationError, match=r"plain bool False.*Book\.author\.to\(Author\.name\)"):
        Book.objects.filter(clash)
