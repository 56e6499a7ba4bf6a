"""Human-in-the-loop across two processes: `spine run` pauses (exit 2, resume token), a second
process runs `spine resume` against the same SQLite checkpoint store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import SpineRunner, needs_sqlite

OPS = """
from spine_core import Interrupt, tool


@tool(approve=True)
def delete_branch(name: str) -> str:
    \"\"\"Delete a git branch.

    Args:
        name: The branch.
    \"\"\"
    return f"deleted branch {name}"


@tool
def pick_colour() -> str:
    \"\"\"Ask the user for a colour.\"\"\"
    raise Interrupt("Which colour?", data={"options": ["red", "blue"]})
"""


@pytest.fixture
def hitl_spec(write: Callable[[str, str], Path]) -> Callable[[str], Path]:
    def make(tool: str) -> Path:
        write("ops.py", OPS)
        return write(
            "agent.yaml",
            f"""
            name: ops
            model: test
            tools:
              - python: ops:{tool}
            checkpoint:
              sqlite: {{path: state/sessions.db}}
            """,
        )

    return make


@needs_sqlite
def test_approval_pause_prints_token_and_resume_in_new_process_runs_the_tool(
    spine: SpineRunner, hitl_spec: Callable[[str], Path]
) -> None:
    spec = hitl_spec("delete_branch")
    paused = spine("run", str(spec), "clean up")
    assert paused.returncode == 2, paused.stderr
    assert 'pending tool call: delete_branch(name="example")' in paused.stdout
    token = next(
        line.removeprefix("resume token: ")
        for line in paused.stdout.splitlines()
        if line.startswith("resume token: ")
    )
    assert (spec.parent / "state" / "sessions.db").is_file()

    resumed = spine("resume", str(spec), token, "--approve", "--json")
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["answer"] == "Tool results:\n- delete_branch: deleted branch example"

    stale = spine("resume", str(spec), token, "--approve")
    assert stale.returncode == 1
    assert "stale" in stale.stderr


@needs_sqlite
def test_reject_with_reason_reaches_the_model(
    spine: SpineRunner, hitl_spec: Callable[[str], Path]
) -> None:
    spec = hitl_spec("delete_branch")
    token = json.loads(spine("run", str(spec), "clean up", "--json").stdout)["resume_token"]
    done = spine("resume", str(spec), token, "--reject", "not on a Friday", "--json")
    assert done.returncode == 0, done.stderr
    assert "The user rejected this tool call: not on a Friday" in json.loads(done.stdout)["answer"]


@needs_sqlite
def test_decision_value_approves_or_rejects_with_the_value_shown_to_the_model(
    spine: SpineRunner, hitl_spec: Callable[[str], Path]
) -> None:
    spec = hitl_spec("delete_branch")
    token = json.loads(spine("run", str(spec), "clean up", "--json").stdout)["resume_token"]
    done = spine("resume", str(spec), token, "--decision", "wait until Monday", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)["answer"]
    assert "The user rejected this tool call: wait until Monday" in answer

    token = json.loads(spine("run", str(spec), "clean up", "--json").stdout)["resume_token"]
    done = spine("resume", str(spec), token, "--decision", "yes", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"].endswith("deleted branch example")


@needs_sqlite
def test_a_decision_of_the_wrong_kind_is_refused_and_the_pause_kept(
    spine: SpineRunner, hitl_spec: Callable[[str], Path]
) -> None:
    spec = hitl_spec("delete_branch")
    token = json.loads(spine("run", str(spec), "clean up", "--json").stdout)["resume_token"]
    wrong = spine("resume", str(spec), token, "--answer", "blue")
    assert wrong.returncode == 1
    assert "asks for an approval, not an answer" in wrong.stderr
    assert spine("resume", str(spec), token, "--approve").returncode == 0

    spec = hitl_spec("pick_colour")
    token = json.loads(spine("run", str(spec), "choose", "--json").stdout)["resume_token"]
    wrong = spine("resume", str(spec), token, "--approve")
    assert wrong.returncode == 1
    assert "asks a question, not an approval" in wrong.stderr
    done = spine("resume", str(spec), token, "--decision", "red", "--json")
    assert json.loads(done.stdout)["answer"] == "Tool results:\n- pick_colour: red"


@needs_sqlite
def test_answer_to_a_tool_question_becomes_its_result(
    spine: SpineRunner, hitl_spec: Callable[[str], Path]
) -> None:
    spec = hitl_spec("pick_colour")
    paused = json.loads(spine("run", str(spec), "choose", "--json").stdout)
    assert paused["stopped_reason"] == "interrupt"
    assert paused["interrupt"]["question"] == "Which colour?"
    done = spine("resume", str(spec), paused["resume_token"], "--answer", "blue", "--json")
    assert json.loads(done.stdout)["answer"] == "Tool results:\n- pick_colour: blue"


@needs_sqlite
def test_resume_without_a_decision_reprints_the_pause_and_its_resume_command(
    spine: SpineRunner, hitl_spec: Callable[[str], Path]
) -> None:
    spec = hitl_spec("delete_branch")
    token = json.loads(spine("run", str(spec), "clean up", "--json").stdout)["resume_token"]
    session = token.partition(":")[0]
    for given in (token, session):
        none = spine("resume", str(spec), given)
        assert none.returncode == 1
        assert none.stderr == (
            f"spine: error: session '{session}' is paused for approval: Approve the call to "
            f'\'delete_branch\' with arguments {{"name": "example"}}?; continue with: '
            f"spine resume {spec} {token} --approve (or --reject REASON)\n"
        )
    assert spine("resume", str(spec), token, "--approve").returncode == 0  # the pause was kept


def test_resume_needs_exactly_one_decision_and_an_existing_session(
    spine: SpineRunner, write: Callable[[str, str], Path]
) -> None:
    spec = write("agent.yaml", "model: test\ncheckpoint: memory\n")
    both = spine("resume", str(spec), "sess:abc", "--approve", "--answer", "x")
    assert both.returncode == 1
    assert both.stderr.strip() == (
        "spine: error: give only one of --approve, --reject, --decision, --answer"
    )
    unknown = spine("resume", str(spec), "sess:abc", "--approve")
    assert unknown.returncode == 1
    assert unknown.stderr == (
        "spine: error: no session 'sess' in the memory store (this process only)\n"
    )
