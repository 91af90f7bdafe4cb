"""The psycopg internals ``djogi.executor.bounded`` relies on, checked directly: a psycopg release that drops
or changes them fails here at once, not at the first timeout against a frozen server (pyproject.toml pins
``psycopg>=3.3.6,<3.4`` for this reason)."""

from __future__ import annotations

import inspect

import psycopg
import psycopg.errors
import pytest

from djogi.executor.bounded import BoundedConnection, BoundedSyncConnection


def test_the_wait_timeout_error_exists_and_is_an_operational_error() -> None:
    waited = getattr(psycopg.errors, "_WaitTimeout", None)
    assert isinstance(waited, type), f"psycopg {psycopg.__version__} has no psycopg.errors._WaitTimeout"
    assert issubclass(waited, psycopg.OperationalError)


@pytest.mark.parametrize("base", [psycopg.AsyncConnection, psycopg.Connection])
def test_connection_wait_takes_gen_interval_and_timeout_in_that_order(base: type) -> None:
    parameters = list(inspect.signature(base.wait).parameters)
    assert parameters == ["self", "gen", "interval", "timeout"], f"psycopg {psycopg.__version__}: {parameters}"


@pytest.mark.parametrize(("ours", "base"), [(BoundedConnection, psycopg.AsyncConnection),
                                            (BoundedSyncConnection, psycopg.Connection)])  # fmt: skip
def test_the_bounded_connections_override_wait_with_the_same_signature(ours: type, base: type) -> None:
    assert inspect.signature(ours.wait).parameters.keys() == inspect.signature(base.wait).parameters.keys()
