"""Where the tests on external recordings look for them, and what happens when they are not
there: one skip reason on a user's clone, a failure under CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .recorded.cassettes import REPOSITORY, cassettes_dir

RECORDED = Path(__file__).resolve().parent / "recorded" / "test_errors.py"


def test_the_folder_defaults_to_shared_cassettes_beside_the_repository() -> None:
    assert cassettes_dir({}) == REPOSITORY.parent / "shared" / "cassettes"
    assert cassettes_dir({"SPINE_CASSETTES": "/data/rec"}) == Path("/data/rec")
    assert cassettes_dir({"SPINE_CASSETTES": "rec"}) == REPOSITORY / "rec"


def _run_recorded(**env: str) -> subprocess.CompletedProcess[str]:
    unset = ("CI", "SPINE_CASSETTES", "SPINE_CASSETTES_OPTIONAL")
    environ = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(RECORDED), "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=REPOSITORY,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_missing_recordings_skip_with_one_reason_outside_ci() -> None:
    run = _run_recorded(SPINE_CASSETTES="/nonexistent/cassettes")
    assert run.returncode == 0, run.stdout + run.stderr
    skipped = [line for line in run.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1, run.stdout  # every test, one reason (one summary line)
    assert "external API recordings not found at /nonexistent/cassettes" in skipped[0]
    assert "4 skipped" in run.stdout


@pytest.mark.slow
def test_missing_recordings_fail_under_ci() -> None:
    run = _run_recorded(SPINE_CASSETTES="/nonexistent/cassettes", CI="true")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "CI=true needs them" in run.stdout
    assert "4 error" in run.stdout
