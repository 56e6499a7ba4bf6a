"""Ctrl-C: `spine run` leaves at once, even while a sync tool runs, and prints how to resume
the cancelled session; in `spine chat` Ctrl-C at the prompt leaves at once, Ctrl-C during a
turn stops the turn, and the prompt has line editing and history (driven through a pty)."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import SpineRunner, needs_sqlite

Writer = Callable[[str, str], Path]

SLOW = '''
import os
import sys
import threading

from spine_core import tool


@tool
def slow() -> str:
    """Work for a long time when SLOW_TOOL is set."""
    if os.environ.get("SLOW_TOOL"):
        print("TOOL STARTED", file=sys.stderr, flush=True)
        threading.Event().wait(120)  # never set: only Ctrl-C can end the wait for the run
    return "finished"
'''

# A run that waited for the tool would take the tool's 120 s; leaving promptly is well under.
PROMPTLY_S = 30


def environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
    env.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8", **extra})
    return env


@needs_sqlite
@pytest.mark.parametrize("mode", [[], ["--stream"]], ids=["run", "stream"])
def test_ctrl_c_during_a_sync_tool_leaves_at_once_and_prints_the_resume_command(
    mode: list[str], spine: SpineRunner, write: Writer, tmp_path: Path
) -> None:
    write("slow.py", SLOW)
    spec = write("agent.yaml", "model: test\ntools:\n  - python: slow:slow\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "spine", "run", str(spec), "go", "-s", "c1", *mode],
        cwd=tmp_path, env=environ(SLOW_TOOL="1"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    assert proc.stderr.readline() == "TOOL STARTED\n"
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert time.monotonic() - started < PROMPTLY_S
    assert proc.returncode == 130
    assert err.splitlines()[-1] == (
        f"cancelled: session c1 keeps every finished step; continue it with: "
        f"spine resume {spec} c1:"
    )
    assert "Traceback" not in err
    shown = json.loads(spine("sessions", "show", str(spec), "c1", "--json").stdout)
    assert shown["status"] == "cancelled"
    resumed = spine("resume", str(spec), "c1:", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["answer"] == "Tool results:\n- slow: finished"


class Terminal:
    """`spine chat` on a pseudo-terminal, as a person at a keyboard uses it."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become `spine chat`
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, "-m", "spine", *args], env)
        self.seen = b""

    def read_until(self, marker: bytes, timeout_s: float = 60) -> bytes:
        """Output up to and including `marker` (fails after `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        while marker not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} in {self.seen.decode(errors='replace')!r}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                assert chunk, f"exited before {marker!r}: {self.seen.decode(errors='replace')!r}"
                self.seen += chunk
        head, _, rest = self.seen.partition(marker)
        self.seen = rest
        return head + marker

    def wait_at_prompt(self, *, read: bool = True) -> None:
        """Read up to the prompt (unless `read` is False: already read), then until the main
        thread blocks reading the keyboard (a Ctrl-C typed while readline is still drawing the
        prompt reaches Python only at the next key, as in any readline program)."""
        if read:
            self.read_until(b"you> ")
        syscall = Path(f"/proc/{self.pid}/syscall")
        while syscall.read_text().startswith("running"):
            select.select([self.fd], [], [], 0.01)

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def exit_code(self, timeout_s: float = 60) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            select.select([self.fd], [], [], 0.05)
            with contextlib.suppress(OSError):
                os.read(self.fd, 4096)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("spine chat did not exit")


needs_linux_pty = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="drives a pty and reads /proc"
)


@needs_linux_pty
def test_chat_prompt_has_history_and_ctrl_c_there_leaves_at_once(
    write: Writer, tmp_path: Path
) -> None:
    spec = write("agent.yaml", "model: test\ncheckpoint: memory\n")
    chat = Terminal(["chat", str(spec)], tmp_path, environ(HOME=str(tmp_path)))
    chat.wait_at_prompt()
    chat.type(b"hello there\r")
    assert b"agent> You said: hello there" in chat.read_until(b"requests 1")
    chat.wait_at_prompt()
    chat.type(b"\x1b[A")  # the up arrow recalls the last line
    chat.type(b" again\r")
    assert b"agent> You said: hello there again" in chat.read_until(b"requests 1")
    chat.wait_at_prompt()
    started = time.monotonic()
    chat.type(b"\x03")
    assert chat.exit_code() == 130
    assert time.monotonic() - started < PROMPTLY_S
    history = tmp_path / ".local" / "state" / "spine" / "chat_history"
    assert history.read_text().splitlines()[-2:] == ["hello there", "hello there again"]


@needs_linux_pty
def test_chat_ctrl_c_stops_a_turn_with_a_running_sync_tool_and_then_leaves(
    write: Writer, tmp_path: Path
) -> None:
    write("slow.py", SLOW)
    spec = write("agent.yaml", "model: test\ntools:\n  - python: slow:slow\ncheckpoint: memory\n")
    chat = Terminal(["chat", str(spec)], tmp_path, environ(HOME=str(tmp_path), SLOW_TOOL="1"))
    chat.wait_at_prompt()
    chat.type(b"go\r")
    chat.read_until(b"TOOL STARTED")
    chat.type(b"\x03")
    chat.read_until(b"cancelled: the session keeps every finished step")
    assert b"stopped: cancelled" in chat.read_until(b"you> ")
    chat.wait_at_prompt(read=False)
    started = time.monotonic()
    chat.type(b"\x03")  # the tool's worker thread is still waiting: it must not hold the exit
    assert chat.exit_code() == 130
    assert time.monotonic() - started < PROMPTLY_S
    history = tmp_path / ".local" / "state" / "spine" / "chat_history"
    assert history.read_text().splitlines()[-1] == "go"  # saved before the hard exit
