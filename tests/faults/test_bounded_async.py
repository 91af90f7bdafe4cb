"""The executor's one-off async connections are bounded like its pooled ones: ``connect()``'s HeeRanjID
bootstrap of the embedded server (``_bootstrap_embedded``) gives up on a frozen server (SIGSTOP: the socket
accepts, nothing answers) with ``ConnectionFailure`` after ``connect_timeout`` instead of hanging. Runs on
this module's own embedded server."""

from __future__ import annotations

import signal

import anyio
import pytest

from djogi.embedded import EmbeddedServer
from djogi.errors import ConnectionFailure
from djogi.executor.connect import _bootstrap_embedded
from tests.faults.helpers import FAULT_BOUND_S, children_of, ready, signal_all

pytestmark = pytest.mark.anyio


async def test_embedded_bootstrap_on_a_frozen_server_gives_up(private_server: EmbeddedServer) -> None:
    url = ready(private_server)
    await _bootstrap_embedded(url, 1, 2.0)  # idempotent while the server answers
    postmaster = private_server.status().pid
    assert postmaster is not None
    frozen = [postmaster, *children_of(postmaster)]
    signal_all(frozen, signal.SIGSTOP)
    try:
        with anyio.fail_after(FAULT_BOUND_S), pytest.raises(ConnectionFailure) as failed:
            await _bootstrap_embedded(url, 1, 2.0)  # a hang fails on fail_after, a bare psycopg error on raises
    finally:
        signal_all(frozen, signal.SIGCONT)
    assert "timeout" in str(failed.value)
