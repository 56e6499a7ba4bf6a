"""`spine chat` with a scripted stdin, `spine plugins`, `--version` and `--help`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from .conftest import SpineRunner

COUNTER = """
from spine_core import ToolContext, tool


@tool
def history_size(ctx: ToolContext) -> str:
    \"\"\"How many messages the session holds.\"\"\"
    return f"{len(ctx.state.messages)} messages in session {ctx.session_id}"


@tool(approve=True)
def deploy(target: str) -> str:
    \"\"\"Deploy.

    Args:
        target: Where.
    \"\"\"
    return f"deployed to {target}"
"""


def test_chat_keeps_the_session_across_turns_and_asks_for_approval(
    spine: SpineRunner, write: Callable[[str, str], Path]
) -> None:
    write("counter.py", COUNTER)
    spec = write(
        "agent.yaml",
        "model: test\ntools:\n  - python: counter:history_size\n  - python: counter:deploy\n"
        "checkpoint: memory\n",
    )
    done = spine("chat", str(spec), "--session", "c1", stdin="first\ny\nsecond\nn\n/exit\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "session c1" in out
    assert "- history_size: 2 messages in session c1" in out  # turn 1: user + tool-call message
    assert "- history_size: 7 messages in session c1" in out  # turn 2 sees turn 1's history
    assert "- deploy: deployed to example" in out  # approved with "y"
    assert "- deploy: The user rejected this tool call." in out  # rejected with "n"
    assert out.count("approve? [y/N]") == 2


def test_plugins_lists_third_party_entry_points_with_their_distribution(
    spine: SpineRunner,
) -> None:
    table = spine("plugins")
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert any("echo" in line and "spine-plugin-example" in line for line in lines)
    assert any("shout" in line and "spine-plugin-example" in line for line in lines)
    listed = json.loads(spine("plugins", "--json").stdout)
    found = {(p["group"], p["name"]): p for p in listed}
    assert found["spine.providers", "echo"]["distribution"] == "spine-plugin-example"
    assert found["spine.middleware", "shout"]["value"] == "spine_plugin_example:Shout"
    assert found["spine.providers", "test"]["distribution"] == "spine-core"


def test_version_and_help(spine: SpineRunner) -> None:
    assert spine("--version").stdout.strip() == "spine 0.1.0"
    helped = spine("run", "--help").stdout
    for option in ("--model", "--session", "--stream", "--json", "--max-steps"):
        assert option in helped
