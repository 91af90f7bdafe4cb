"""``djogi docs``: write the model reference (one Markdown page per model, plus an index)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from djogi import modeldocs
from djogi.cli.state import JsonOption, cli_of


def docs(
    ctx: typer.Context,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output directory [default: "
                                                "docs/models in the project root].")] = None,
    as_json: JsonOption = False,
) -> None:
    """Render one Markdown page per registered model plus an index page (deterministic output).

    Stale .md files in the output directory are deleted. No registered models is refused (exit 2).
    """
    cli = cli_of(ctx)
    wants_json = cli.wants_json(as_json)
    descriptors = cli.load_models()
    directory = (output or cli.config.root / "docs" / "models").absolute()
    written = modeldocs.write(modeldocs.render(descriptors), directory)
    if wants_json:
        cli.emit({"directory": str(directory), "pages": [str(p) for p in written]})
    cli.info(f"docs: rendered {len(descriptors)} model page(s) into {directory}")
