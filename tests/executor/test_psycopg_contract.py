"""The psycopg internals ``djogi.executor.bounded`` and ``djogi.executor.protocol`` rely on, checked
directly: a psycopg release that drops or changes them fails here at once, not at the first timeout against
a frozen server or the first prepared statement (pyproject.toml pins ``psycopg>=3.3.6,<3.4`` for this
reason)."""

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


def test_the_prepared_statement_manager_djogi_shares_with_psycopgs_cursors() -> None:
    """``djogi.executor.protocol`` runs statements through ``conn._prepared`` as psycopg's cursor does."""
    from psycopg._preparing import Prepare, PrepareManager

    assert {Prepare.NO, Prepare.YES, Prepare.SHOULD} == set(Prepare)
    manager = PrepareManager()
    for method in ("get", "maybe_add_to_cache", "validate", "maintain_gen"):
        assert callable(getattr(manager, method, None)), f"psycopg {psycopg.__version__}: PrepareManager.{method}"
    assert list(inspect.signature(manager.get).parameters) == ["query", "prepare"]
    assert list(inspect.signature(manager.maybe_add_to_cache).parameters) == ["query", "prep", "name"]
    assert list(inspect.signature(manager.validate).parameters) == ["key", "prep", "name", "results"]
    assert not manager._to_flush
    assert callable(getattr(psycopg.AsyncConnection, "_check_connection_ok", None))
    from psycopg.generators import execute

    assert list(inspect.signature(execute).parameters) == ["pgconn"]
