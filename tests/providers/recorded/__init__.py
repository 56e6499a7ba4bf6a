"""Tests on external recordings of real API exchanges (`cassettes.py`), which need the folder
of recordings.

When it is absent, every test here skips with one reason, except under `CI=true`, where a
missing folder is a failure: CI must run against the recordings (`.ci/run` sets
`SPINE_CASSETTES`). The check runs when the package's tests are set up, not at import.
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
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"{where}; CI=true needs them: set SPINE_CASSETTES", pytrace=False)
    pytest.skip(f"{where} (set SPINE_CASSETTES to the folder of recorded exchanges)")
