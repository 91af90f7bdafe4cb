"""The interactive shell behind ``djogi db shell``: a REPL with top-level ``await``.

An asyncio event loop runs in a background thread and owns the ``Database`` (its pool and tasks);
each awaited expression typed at the prompt is run on that loop. IPython is used when installed
(with that loop as its ``loop_runner``), else a ``code.InteractiveConsole`` compiled with
``PyCF_ALLOW_TOP_LEVEL_AWAIT``, like ``python -m asyncio``.
"""

from __future__ import annotations

import ast
import asyncio
import code
import contextlib
import importlib.util
import inspect
import threading
import types
from collections.abc import Coroutine
from typing import Any, TypeVar

import djogi
from djogi.executor import connect
from djogi.loop import new_event_loop
from djogi.model import ModelDescriptor

T = TypeVar("T")


class _LoopThread:
    """An event loop running forever in a daemon thread; ``run`` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="djogi-shell-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class AwaitConsole(code.InteractiveConsole):
    """A console whose input may ``await``; coroutines run on the shell's loop."""

    def __init__(self, namespace: dict[str, Any], runner: _LoopThread) -> None:
        super().__init__(namespace)
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self.runner = runner

    def runcode(self, code: types.CodeType) -> None:
        try:
            result = types.FunctionType(code, self.locals)()
            if inspect.iscoroutine(result):
                self.runner.run(result)
        except SystemExit:
            raise
        except BaseException:
            self.showtraceback()


def run_shell(url: str, database: str, descriptors: tuple[ModelDescriptor, ...], *, plain: bool = False) -> None:
    """Connect ``db`` to ``url`` and run the REPL (IPython unless ``plain``) until the user leaves it."""
    namespace: dict[str, Any] = {"__name__": "__djogi_shell__", "djogi": djogi}
    namespace.update({d.name: d.model for d in descriptors})
    runner = _LoopThread()
    stack = contextlib.AsyncExitStack()
    try:
        namespace["db"] = runner.run(stack.enter_async_context(connect(url, database=database)))
        names = ", ".join(d.name for d in descriptors) or "none"
        banner = (f"djogi shell: `db` is connected to database {database!r}; models: {names}.\n"
                  "Top-level await works, e.g. `await db.count(Model.objects)`. Ctrl-D leaves.")
        if not plain and importlib.util.find_spec("IPython") is not None:
            _ipython(namespace, runner, banner)
        else:
            AwaitConsole(namespace, runner).interact(banner=banner, exitmsg="")
    finally:
        runner.run(stack.aclose())
        runner.close()


def _ipython(namespace: dict[str, Any], runner: _LoopThread, banner: str) -> None:
    """Run IPython with autoawait executing cells on the shell's loop."""
    config: Any = importlib.import_module("traitlets.config").Config()
    config.InteractiveShell.autoawait = True
    config.TerminalInteractiveShell.banner2 = banner + "\n"
    ipapp: Any = importlib.import_module("IPython.terminal.ipapp")
    app = ipapp.TerminalIPythonApp.instance(config=config, user_ns=namespace)
    app.initialize(argv=[])
    app.shell.loop_runner = runner.run  # set after start-up: the config is deep-copied, the loop cannot be
    app.start()
