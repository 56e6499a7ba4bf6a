"""`model: claude-code:...` in a YAML agent spec: a turn, then its resumption from a fresh
process, through the `spine` CLI and the real Claude Code CLI (in the test namespace)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from spine import load_agent

from . import messages_sse as sse
from .spec_runner import register_declared_schemes

HERE = Path(__file__).resolve().parent

SPEC = """\
name: coder
model: claude-code:claude-sonnet-4-5
system: Answer in one line.
checkpoint:
  sqlite: {path: state.db}
settings:
  allowed_tools: [Bash]
"""


def spine(server: Any, spec: Path, *args: str) -> dict[str, Any]:
    """`spine run SPEC ... --json` in a new Python process; the Result as data."""
    env = {
        **os.environ,
        **server.env(),
        "PATH": f"{server.wrapper.parent}{os.pathsep}{os.environ['PATH']}",  # `claude`
    }
    done = subprocess.run(
        [sys.executable, str(HERE / "spec_runner.py"), "run", str(spec), *args, "--json"],
        cwd=server.work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.anyio
async def test_spec_runs_a_turn_and_a_fresh_process_resumes_it(
    replay: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = replay(
        [
            sse.bash_call("msg_s1", "echo from-the-spec"),
            sse.answer("msg_s2", "It printed from-the-spec."),
            {"sse": sse.project_fixture("stream_thinking")["sse"]},  # the project's fixture
        ]
    )
    spec = server.work.parent / "agent.yaml"
    spec.write_text(SPEC)
    # turn 1 in this process, as an application would run the spec
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", f"{server.wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(server.work)
    register_declared_schemes()
    async with load_agent(spec) as agent:
        first = await agent.run("Run echo from-the-spec", session_id="chat-1")
    assert first.ok and first.answer == "It printed from-the-spec."
    # turn 2 in a fresh process: the `spine` CLI
    second = spine(server, spec, "How do I boil an egg?", "--session", "chat-1")
    assert second["answer"] == "Boil it nine minutes and cool it in cold water."
    third_request = server.requests()[2]["body"]
    assert "from-the-spec" in json.dumps(third_request["messages"])  # the CLI resumed
    assert "Answer in one line." in json.dumps(third_request["system"])
