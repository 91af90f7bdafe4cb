"""mypy plugin for djogi (placeholder until class-level column typing lands)."""

from mypy.plugin import Plugin


class DjogiPlugin(Plugin):
    """Types djogi model classes for mypy."""


def plugin(version: str) -> type[Plugin]:
    """mypy entry point."""
    return DjogiPlugin
