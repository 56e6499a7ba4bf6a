"""The demo (`make demo`: the quickstart's `spine run` and `spine eval`) tells the truth: it
says what the offline test provider does and how to use a real model, prints each tool call
with its arguments and each result once, tells duplicate scorers apart, and shows cases the
test provider fails as expected failures with their reasons."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from .conftest import QUICKSTART, SpineRunner

DATASET = QUICKSTART.parent / "dataset.yaml"
Writer = Callable[[str, str], Path]

NOTE = (
    "offline: the `test` provider calls each tool once with its default arguments and answers "
    "with a summary of the tool results, whatever the question"
)


def test_run_prints_calls_with_arguments_each_result_once_and_what_the_provider_is(
    spine: SpineRunner, sample_repo: Path
) -> None:
    done = spine("run", str(QUICKSTART), "Overview?", env={"SPINE_REPO_ROOT": str(sample_repo)})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert '→ list_files(path=".", pattern="*", limit=40)' in out
    assert '→ count_lines(path=".")' in out
    assert '→ search_text(pattern="def ", path=".", regex=false, max_results=10)' in out
    assert '→ read_file(path="README.md", start=1, max_lines=60)' in out
    for result in (
        "3 files matching '*' under '.': README.md, logo.png, pkg/app.py",
        "8 lines under '.': Python 6 lines in 1 files; Markdown 2 lines in 1 files",
        "2 matches for 'def ' in 1 files",
        "README.md (lines 1-2 of 2)",
    ):
        assert out.count(result) == 1, result
    assert NOTE in done.stderr
    assert "Run the same spec on a real model with -m SCHEME:MODEL" in done.stderr


def test_a_real_model_run_says_nothing_about_the_test_provider(
    spine: SpineRunner, write: Writer
) -> None:
    spec = write("agent.yaml", "model: echo\ncheckpoint: memory\n")
    done = spine("run", str(spec), "hi")
    assert done.returncode == 0 and "offline" not in done.stderr


def test_eval_shows_expected_failures_with_reasons_and_tells_scorers_apart(
    spine: SpineRunner, sample_repo: Path
) -> None:
    done = spine(
        "eval", str(QUICKSTART), str(DATASET), "--fail-under", "1.0",
        env={"SPINE_REPO_ROOT": str(sample_repo)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = " ".join(re.sub(r"\s*│\s*", " ", done.stdout).split())  # table cells joined up
    assert NOTE in " ".join(done.stderr.split())
    for case in ("reads-the-named-file", "counts-python-files", "one-word-answer"):
        assert re.search(rf"{case} XFAIL", out), case
    assert "✗ tool_called: 'read_file' with {'path': 'pyproject.toml'} called 0 time(s)" in out
    assert "✗ regex: answer does not match" in out
    assert "expected failure: the test provider reads README.md" in out
    assert "cost_budget(max_usd=0.05)=1.00" in out and "cost_budget(max_usd=0.01)=1.00" in out
    assert 'tool_called(name="delete_file")=1.00' in out
    assert 'tool_called(name="write_file")=1.00' in out
    assert "pass rate 100.0% (13/13 runs; 3 expected failure(s) failed as expected" in out
    assert "all runs 81.2% of 16 runs, 16 cases" in out


def test_an_expected_failure_that_passes_fails_the_evaluation(
    spine: SpineRunner, write: Writer
) -> None:
    data = write(
        "d.yaml",
        """
        cases:
          - id: passes-anyway
            input: hi
            metadata: {xfail: {provider: test, reason: thought it would fail}}
            scorers: ["contains:values=Tool"]
          - id: fails-elsewhere
            input: hi
            metadata: {xfail: {provider: anthropic, reason: only on anthropic}}
            scorers: ["contains:values=zzz"]
        """,
    )
    done = spine("eval", str(QUICKSTART), str(data), "--fail-under", "0.5")
    assert done.returncode == 1
    out = re.sub(r"\s*│\s*", " ", done.stdout)
    assert "passes-anyway XPASS" in out
    assert "fails-elsewhere FAIL" in out  # its mark names another provider
    errors = [line for line in done.stderr.splitlines() if line.startswith("spine: error:")]
    assert errors == [  # 1 of 2 counted runs passed: 50% meets --fail-under 0.5
        "spine: error: case 'passes-anyway' is marked as an expected failure but passed"
    ]
