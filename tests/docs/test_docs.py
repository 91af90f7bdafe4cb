"""Every ```python block in docs/ (and the README tour) runs against the embedded server.

A page's python blocks run in order in one namespace, with top-level ``await``. A ```sql or ```text
block directly after a python block is that block's expected standard output, so SQL shown in the docs
is what the compiler really emits. Each page gets a fresh database: ``DJOGI_DATABASE_URL`` points at it
while the page runs, so ``djogi.connect()`` in the docs connects there.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path
from types import CodeType
from typing import Any

import msgspec
import pytest

from djogi.model import registry_scope

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
_FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
_TOUR = re.compile(r"<!-- tour:start -->\n(?P<body>.*?)<!-- tour:end -->", re.S)


class Block(msgspec.Struct, frozen=True, kw_only=True):
    """A python block: its text, 1-based first line, and the sql/text block that directly follows it."""

    source: str
    line: int
    expected_output: str | None = None


def python_blocks(markdown: str) -> list[Block]:
    """The page's python blocks in order, each with its expected output block, if any."""
    fences = [
        (m.group("info").strip().split(" ")[0], m.group("body"), markdown.count("\n", 0, m.start()) + 2,
         m.start(), m.end())
        for m in _FENCE.finditer(markdown)
    ]
    blocks = []
    for i, (language, body, line, _start, end) in enumerate(fences):
        if language != "python":
            continue
        expected = None
        if i + 1 < len(fences):
            next_language, next_body, _, next_start, _ = fences[i + 1]
            if next_language in ("sql", "text") and not markdown[end:next_start].strip():
                expected = next_body
        blocks.append(Block(source=body, line=line, expected_output=expected))
    return blocks


def _compile(block: Block, page: Path) -> CodeType:
    tree = ast.parse(block.source, filename=str(page))
    ast.increment_lineno(tree, block.line - 1)
    # dont_inherit: this file's ``from __future__ import annotations`` must not leak into the blocks.
    return compile(tree, str(page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)


async def run_page(page: Path, markdown: str) -> None:
    """Run a page's blocks in one namespace; fail naming the page and line of the first broken block."""
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for block in python_blocks(markdown):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            result = eval(_compile(block, page), namespace)  # exec-mode code: runs the block
            if result is not None:
                await result
        if block.expected_output is not None and out.getvalue() != block.expected_output:
            raise AssertionError(
                f"{page.name}:{block.line}: the block printed\n{out.getvalue()}\nbut the page shows\n"
                f"{block.expected_output}"
            )


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md")) if DOCS.is_dir() else []


def test_docs_have_python_blocks() -> None:
    assert any(python_blocks(p.read_text()) for p in _pages()), "docs/ has no python blocks to test"


@pytest.mark.anyio
@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(DOCS)))
async def test_page_runs(page: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJOGI_DATABASE_URL", db_url)
    with registry_scope(isolated=True):
        await run_page(page, page.read_text())


def test_readme_tour_is_the_tested_tour_page() -> None:
    readme = _TOUR.search((ROOT / "README.md").read_text())
    page = _TOUR.search((DOCS / "tour.md").read_text())
    assert readme is not None and page is not None, "README.md and docs/tour.md need <!-- tour:start/end -->"
    assert readme.group("body") == page.group("body"), "README's tour differs from docs/tour.md: copy it over"


@pytest.mark.anyio
async def test_a_broken_block_fails_the_run(tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    markdown = "```python\nx = 1\n```\n\ntext\n\n```python\nprint(x + 1)\n```\n```text\n3\n```\n"
    with pytest.raises(AssertionError) as failed:
        await run_page(page, markdown)
    assert str(failed.value).startswith("broken.md:8: the block printed\n2\n\nbut the page shows\n3\n")
    with pytest.raises(NameError):
        await run_page(page, "```python\nprint(undefined_name)\n```\n")


def test_output_block_pairs_only_when_adjacent() -> None:
    blocks = python_blocks("```python\na\n```\n```sql\nS\n```\n```python\nb\n```\n\nprose\n\n```sql\nT\n```\n")
    assert [(b.source, b.expected_output) for b in blocks] == [("a\n", "S\n"), ("b\n", None)]
