"""Django ORM (sync) on its psycopg 3 backend, configured in-process: model instances, ``bulk_create``
with a batch size, ``F()`` updates, ``prefetch_related`` for the to-many relation."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

from psycopg.conninfo import conninfo_to_dict

from benchmarks import schema

NAME = "django"
BATCH_SIZE = 1_000


def _configure(url: str) -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
    info = conninfo_to_dict(url)
    settings.configure(
        DEBUG=False,
        USE_TZ=True,
        INSTALLED_APPS=[],
        DATABASES={"default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": info.get("dbname", ""), "USER": info.get("user", ""), "PASSWORD": info.get("password", ""),
            "HOST": info.get("host", ""), "PORT": info.get("port", ""),
        }},
    )
    django.setup()


def connect(url: str) -> ModuleType:
    _configure(url)
    from django.db import connection

    from benchmarks.peers import _django_models

    connection.ensure_connection()
    return _django_models


def close(models: ModuleType) -> None:
    from django.db import connection

    connection.close()


def fetch(models: ModuleType, n: int) -> int:
    return len(list(models.Item.objects.order_by("id")[:n]))


def get_by_pk(models: ModuleType, ids: Sequence[int]) -> int:
    get = models.Item.objects.get
    return sum(get(pk=pk) is not None for pk in ids)


def filtered(models: ModuleType, params: Sequence[tuple[int, int]]) -> int:
    objects = models.Item.objects
    return sum(len(list(objects.filter(id__gt=floor, qty__gt=qty, active=True).order_by("id")[:schema.FILTER_LIMIT]))
               for floor, qty in params)


def bulk_insert_keyed(models: ModuleType, rows: Sequence[schema.ItemRow]) -> int:
    cls = models.ItemInsert
    objs = [cls(created_at=c, name=n, price=p, qty=q, active=a) for c, n, p, q, a in rows]
    return len({obj.pk for obj in cls.objects.bulk_create(objs, batch_size=BATCH_SIZE)})


bulk_insert = bulk_insert_keyed  # bulk_create is Django's one bulk path; on PostgreSQL it always returns keys


def update(models: ModuleType, lo: int, hi: int) -> int:
    from django.db.models import F
    from django.db.models.functions import Now

    updated: int = models.Item.objects.filter(id__range=(lo, hi)).update(qty=F("qty") + 1, updated_at=Now())
    return updated


def authors_with_books(models: ModuleType) -> int:
    authors = models.Author.objects.order_by("id").prefetch_related("books")
    return sum(len(a.books.all()) for a in authors)


def compile_cold(models: ModuleType, n: int) -> None:
    """Build the queryset and compile it to SQL + params (Django has no compiled-SQL cache)."""
    objects = models.Item.objects
    for _ in range(n):
        qs = objects.filter(id__gt=5_000, qty__gt=250, active=True).order_by("id")[:schema.FILTER_LIMIT]
        qs.query.get_compiler(using="default").as_sql()
