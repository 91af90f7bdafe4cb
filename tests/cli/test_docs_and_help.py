"""``djogi docs`` output, and help text for every command."""

from __future__ import annotations

import subprocess
from typing import Any

import typer.main
from typer.testing import CliRunner

from djogi.cli.app import app
from tests.cli.helpers import DJOGI, Project

CATALOG = '''
import djogi
from djogi import Field, Model, field, ForeignKey, OneToOne, Index

class Genre(djogi.Enum):
    FICTION = "fiction"
    SCIENCE = "science"

class Author(Model, table="authors", app="people", comment="Someone who writes."):
    name: Field[str] = field(max_length=200, index=True)
    email: Field[str] = field(unique=True)

class Book(Model, table="books", app="catalog", indexes=(Index(columns=("genre", "-price"), where="price > 0"),)):
    title: Field[str]
    author: ForeignKey[Author] = field(on_delete="cascade")
    genre: Field[Genre] = field(default=Genre.FICTION)
    price: Field[int] = field(check="price >= 0", default=0)
    tags: Field[list[str]] = field(default=[])

class Cover(Model, table="covers", app="catalog"):
    book: OneToOne[Book]
'''


def test_docs_pages_are_complete_and_deterministic(project: Project) -> None:
    project.write_models(CATALOG)
    out = project.root / "docs" / "models"
    out.mkdir(parents=True)
    (out / "Stale.md").write_text("old")
    done = project.run("docs")
    assert f"rendered 3 model page(s) into {out}" in done.stdout
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*.md"))
    assert files == ["README.md", "catalog/Book.md", "catalog/Cover.md", "people/Author.md"]
    snapshot = {f: (out / f).read_text() for f in files}
    assert snapshot["README.md"].splitlines()[:5] == [
        "# Djogi model reference", "", "## catalog", "", "- [`Book`](./catalog/Book.md): table `books`"]
    book = snapshot["catalog/Book.md"]
    for expected in (
        "- App: `catalog`", "- Table: `books`", "- PK kind: HeerId (recency-biased)",
        "| `id` | `BIGINT` | no | `heerid_next_desc()` (database) | primary key |",
        "| `genre` | `genre` | no | `'fiction'` | enum: `fiction`, `science` |",
        "| `price` | `BIGINT` | no | `0` | CHECK `price >= 0` |",
        "| `tags` | `TEXT[]` | no | `list()` |  |",
        "| `author_id` | `BIGINT` | no |  | attribute `author`; indexed (btree) |",
        "| `books_author_id_idx` | Index | btree | `author_id` |  |",
        "| `books_genre_price_idx` | Index | btree | `genre`, `price` DESC | WHERE `price > 0` |",
        "| `author_id` | ForeignKey | [`Author`](../people/Author.md) (`authors.id`) | CASCADE |",
        "- [`Cover`](./Cover.md).`book_id`",
    ):
        assert expected in book, expected
    author = snapshot["people/Author.md"]
    assert "> Someone who writes." in author
    assert "| `authors_email_key` | Unique constraint | btree | `email` |" in author
    assert "| `authors_name_idx` | Index | btree | `name` |" in author
    assert "| `book_id` | OneToOne |" in snapshot["catalog/Cover.md"]
    project.run("docs")
    assert {f: (out / f).read_text() for f in files} == snapshot
    listing = project.json("docs", "--output", "elsewhere")
    assert listing["directory"] == str(project.root / "elsewhere") and len(listing["pages"]) == 4


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    if hasattr(command, "commands"):  # a group (typer vendors its own click)
        for name, sub in sorted(command.commands.items()):
            found += _commands(sub, (*path, name))
    return found


def test_every_command_has_help_and_renders_it() -> None:
    runner = CliRunner()
    commands = _commands(typer.main.get_command(app))
    paths = {" ".join(path) for path, _ in commands}
    assert {"migrations compose", "migrations apply", "migrations rollback", "migrations status",
            "migrations verify", "migrations check", "migrations baseline", "migrations repair checksum-drift",
            "migrations repair partial-apply", "migrations repair resume-partial",
            "migrations repair snapshot-rebuild", "migrate apply", "db up", "db down", "db url", "db status",
            "db reset", "db seed", "db shell", "db psql", "docs", "version"} <= paths
    for path, command in commands:
        assert (command.help or "").strip(), f"`djogi {' '.join(path)}` has no help text"
        for param in command.params:
            if param.param_type_name == "option" and not param.hidden:
                assert (param.help or "").strip(), f"`djogi {' '.join(path)} {param.opts[0]}` has no help text"
        done = runner.invoke(app, [*path, "--help"], prog_name="djogi")
        assert done.exit_code == 0 and not done.stderr, (path, done.stderr)
        assert "Usage: djogi" in done.stdout
    top = subprocess.run([DJOGI, "--help"], capture_output=True, text=True, timeout=60)
    assert top.returncode == 0 and "Exit codes: 0 success" in top.stdout and "2 refusal" in top.stdout
