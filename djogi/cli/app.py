"""The ``djogi`` typer app: a thin registry of sub-apps, one module each."""

from __future__ import annotations

import typer

from djogi.cli.db import db_app

app = typer.Typer(name="djogi", help="djogi: a model-first PostgreSQL data layer.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
app.add_typer(db_app, name="db")


def main() -> None:
    """Console-script entry point. Exit codes: 0 ok, 1 runtime failure, 2 refusal or bad arguments."""
    app()
