"""The event loop djogi runs its own coroutines on: uvloop where it is installed (djogi depends on it on
the platforms that have it), else asyncio's default loop (Windows, PyPy).

``run(main)`` is ``asyncio.run`` on that loop; ``new_event_loop()`` makes one for code that drives a loop
itself (the shell's loop thread). Applications that own their loop choose it themselves: see
docs/executor.md for uvicorn and granian.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """``uvloop.new_event_loop`` when uvloop can be imported, else ``asyncio.new_event_loop``."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name() -> str:
    """``"uvloop"`` or ``"asyncio"``: the loop ``run`` and ``new_event_loop`` use here."""
    return "asyncio" if loop_factory() is asyncio.new_event_loop else "uvloop"


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop of the kind ``run`` uses."""
    return loop_factory()()


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new event loop (uvloop when available) and close the loop, as
    ``asyncio.run`` does."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
