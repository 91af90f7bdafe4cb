"""Djogi.toml loading: defaults, a full file, environment overrides and every kind of bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from returns.pipeline import is_successful
from returns.result import Failure, Success

from djogi.config import Config, DatabaseConfig, ProjectConfig, load_config
from djogi.errors import ConfigError

FULL = """
[project]
models = ["bookshop.models", "bookshop.audit"]
migrations = "db/migrations"
seeds = "/srv/seeds"
profile = "test"
node_id = 3

[database.main]
url = "postgresql://app:secret@db.internal:5432/shop"
pool_min = 2
pool_max = 20
pool_timeout = 5
prepare = false
apps = ["bookshop"]

[database.crud_log]
apps = ["audit"]

[database.analytics]
url = "postgres:///analytics?host=/var/run/postgresql"
"""


def write(directory: Path, text: str) -> Path:
    path = directory / "Djogi.toml"
    path.write_text(text)
    return path


def load(tmp_path: Path, text: str | None = None, **env: str) -> Config:
    """Load ``text`` (if given) from tmp_path with exactly ``env``; fail the test on Failure."""
    if text is not None:
        write(tmp_path, text)
    result = load_config(env=env, cwd=tmp_path)
    assert is_successful(result), result
    return result.unwrap()


def error(tmp_path: Path, text: str | None, **env: str) -> str:
    """Load and return the ConfigError message; fail the test unless the result is a Failure."""
    if text is not None:
        write(tmp_path, text)
    result = load_config(env=env, cwd=tmp_path)
    assert isinstance(result, Failure), result
    failure = result.failure()
    assert isinstance(failure, ConfigError)
    return str(failure)


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load(tmp_path)
    assert config.source is None
    assert config.root == tmp_path.resolve()
    assert config.project == ProjectConfig()
    assert config.project.profile == "dev"
    assert config.project.node_id is None
    assert dict(config.databases) == {"main": DatabaseConfig()}
    assert config.database().url is None
    assert (config.database().pool_min, config.database().pool_max) == (1, 10)
    assert config.database().pool_timeout == 30.0
    assert config.database().prepare is True
    assert config.migrations_dir == tmp_path.resolve() / "migrations"
    assert config.seeds_dir == tmp_path.resolve() / "seeds"
    assert not config.is_production


def test_full_file(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    root = tmp_path.resolve()
    assert config.source == root / "Djogi.toml"
    assert config.root == root
    assert config.project == ProjectConfig(
        models=("bookshop.models", "bookshop.audit"),
        migrations="db/migrations",
        seeds="/srv/seeds",
        profile="test",
        node_id=3,
    )
    assert config.migrations_dir == root / "db" / "migrations"
    assert config.seeds_dir == Path("/srv/seeds")
    assert list(config.databases) == ["main", "crud_log", "analytics"]
    assert config.database("main") == DatabaseConfig(
        url="postgresql://app:secret@db.internal:5432/shop",
        pool_min=2,
        pool_max=20,
        pool_timeout=5.0,
        prepare=False,
        apps=("bookshop",),
    )
    # a database without a url takes main's, with its own name as the path (reference §7.3)
    assert config.database("crud_log").url == "postgresql://app:secret@db.internal:5432/crud_log"
    assert config.database("crud_log").apps == ("audit",)
    assert config.database("analytics").url == "postgres:///analytics?host=/var/run/postgresql"


def test_loaded_config_is_immutable(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    with pytest.raises(AttributeError):
        config.project = ProjectConfig()  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.databases["other"] = DatabaseConfig()  # type: ignore[index]


def test_unknown_database_name_lists_the_known_ones(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    with pytest.raises(
        ConfigError,
        match=r"unknown database 'analytic'; known databases: main, crud_log, "
        r"analytics \(did you mean \"analytics\"\?\)",
    ):
        config.database("analytic")


def test_file_is_found_upward_from_cwd(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nprofile = "production"\n')
    nested = tmp_path / "src" / "pkg"
    nested.mkdir(parents=True)
    config = load(nested)
    assert config.source == tmp_path.resolve() / "Djogi.toml"
    assert config.root == tmp_path.resolve()
    assert config.is_production


def test_explicit_path_and_djogi_config(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nprofile = "test"\n')
    other = tmp_path / "conf"
    other.mkdir()
    (other / "prod.toml").write_text('[project]\nprofile = "production"\nmigrations = "m"\n')

    by_env = load(tmp_path, DJOGI_CONFIG="conf/prod.toml")
    assert by_env.project.profile == "production"
    assert by_env.root == other.resolve()
    assert by_env.migrations_dir == other.resolve() / "m"

    explicit = load_config(Path("Djogi.toml"), env={"DJOGI_CONFIG": "conf/prod.toml"}, cwd=tmp_path)
    assert isinstance(explicit, Success)
    assert explicit.unwrap().project.profile == "test"


@pytest.mark.parametrize(
    ("env", "check"),
    [
        ({"DJOGI_PROFILE": "production"}, lambda c: c.project.profile == "production" and c.is_production),
        ({"DJOGI_ENV": "PRODUCTION"}, lambda c: c.is_production),
        ({"DJOGI_ENV": "staging"}, lambda c: c.project.profile == "test"),
        ({"DJOGI_NODE_ID": "511"}, lambda c: c.project.node_id == 511),
        ({"HEER_NODE_ID": "9"}, lambda c: c.project.node_id == 9),
        ({"DJOGI_MODELS": "a.models, b"}, lambda c: c.project.models == ("a.models", "b")),
        ({"DJOGI_MIGRATIONS_DIR": "elsewhere"}, lambda c: c.migrations_dir == c.root / "elsewhere"),
        ({"DJOGI_SEEDS_DIR": "/abs/seeds"}, lambda c: c.seeds_dir == Path("/abs/seeds")),
        ({"DJOGI_POOL_MIN": "0"}, lambda c: c.database().pool_min == 0),
        ({"DJOGI_POOL_MAX": " 50 "}, lambda c: c.database().pool_max == 50),
        ({"DJOGI_POOL_TIMEOUT": "2.5"}, lambda c: c.database().pool_timeout == 2.5),
        ({"DJOGI_PREPARE": "on"}, lambda c: c.database().prepare is True),
        ({"DJOGI_DATABASE_URL": "postgresql://h1/x"}, lambda c: c.database().url == "postgresql://h1/x"),
        ({"DATABASE_URL": "postgresql://h2/x"}, lambda c: c.database().url == "postgresql://h2/x"),
        (
            {"DJOGI_DATABASE_URL_ANALYTICS": "postgresql://h3/a"},
            lambda c: c.database("analytics").url == "postgresql://h3/a",
        ),
        ({"CRUD_LOG_URL": "postgresql://h4/c"}, lambda c: c.database("crud_log").url == "postgresql://h4/c"),
        # an empty value counts as unset
        ({"DJOGI_PROFILE": "", "DJOGI_POOL_MAX": ""}, lambda c: c.project.profile == "test"),
    ],
)
def test_each_env_override(tmp_path: Path, env: dict[str, str], check: Callable[[Config], bool]) -> None:
    assert check(load(tmp_path, FULL, **env))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "postgresql://low/x"}, "postgresql://low/x"),
        ({"DATABASE_URL": "postgresql://low/x", "DJOGI_DATABASE_URL": "postgresql://mid/x"}, "postgresql://mid/x"),
        (
            {
                "DATABASE_URL": "postgresql://low/x",
                "DJOGI_DATABASE_URL": "postgresql://mid/x",
                "DJOGI_DATABASE_URL_MAIN": "postgresql://high/x",
            },
            "postgresql://high/x",
        ),
        ({}, "postgresql://app:secret@db.internal:5432/shop"),
    ],
)
def test_main_url_precedence(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    config = load(tmp_path, FULL, **env)
    assert config.database().url == expected
    # databases without their own url follow main's effective url
    assert config.database("crud_log").url == expected.rsplit("/", 1)[0] + "/crud_log"


def test_other_precedences(tmp_path: Path) -> None:
    both_ids = load(tmp_path, FULL, DJOGI_NODE_ID="4", HEER_NODE_ID="5")
    assert both_ids.project.node_id == 4
    crud = load(
        tmp_path,
        FULL,
        CRUD_LOG_URL="postgresql://c1/c",
        DJOGI_CRUD_LOG_URL="postgresql://c2/c",
        DJOGI_DATABASE_URL_CRUD_LOG="postgresql://c0/c",
    )
    assert crud.database("crud_log").url == "postgresql://c0/c"
    assert (
        load(tmp_path, FULL, CRUD_LOG_URL="postgresql://c1/c", DJOGI_CRUD_LOG_URL="postgresql://c2/c")
        .database("crud_log")
        .url
        == "postgresql://c1/c"
    )
    # DJOGI_ENV can only tighten: production wins over an explicit dev profile
    assert load(tmp_path, FULL, DJOGI_PROFILE="dev", DJOGI_ENV="production").is_production
    # env beats the file; the file beats the defaults
    assert load(tmp_path, FULL, DJOGI_POOL_MAX="7").database().pool_max == 7
    assert load(tmp_path, FULL).database().pool_max == 20


def test_env_only_without_a_file(tmp_path: Path) -> None:
    config = load(tmp_path, None, DATABASE_URL="postgresql://u:p@localhost/app", DJOGI_PROFILE="production")
    assert config.source is None
    assert config.database().url == "postgresql://u:p@localhost/app"
    assert config.is_production


# (file text or None, env, fragments the message must contain: source, key path, expectation, got)
BAD: list[tuple[str | None, dict[str, str], tuple[str, ...]]] = [
    (
        "[project]\nmodles = []\n",
        {},
        ("Djogi.toml: project.modles: ", "expected one of the keys models, migrations", 'did you mean "models"'),
    ),
    ("[servr]\n", {}, ("Djogi.toml: servr: ", "expected one of the keys project, database", 'unknown key "servr"')),
    (
        '[database.main]\npool_max = "ten"\n',
        {},
        ("Djogi.toml: database.main.pool_max: ", 'expected int >= 1, got "ten"'),
    ),
    ("[database.main]\nprepare = 1\n", {}, ("Djogi.toml: database.main.prepare: ", "expected bool, got 1")),
    ("project = 5\n", {}, ("Djogi.toml: project: ", "expected table, got 5")),
    ('[project]\nmodels = ["a", 3]\n', {}, ("Djogi.toml: project.models[1]: ", "expected non-empty str, got 3")),
    ('[project]\nmodels = ["a-b"]\n', {}, ("Djogi.toml: project.models[0]: ", 'dotted module name, got "a-b"')),
    ('[project]\nmigrations = ""\n', {}, ("Djogi.toml: project.migrations: ", 'expected non-empty str, got ""')),
    (
        '[project]\nprofile = "prod"\n',
        {},
        ("Djogi.toml: project.profile: ", 'expected one of "dev", "production", "test", got "prod"'),
    ),
    ("[project]\nnode_id = 512\n", {}, ("Djogi.toml: project.node_id: ", "expected int from 0 to 511, got 512")),
    (
        '[database.main]\nurl = "mysql://u:hunter2@h/db"\n',
        {},
        ("Djogi.toml: database.main.url: ", "expected a postgresql:// or postgres:// URL", '"mysql://u:***@h/db"'),
    ),
    (
        '[database.main]\nurl = "postgresql:///db"\n',
        {},
        ("Djogi.toml: database.main.url: ", "URL with a host (or a host= query parameter)"),
    ),
    (
        '[database.main]\nurl = "postgresql://h/db?bogus=1"\n',
        {},
        ("Djogi.toml: database.main.url: ", "expected a valid libpq URL (invalid URI query parameter)"),
    ),
    (
        '[database.main]\nurl = "postgresql://h:99999/db"\n',
        {},
        ("Djogi.toml: database.main.url: ", "port is a number from 1 to 65535"),
    ),
    (
        "[database.main]\npool_min = 5\npool_max = 3\n",
        {},
        ("Djogi.toml: database.main.pool_min: ", "expected int <= pool_max (3), got 5"),
    ),
    (
        "[database.main]\npool_timeout = 0\n",
        {},
        ("Djogi.toml: database.main.pool_timeout: ", "expected float > 0, got 0"),
    ),
    (
        "[database.My-DB]\n",
        {},
        ("Djogi.toml: database.My-DB: ", "expected a database name matching [a-z_][a-z0-9_]{0,62}", '"My-DB"'),
    ),
    ("[database]\nx = 3\n", {}, ("Djogi.toml: database.x: ", "expected table, got 3")),
    (
        '[database.a]\napps = ["x"]\n[database.b]\napps = ["x"]\n',
        {},
        ("Djogi.toml: database.b.apps[0]: ", "expected an app no other database claims", "database.a.apps"),
    ),
    (
        "[project\n",
        {},
        ("Djogi.toml: line 1, column 9: ", "expected valid TOML", "Expected ']' at the end of a table declaration"),
    ),
    ("a = 1\na = 2\n", {}, ("Djogi.toml: line 2, column 6: ", "expected valid TOML")),
    # environment values are validated exactly like file values, and the message names the variable
    (None, {"DJOGI_POOL_MAX": "ten"}, ("DJOGI_POOL_MAX: database.main.pool_max: ", 'expected int >= 1, got "ten"')),
    (None, {"DJOGI_POOL_MAX": "0"}, ("DJOGI_POOL_MAX: database.main.pool_max: ", "expected int >= 1, got 0")),
    (None, {"DJOGI_NODE_ID": "-1"}, ("DJOGI_NODE_ID: project.node_id: ", "expected int from 0 to 511, got -1")),
    (None, {"HEER_NODE_ID": "x"}, ("HEER_NODE_ID: project.node_id: ", 'expected int from 0 to 511, got "x"')),
    (None, {"DJOGI_PROFILE": "Production"}, ("DJOGI_PROFILE: project.profile: ", 'expected one of "dev"')),
    (None, {"DJOGI_PREPARE": "maybe"}, ("DJOGI_PREPARE: database.main.prepare: ", 'expected bool, got "maybe"')),
    (None, {"DJOGI_POOL_TIMEOUT": "nan"}, ("DJOGI_POOL_TIMEOUT: database.main.pool_timeout: ", "float > 0, got nan")),
    (None, {"DJOGI_MODELS": "a,,b"}, ("DJOGI_MODELS: project.models[1]: ", 'expected non-empty str, got ""')),
    (
        None,
        {"DATABASE_URL": "mysql://root:hunter2@h/db?password=hunter2"},
        ("DATABASE_URL: database.main.url: ", "postgresql://", '"mysql://root:***@h/db?password=***"'),
    ),
    (
        "[database.main]\npool_min = 5\n",
        {"DJOGI_POOL_MAX": "3"},
        ("DJOGI_POOL_MAX: database.main.pool_max: ", "expected int >= pool_min (5), got 3"),
    ),
    (
        None,
        {"DJOGI_DATABASE_URL_ANALYTIC": "postgresql://h/a"},
        ("DJOGI_DATABASE_URL_ANALYTIC: database.analytic: ", "expected a database declared in Djogi.toml (main)"),
    ),
    (None, {"DJOGI_CONFIG": "missing.toml"}, ("DJOGI_CONFIG: ", 'expected an existing file, got "missing.toml"')),
]


@pytest.mark.parametrize(("text", "env", "fragments"), BAD)
def test_bad_input_is_a_failure_naming_source_key_and_expectation(
    tmp_path: Path, text: str | None, env: dict[str, str], fragments: tuple[str, ...]
) -> None:
    message = error(tmp_path, text, **env)
    assert message.startswith(fragments[0]), message
    for fragment in fragments[1:]:
        assert fragment in message, message
    assert "hunter2" not in message


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "Djogi.toml").mkdir()  # a directory where the file should be
    message = error(tmp_path, None)
    assert message == "Djogi.toml: expected a readable file, got IsADirectoryError: Is a directory"


def test_explicit_missing_file(tmp_path: Path) -> None:
    result = load_config(tmp_path / "nope.toml", env={}, cwd=tmp_path)
    assert isinstance(result, Failure)
    assert (
        str(result.failure()) == "nope.toml: expected a readable file, got FileNotFoundError: No such file or directory"
    )


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "Djogi.toml").write_bytes(b'[project]\nprofile = "\xff"\n')
    assert error(tmp_path, None) == "Djogi.toml: expected UTF-8 text, got byte 0xff at offset 21"


def test_file_outside_cwd_is_named_by_absolute_path(tmp_path: Path) -> None:
    write(tmp_path, "[project]\nnode_id = true\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = load_config(tmp_path / "Djogi.toml", env={}, cwd=elsewhere)
    assert isinstance(result, Failure)
    assert str(result.failure()) == (
        f"{tmp_path.resolve() / 'Djogi.toml'}: project.node_id: expected int from 0 to 511, got true"
    )
