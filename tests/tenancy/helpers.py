"""Shared helpers for the tenancy tests: tenant-keyed models migrated by the owner, used by the app role."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from djogi import Field, ForeignKey, Model, descriptor, field
from djogi.migrate import apply, compose

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Org(Model, table="ten_orgs"):
    name: Field[str]


class Project(Model, table="ten_projects", tenant_key="tenant_id"):
    tenant_id: Field[int]
    name: Field[str]
    budget: Field[int] = field(default=0)
    org: ForeignKey[Org | None] = field(default=None)


class Task(Model, table="ten_tasks", tenant_key="tenant_id"):
    tenant_id: Field[int]
    project: ForeignKey[Project]
    title: Field[str]
    done: Field[bool] = field(default=False)


MODELS = (Org, Project, Task)


def migrate(url: str, directory: Path) -> None:
    """Compose the tenancy models' migration into ``directory`` and apply it as the owner (``url``)."""
    compose(directory, [descriptor(m) for m in MODELS], T0, slug="tenancy").unwrap()
    apply(url, directory)


# One model ``Note`` in three declarations (each declared inside a registry scope by the caller): without a
# tenant key, keyed by ``tenant_id``, and re-keyed by another column.


def plain() -> None:
    class Note(Model, table="notes"):
        tenant_id: Field[int]
        body: Field[str]


def keyed() -> None:
    class Note(Model, table="notes", tenant_key="tenant_id"):
        tenant_id: Field[int]
        body: Field[str]


def rekeyed() -> None:
    class Note(Model, table="notes", tenant_key="org"):
        tenant_id: Field[int]
        body: Field[str]
        org: Field[str] = field(db_default="'x'")
