"""`spine run` through the real console script: the quickstart offline, streaming, JSON,
stdin input, overrides and exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from .conftest import QUICKSTART, SpineRunner, needs_sqlite


def test_quickstart_answers_with_real_numbers_from_the_repository(
    spine: SpineRunner, sample_repo: Path
) -> None:
    done = spine(
        "run",
        str(QUICKSTART),
        "What is in this repository?",
        env={"SPINE_REPO_ROOT": str(sample_repo)},
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for name in ("list_files", "count_lines", "search_text", "read_file"):
        assert f"→ {name}(" in out
    assert "Python 6 lines in 1 files; Markdown 2 lines in 1 files" in out
    assert "2 matches for 'def ' in 1 files" in out
    assert "Tool results:" in out  # the test provider's final answer
    assert "[final] steps 2 · tokens" in out and "requests 2" in out


def test_stream_prints_tool_calls_and_answer_tokens_live(
    spine: SpineRunner, write: Callable[[str, str], Path]
) -> None:
    spec = write("echo.yaml", "model: echo\ncheckpoint: memory\n")
    done = spine("run", str(spec), "hello streaming world", "--stream")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "hello streaming world"

    quick = spine("run", str(QUICKSTART), "count", "--stream", "--json")
    lines = [json.loads(line) for line in quick.stdout.splitlines()]
    types = [line.get("type") for line in lines[:-1]]
    assert types.index("tool_call") < types.index("tool_result") < types.index("token")
    assert lines[-1]["stopped_reason"] == "final" and lines[-1]["ok"] is True


def test_json_prints_the_result_and_reads_input_from_stdin(
    spine: SpineRunner, write: Callable[[str, str], Path]
) -> None:
    spec = write("echo.yaml", "model: echo\ncheckpoint: memory\n")
    done = spine("run", str(spec), "--json", stdin="from stdin\n")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["answer"] == "from stdin"
    assert result["stopped_reason"] == "final"
    assert result["usage"]["requests"] == 1
    assert [m["role"] for m in result["state"]["messages"]] == ["user", "assistant"]


def test_model_override_and_max_steps_stop_gives_exit_code_1(
    spine: SpineRunner, write: Callable[[str, str], Path]
) -> None:
    spec = write("agent.yaml", "model: echo\ntools:\n  - python: tools:TOOLS\ncheckpoint: memory\n")
    (spec.parent / "tools.py").write_text((QUICKSTART.parent / "tools.py").read_text())
    done = spine("run", str(spec), "hi", "--model", "test", "--max-steps", "1", "--json")
    result = json.loads(done.stdout)
    assert done.returncode == 1
    assert result["stopped_reason"] == "max_steps"
    assert result["state"]["messages"][1]["tool_calls"]  # the test provider ran, not echo


@needs_sqlite
def test_session_continues_in_the_default_sqlite_store(
    spine: SpineRunner, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    spec = write("echo.yaml", "model: echo\n")
    first = spine("run", str(spec), "one", "--session", "s1", "--json")
    second = spine("run", str(spec), "two", "--session", "s1", "--json")
    assert first.returncode == second.returncode == 0, second.stderr
    messages = json.loads(second.stdout)["state"]["messages"]
    assert [m["content"] for m in messages] == ["one", "one", "two", "two"]
    assert (tmp_path / ".spine" / "state.db").is_file()
