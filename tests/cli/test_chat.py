"""`spine chat` with a scripted stdin: streamed answers, /reset, /history, /usage, /exit, /help,
unknown commands, and a session found paused when the chat starts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from .conftest import SpineRunner, needs_sqlite

Writer = Callable[[str, str], Path]

OPS = '''
from spine_core import tool


@tool(approve=True)
def deploy(target: str) -> str:
    """Deploy.

    Args:
        target: Where.
    """
    return f"deployed to {target}"
'''


def test_slash_commands(spine: SpineRunner, write: Writer) -> None:
    spec = write("agent.yaml", "model: test\ncheckpoint: memory\n")
    lines = ["hello", "/usage", "/history", "/reset", "/usage", "/help", "/frobnicate"]
    script = "\n".join([*lines, "still here", "/exit", "never sent"]) + "\n"
    done = spine("chat", str(spec), "-s", "c1", stdin=script)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "new session c1 in the memory store (this process only)" in out
    assert "agent> You said: hello" in out  # streamed token by token
    assert re.search(r"you> session c1: tokens \d+ in / \d+ out · requests 1 · cost \$0\.0000", out)
    assert "you> user      hello\nassistant You said: hello\n" in out  # /history
    reset = re.search(r"you> new session ([0-9a-f]{32})\n", out)  # /reset
    assert reset is not None
    assert "you> nothing yet in this session" in out  # /usage right after /reset
    for command in ("/reset", "/history", "/usage", "/exit", "/help"):
        assert f"{command} " in out  # /help lists it
    assert "unknown command /frobnicate (commands: /reset /history /usage /exit /help)" in out
    assert "agent> You said: still here" in out
    assert out.rstrip().endswith(f"session {reset.group(1)}\nyou>")  # the new session
    assert "never sent" not in out


def test_no_stream_prints_the_whole_answer(spine: SpineRunner, write: Writer) -> None:
    spec = write("agent.yaml", "model: test\ncheckpoint: memory\n")
    done = spine("chat", str(spec), "--no-stream", stdin="hi\n")
    assert done.returncode == 0, done.stderr
    assert "agent> You said: hi" in done.stdout


@needs_sqlite
def test_a_session_paused_before_the_chat_asks_its_question_first(
    spine: SpineRunner, write: Writer
) -> None:
    write("ops.py", OPS)
    spec = write("agent.yaml", "model: test\ntools:\n  - python: ops:deploy\n")
    paused = spine("run", str(spec), "ship it", "--session", "p1", "--json")
    assert json.loads(paused.stdout)["stopped_reason"] == "interrupt"
    done = spine("chat", str(spec), "--session", "p1", stdin="y\n/exit\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "continuing session p1" in out
    assert "⏸ Approve the call to 'deploy'" in out
    assert "- deploy: deployed to example" in out
    assert spine("sessions", "show", str(spec), "p1", "--json").stdout.count('"status":"done"') == 1
