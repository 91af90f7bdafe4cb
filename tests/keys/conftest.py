"""Fixtures for the key-generation tests: an empty database (no HeeRanjID installed)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from djogi.embedded import EmbeddedServer
from djogi.heer_sql import node_settings_sql


@pytest.fixture
def empty_db(djogi_server: EmbeddedServer) -> Iterator[str]:
    """A new database on the run's server without HeeRanjID (node 1 its default), dropped after the test."""
    name = f"u_{secrets.token_hex(6)}"
    with psycopg.connect(djogi_server.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        admin.execute(node_settings_sql(name, 1).encode())
    yield djogi_server.url(name)
    with psycopg.connect(djogi_server.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
