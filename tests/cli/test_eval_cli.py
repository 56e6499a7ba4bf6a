"""`spine eval` through the real command: the quickstart dataset offline, reports, exit codes
for --fail-under and --baseline, one-line errors, and the missing-extra message."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

from spine_eval import EvalReport

from .conftest import QUICKSTART, SpineRunner

DATASET = QUICKSTART.parent / "dataset.yaml"
Writer = Callable[[str, str], Path]


def env_for(repo: Path) -> dict[str, str]:
    return {"SPINE_REPO_ROOT": str(repo)}


def test_quickstart_dataset_passes_and_writes_every_report(
    spine: SpineRunner, sample_repo: Path, tmp_path: Path
) -> None:
    done = spine(
        "eval", str(QUICKSTART), str(DATASET), "--concurrency", "2",
        "--report", "out/r.json", "--report", "out/r.html", "--report", "out/r.md",
        "--fail-under", "1.0",
        env=env_for(sample_repo),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = EvalReport.load(tmp_path / "out" / "r.json")
    expected_failures = {c.id for c in report.cases if "xfail" in c.metadata}
    assert len(report.cases) >= 12 and len(expected_failures) == 3
    assert all(c.passed == (c.id not in expected_failures) for c in report.cases)
    assert report.agent == "repo-analyst" and report.concurrency == 2
    assert "pass rate          100.0% (13/13 runs; 3 expected failure(s)" in done.stdout
    assert "16/16" in done.stderr  # the progress bar's final state
    HTMLParser().feed((tmp_path / "out" / "r.html").read_text())
    assert "| lists-files | ✅ pass |" in (tmp_path / "out" / "r.md").read_text()


def test_fail_under_exits_1_when_the_pass_rate_is_lower(
    spine: SpineRunner, sample_repo: Path
) -> None:
    args = ["eval", str(QUICKSTART), str(DATASET), "--tag", "smoke"]
    failing = [*args, "--scorer", "exact_match:value=nothing like this", "--fail-under", "0.5"]
    done = spine(*failing, env=env_for(sample_repo))
    assert done.returncode == 1
    assert "pass rate 0.0% is under --fail-under 50.0%" in done.stderr
    assert spine(*args, "--fail-under", "0.5", env=env_for(sample_repo)).returncode == 0


def test_baseline_regression_exits_1(
    spine: SpineRunner, sample_repo: Path, write: Writer, tmp_path: Path
) -> None:
    good = write("good.yaml", "cases:\n  - {id: a, input: hi, scorers: ['contains:values=Tool']}\n")
    bad = write("bad.yaml", "cases:\n  - {id: a, input: hi, scorers: ['contains:values=zzz']}\n")
    env = env_for(sample_repo)
    first = spine("eval", str(QUICKSTART), str(good), "--report", "base.json", env=env)
    assert first.returncode == 0, first.stderr
    same = spine("eval", str(QUICKSTART), str(good), "--baseline", "base.json", env=env)
    assert same.returncode == 0, same.stderr
    assert "0 regression(s)" in same.stdout
    worse = spine("eval", str(QUICKSTART), str(bad), "--baseline", "base.json", env=env)
    assert worse.returncode == 1
    assert "regression: a (100% -> 0%)" in worse.stdout
    assert "regression against the baseline" in worse.stderr


def test_bad_dataset_is_one_line_naming_file_and_case(spine: SpineRunner, write: Writer) -> None:
    data = write("d.yaml", "cases:\n  - input: ok\n  - id: two\n")
    done = spine("eval", str(QUICKSTART), str(data))
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "d.yaml:3: case 1: field 'input' is required" in done.stderr


def test_unknown_scorer_lists_the_installed_ones(spine: SpineRunner) -> None:
    done = spine("eval", str(QUICKSTART), str(DATASET), "--scorer", "exakt")
    assert done.returncode == 1
    assert "unknown scorer 'exakt'" in done.stderr and "exact_match" in done.stderr


def test_bad_baseline_file_is_reported(spine: SpineRunner, write: Writer) -> None:
    base = write("base.json", json.dumps({"cases": "not a list"}))
    done = spine("eval", str(QUICKSTART), str(DATASET), "--baseline", str(base))
    assert done.returncode == 1 and "not a JSON report" in done.stderr


def test_without_the_eval_extra_the_command_says_what_to_install(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['spine_eval'] = None\n"
        "from spine.cli import main\n"
        "sys.argv = ['spine', 'eval', 'agent.yaml', 'data.yaml']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 1
    assert "pip install 'spine-agents[eval]'" in done.stderr
