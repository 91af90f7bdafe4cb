"""Shared helpers for the migration tests: declare models in a scope, project them."""

from __future__ import annotations

import datetime as dt
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from djogi.migrate import Bucket, VerifyReport, apply, compose, verify
from djogi.migrate.diff import Plan, diff
from djogi.migrate.project import project
from djogi.migrate.snapshot import EMPTY, Snapshot
from djogi.model import Model, descriptor, models, registry_scope


def snap(declare: Callable[[], object] | None) -> Snapshot:
    """The snapshot the models declared by ``declare`` project to (empty for None)."""
    if declare is None:
        return EMPTY
    with registry_scope(isolated=True):
        declare()
        return project(models(), "main", None).unwrap()


def projected(*declared: type[Model[Any]]) -> Snapshot:
    """The snapshot the model classes ``declared`` project to."""
    return project([descriptor(m) for m in declared], "main", None).unwrap()


def creating(snapshot: Snapshot) -> list[str]:
    """The SQL of each step of the first migration to ``snapshot`` (a step may hold several statements)."""
    return [step.up for step in diff(EMPTY, snapshot).unwrap().steps]


def plan(old: Callable[[], object] | None, new: Callable[[], object] | None) -> Plan:
    """The differ plan between two model declarations."""
    return diff(snap(old), snap(new)).unwrap()


def steps(p: Plan) -> list[tuple[str, str, str, bool]]:
    """``(label, up, down, transactional)`` per step."""
    return [(s.label, s.up, s.down, s.transactional) for s in p.steps]


def declared_by(source: str) -> Snapshot:
    """The structure the models of ``source`` declare (run as a module, in a registry of their own)."""
    module = types.ModuleType("inspected_models")
    sys.modules[module.__name__] = module
    try:
        with registry_scope(isolated=True):
            exec(compile(source, "<inspected>", "exec"), module.__dict__)
            return project(models(), "main", None).unwrap().structure()
    finally:
        del sys.modules[module.__name__]


def sql(url: str, text: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run ``text`` on ``url`` in autocommit; its rows (none for a statement returning none)."""
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(text.encode(), params or None)
        return cur.fetchall() if cur.description else []


def codes(report: VerifyReport) -> list[tuple[str, str]]:
    """``(code, subject)`` of each finding of ``report`` but D619 (migrations not applied yet)."""
    return [(d.code, d.subject) for d in report.diagnostics if d.code != "D619"]


def drift_after(url: str, directory: Path, tamper: str) -> list[tuple[str, str]]:
    """Compose and apply the models registered now into ``directory`` / ``url``, assert verify finds
    nothing, run ``tamper`` behind djogi's back, and return what verify then reports (``(code, subject)``)."""
    compose(directory, models(), dt.datetime(2026, 1, 1, tzinfo=dt.UTC), slug="tampered").unwrap()
    apply(url, directory)
    report = verify(url, directory, Bucket("main"), models=models())
    assert report.ok and report.diagnostics == (), report.diagnostics
    sql(url, tamper)
    return [(d.code, d.subject) for d in verify(url, directory, Bucket("main"), models=models()).diagnostics]
