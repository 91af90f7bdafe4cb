"""What the side benchmarks (keys, loops, hot paths, foreign keys, search, tenancy) share: the load-average
line of their result pages, writing a page, and running one of them on its own."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import psycopg

from benchmarks import schema


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, e.g. ``0.52 0.61 0.70``."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def write_page(out: Path, name: str, text: str) -> str:
    """Write ``text`` to ``out/name`` (creating ``out``) and return it."""
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_text(text)
    return text


def standalone(doc: str, run: Callable[..., str], options: dict[str, tuple[int, str]], *, load: bool = False) -> None:
    """``python -m benchmarks.bench_x``: parse ``--<option>`` integers (``{name: (default, help)}``), run
    ``run(url, *values)`` on a scratch database (with the shared ``items`` table loaded when ``load``) and
    print its page."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    for name, (default, text) in options.items():
        parser.add_argument(f"--{name}", type=int, default=default, help=text)
    args = parser.parse_args()
    url, _facts, cleanup = schema.open_database()
    try:
        if load:
            with psycopg.connect(url, autocommit=True) as admin:
                schema.load(admin)
        print(run(url, *(getattr(args, name) for name in options)))
    finally:
        cleanup()
