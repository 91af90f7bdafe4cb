"""pyright (strict) and mypy (strict, no plugin) on the typing check files, ``examples/`` and every docs page's
code, plus a run-time import of ``reveal.py``.

``reveal.py`` must check clean; ``bad.py`` must get, from each checker, the error marked on each ``# E:`` line
(mypy's error code, pyright's rule) and no error anywhere else. A docs page's python blocks run in one
namespace with top-level ``await`` (``tests/docs``), so each page is checked as the body of one
``async def``, with pyright's unused-name rules off (the docs show fragments).
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from djogi.model import registry_scope

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PYRIGHT = Path(sys.executable).with_name("pyright")
_DOCS_TEST = ROOT / "tests" / "docs" / "test_docs.py"
_MARK = re.compile(r"#\s*E:\s*(?P<mypy>[\w-]+)\s+(?P<pyright>\w+)")
_MYPY_LINE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): error: (?P<message>.*?)(?:\s+\[(?P<code>[\w-]+)\])?$", re.M)


def mypy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--show-error-codes", "--config-file",
         str(ROOT / "pyproject.toml"), *args],
        cwd=ROOT, capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip


def pyright(*args: str) -> list[dict[str, object]]:
    """pyright's diagnostics (errors only) for ``args``, run with the project's ``[tool.pyright]`` settings."""
    result = subprocess.run(
        [str(PYRIGHT), "--outputjson", "--pythonpath", sys.executable, *args],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"pyright did not run: {result.stdout}{result.stderr}") from None
    return [d for d in report["generalDiagnostics"] if d["severity"] == "error"]


def _line(diagnostic: dict[str, object]) -> int:
    return int(diagnostic["range"]["start"]["line"]) + 1  # type: ignore[index]


def _show(diagnostics: list[dict[str, object]]) -> str:
    return "\n".join(f"{d['file']}:{_line(d)}: {d['message']} ({d.get('rule')})" for d in diagnostics)


def test_reveal_is_clean_under_mypy() -> None:
    result = mypy(str(HERE / "reveal.py"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_reveal_and_examples_are_clean_under_pyright() -> None:
    found = pyright(str(HERE / "reveal.py"), str(ROOT / "examples"))
    assert not found, _show(found)


def test_examples_are_clean_under_mypy() -> None:
    result = mypy(str(ROOT / "examples" / "bookshop" / "run.py"), env={"MYPYPATH": str(ROOT / "examples" / "bookshop")})
    assert result.returncode == 0, result.stdout + result.stderr


def _expected() -> dict[int, tuple[str, str]]:
    lines = (HERE / "bad.py").read_text().splitlines()
    return {n: (m["mypy"], m["pyright"]) for n, text in enumerate(lines, 1) if (m := _MARK.search(text))}


def test_bad_gets_exactly_the_marked_errors_from_mypy() -> None:
    result = mypy(str(HERE / "bad.py"))
    found: dict[int, set[str]] = {}
    for m in _MYPY_LINE.finditer(result.stdout):
        found.setdefault(int(m["line"]), set()).add(m["code"] or "")
    expected = _expected()
    assert set(found) == set(expected), result.stdout
    missing = {n: code for n, (code, _) in expected.items() if code not in found[n]}
    assert not missing, f"expected mypy codes not reported: {missing}\n{result.stdout}"


def test_bad_gets_exactly_the_marked_errors_from_pyright() -> None:
    found: dict[int, set[str]] = {}
    diagnostics = pyright(str(HERE / "bad.py"))
    for d in diagnostics:
        found.setdefault(_line(d), set()).add(str(d.get("rule")))
    expected = _expected()
    assert set(found) == set(expected), _show(diagnostics)
    missing = {n: rule for n, (_, rule) in expected.items() if rule not in found[n]}
    assert not missing, f"expected pyright rules not reported: {missing}\n{_show(diagnostics)}"


def test_reveal_declares_and_builds_at_run_time() -> None:
    spec = importlib.util.spec_from_file_location("typing_reveal", HERE / "reveal.py")
    assert spec is not None and spec.loader is not None
    with registry_scope(isolated=True):
        module = importlib.util.module_from_spec(spec)
        sys.modules["typing_reveal"] = module
        try:
            spec.loader.exec_module(module)
            assert module.Book.objects.select_related(module.Book.author, module.Book.counter).sql().sql
            assert module.Author.typing_books.model is module.Book
        finally:
            del sys.modules["typing_reveal"]


# ------------------------------------------------------------------------------------------ the docs' code


def _docs_module(markdown: str) -> tuple[str, list[int]]:
    """A page's python blocks as the body of one ``async def`` (they run in one namespace with top-level
    ``await``), and for each line of the result the page line it came from (0 for the header)."""
    spec = importlib.util.spec_from_file_location("docs_blocks", _DOCS_TEST)
    assert spec is not None and spec.loader is not None
    docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(docs)
    lines = ["async def _page() -> None:"]
    origin = [0]
    for block in docs.python_blocks(markdown):
        for i, text in enumerate(block.source.splitlines()):
            lines.append(f"    {text}" if text.strip() else "")
            origin.append(block.line + i)
    lines.append("    pass")
    origin.append(0)
    return "\n".join(lines) + "\n", origin


def _pages() -> list[Path]:
    return [p for p in sorted((ROOT / "docs").rglob("*.md")) if "```python" in p.read_text()]


@pytest.fixture(scope="module")
def docs_code(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[Path, list[int]]]]:
    """Each docs page's code as one module in a temporary directory: ``{module file: (page, line map)}``."""
    where = tmp_path_factory.mktemp("docs_code")
    pages = {}
    for page in _pages():
        code, origin = _docs_module(page.read_text())
        name = "page_" + re.sub(r"\W", "_", str(page.relative_to(ROOT / "docs")).removesuffix(".md")) + ".py"
        (where / name).write_text(code)
        pages[name] = (page, origin)
    (where / "pyrightconfig.json").write_text(json.dumps({
        "pythonVersion": "3.11", "typeCheckingMode": "strict", "extraPaths": [str(ROOT)],
        "reportUnusedVariable": False, "reportUnusedExpression": False, "reportUnusedImport": False,
        "reportUnusedClass": False, "reportUnusedFunction": False,
    }))  # fmt: skip
    return where, pages


