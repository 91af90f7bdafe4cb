"""The ``db`` pytest fixture: a connected ``Database`` on the test's fresh database (``db_url``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from djogi.executor.connect import connect
from djogi.executor.database import Database


@pytest.fixture
async def db(db_url: str, anyio_backend: str) -> AsyncIterator[Database]:
    """A ``Database`` connected to the test's database (pool of up to 10 connections), closed after."""
    async with connect(db_url, min_size=1, max_size=10, timeout=10.0) as database:
        yield database
