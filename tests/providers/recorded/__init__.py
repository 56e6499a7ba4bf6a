"""Tests on external recordings of real API exchanges (`cassettes.py`), which need the folder
of recordings.

When it is absent, every test here skips with one reason, except under `CI=true`, where a
missing folder is a failure: CI must run against the recordings (`.ci/run` sets
`SPINE_CASSETTES`). A CI that cannot have them (the GitHub workflow: they are another
project's data, never in this repository) sets `SPINE_CASSETTES_OPTIONAL=1` to skip instead.
The check runs when the package's tests are set up, not at import.
"""

from __future__ import annotations

import os

import pytest


def setup_module() -> None:
    """pytest runs this once before the package's first test (package-level setup)."""
    from .cassettes import cassettes_dir

    folder = cassettes_dir()
    if folder.is_dir():
        return
    where = f"external API recordings not found at {folder}"
    optional = os.environ.get("SPINE_CASSETTES_OPTIONAL", "") == "1"  # a CI without them
    if os.environ.get("CI", "").lower() in ("true", "1") and not optional:
        pytest.fail(f"{where}; CI=true needs them: set SPINE_CASSETTES", pytrace=False)
    pytest.skip(f"{where} (set SPINE_CASSETTES to the folder of recorded exchanges)")
