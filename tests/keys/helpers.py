"""Shared by the key-generation tests: the SQL of the previous HeeRanjID install, to prove upgrades."""

from __future__ import annotations

from pathlib import Path

V1_SQL = (Path(__file__).parent / "bootstrap_v1.sql").read_text()
