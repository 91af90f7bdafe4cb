"""djogi.run and the loop djogi owns: uvloop where it is installed, asyncio's loop otherwise."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

import pytest

import djogi
from djogi import loop


async def _running_loop() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_run_uses_uvloop_when_installed() -> None:
    pytest.importorskip("uvloop")
    assert loop.loop_name() == "uvloop"
    assert djogi.run(_running_loop()).startswith("uvloop")


def test_run_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_uvloop(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "uvloop":
            raise ImportError("no uvloop here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    assert loop.loop_name() == "asyncio"
    assert djogi.run(_running_loop()) == "asyncio.unix_events"
    new = loop.new_event_loop()
    try:
        assert isinstance(new, asyncio.BaseEventLoop) and type(new).__module__.startswith("asyncio")
    finally:
        new.close()
