"""Shared helpers for the tenancy tests: tenant-keyed models migrated by the owner, used by the app role."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from djogi import ForeignKey, Model, descriptor
from djogi.migrate import apply, compose

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Org(Model, table="ten_orgs"):
    name: str


class Project(Model, table="ten_projects", tenant_key="tenant_id"):
    tenant_id: int
    name: str
    budget: int = 0
    org: ForeignKey[Org] | None = None


class Task(Model, table="ten_tasks", tenant_key="tenant_id"):
    tenant_id: int
    project: ForeignKey[Project]
    title: str
    done: bool = False


MODELS = (Org, Project, Task)


def migrate(url: str, directory: Path) -> None:
    """Compose the tenancy models' migration into ``directory`` and apply it as the owner (``url``)."""
    compose(directory, [descriptor(m) for m in MODELS], T0, slug="tenancy").unwrap()
    apply(url, directory)
