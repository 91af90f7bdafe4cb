"""Executor tests: the ``db`` fixture (registered by the plugin later; imported here meanwhile)."""

from djogi.executor.pytest_fixture import db

__all__ = ["db"]