def _where(pages: dict[str, tuple[Path, list[int]]], file: str, line: int) -> str:
    page, origin = pages[Path(file).name]
    return f"{page.relative_to(ROOT)}:{origin[line - 1] if line <= len(origin) else '?'}"


def test_docs_code_is_clean_under_mypy(docs_code: tuple[Path, dict[str, tuple[Path, list[int]]]]) -> None:
    where, pages = docs_code
    result = mypy(*sorted(str(where / name) for name in pages))
    errors = [f"{_where(pages, m['file'], int(m['line']))}: {m['message']} [{m['code']}]"
              for m in _MYPY_LINE.finditer(result.stdout)]  # fmt: skip
    assert result.returncode == 0 and not errors, "\n".join(errors) or result.stdout + result.stderr


def test_docs_code_is_clean_under_pyright(docs_code: tuple[Path, dict[str, tuple[Path, list[int]]]]) -> None:
    where, pages = docs_code
    result = subprocess.run(
        [str(PYRIGHT), "--outputjson", "--pythonpath", sys.executable, "-p", str(where / "pyrightconfig.json")],
        cwd=where, capture_output=True, text=True, check=False,
    )  # fmt: skip
    diagnostics = [d for d in json.loads(result.stdout)["generalDiagnostics"] if d["severity"] == "error"]
    errors = [f"{_where(pages, str(d['file']), _line(d))}: {d['message']} ({d.get('rule')})" for d in diagnostics]
    assert not errors, "\n".join(errors)
