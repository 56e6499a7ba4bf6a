"""Run the `spine` CLI in a fresh process, with the `claude-code` / `claude-agent` provider
schemes available even before the workspace is re-synced.

The schemes are declared in packages/spine-providers/pyproject.toml
(`[project.entry-points."spine.providers"]`); an environment installed before they were
added has no such entry point yet. Then this script registers the very factory the
pyproject names (read from it, so a wrong target fails the test) and calls `spine`.
"""

from __future__ import annotations

import importlib
import sys
import tomllib
from pathlib import Path

from spine_core import PluginNotFoundError, lookup, register_provider
from spine_core.registry import PROVIDERS

PYPROJECT = Path(__file__).resolve().parents[3] / "packages/spine-providers/pyproject.toml"


def _declared() -> dict[str, str]:
    data = tomllib.loads(PYPROJECT.read_text())
    table: dict[str, str] = data["project"]["entry-points"]["spine.providers"]
    return table


def register_declared_schemes() -> None:
    """Register `claude-code` and `claude-agent` from the pyproject's entry-point targets when
    the installed metadata does not have them yet."""
    for scheme in ("claude-code", "claude-agent"):
        try:
            lookup(PROVIDERS, scheme)
        except PluginNotFoundError:
            module, _, attr = _declared()[scheme].partition(":")
            register_provider(scheme, getattr(importlib.import_module(module), attr))


def main() -> None:
    register_declared_schemes()
    from spine.cli import main as spine_main

    sys.argv = ["spine", *sys.argv[1:]]
    spine_main()


if __name__ == "__main__":
    main()
