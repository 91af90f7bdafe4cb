"""The ``djogi`` command line (typer + rich). The entry point is ``djogi.cli.app:main``."""
