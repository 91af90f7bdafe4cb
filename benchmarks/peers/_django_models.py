"""Django models of the benchmark schema (unmanaged; imported only after settings are configured)."""

from __future__ import annotations

from django.db import models

from benchmarks import schema


class _ItemColumns(models.Model):  # type: ignore[misc]  # django ships no type stubs
    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(db_default=models.functions.Now())
    name = models.TextField()
    price = models.DecimalField(max_digits=10, decimal_places=2)
    qty = models.IntegerField()
    active = models.BooleanField()

    class Meta:
        abstract = True


class Item(_ItemColumns):
    class Meta:
        app_label = "bench"
        db_table = schema.ITEMS
        managed = False


class ItemInsert(_ItemColumns):
    class Meta:
        app_label = "bench"
        db_table = schema.ITEMS_INSERT
        managed = False


class Author(models.Model):  # type: ignore[misc]  # django ships no type stubs
    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    name = models.TextField()

    class Meta:
        app_label = "bench"
        db_table = "bench_authors"
        managed = False


class Book(models.Model):  # type: ignore[misc]  # django ships no type stubs
    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    title = models.TextField()
    year = models.IntegerField()

    class Meta:
        app_label = "bench"
        db_table = "bench_books"
        managed = False
