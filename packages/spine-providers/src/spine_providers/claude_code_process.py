"""Process helpers shared by the Claude Code and Claude Agent SDK providers: finding and
killing every process one call started (by a marker in its environment), and the live
output logs of a call."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import IO

import anyio

__all__ = ["MARKER_ENV", "OutputLog", "kill_marked", "marked_processes", "signal_group"]

MARKER_ENV = "SPINE_CLAUDE_CODE_CALL"
"""Environment variable set to a fresh value for each call's runtime process; every process
it starts inherits it (unless it scrubs its environment), which is how leftovers are found."""


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send `sig` to the process group `pid` leads (nothing when it is gone)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def marked_processes(marker: str) -> list[int]:
    """Pids of live processes whose environment carries this call's marker (Linux /proc;
    elsewhere none are found and the process-group kill is what remains)."""
    if not sys.platform.startswith("linux"):
        return []
    needle = f"{MARKER_ENV}={marker}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as file:
                if needle in file.read():
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


async def kill_marked(marker: str, wait_s: float = 5.0) -> None:
    """SIGKILL every process carrying `marker` and wait (up to `wait_s` seconds) until none
    is left: a signal is delivered asynchronously, so a process may outlive `kill()` by a
    moment."""
    with anyio.move_on_after(wait_s):
        while pids := await anyio.to_thread.run_sync(marked_processes, marker):
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            await anyio.sleep(0.02)


class OutputLog:
    """The live output logs of one call (`<base>.stdout.log`, `<base>.stderr.log`, appended
    to), or a temporary stderr file when no log is asked for."""

    def __init__(self, base: str | None) -> None:
        self.base = Path(base) if base else None
        self._stdout: IO[bytes] | None = None
        self._stderr: IO[bytes]
        if self.base is not None:
            self.base.parent.mkdir(parents=True, exist_ok=True)
            self._stdout = open(self.base.with_name(self.base.name + ".stdout.log"), "ab")  # noqa: SIM115
            self._stderr = open(self.base.with_name(self.base.name + ".stderr.log"), "ab+")  # noqa: SIM115
        else:
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._stderr_start = self._stderr.seek(0, os.SEEK_END)

    def stderr_file(self) -> IO[bytes]:
        return self._stderr

    async def stdout(self, line: bytes) -> None:
        if self._stdout is not None:
            await anyio.to_thread.run_sync(self._write, line)

    def _write(self, line: bytes) -> None:
        assert self._stdout is not None
        self._stdout.write(line + b"\n")
        self._stdout.flush()  # a line at a time: `tail -f` sees it as it arrives

    def stderr_sync(self, text: str) -> None:
        """Append a line to the stderr log (for runtimes that hand stderr over as text, from
        a callback that cannot await)."""
        self._stderr.seek(0, os.SEEK_END)
        self._stderr.write(text.rstrip("\n").encode() + b"\n")
        self._stderr.flush()

    def stderr_text(self) -> str:
        self._stderr.flush()
        self._stderr.seek(self._stderr_start)
        return self._stderr.read().decode("utf-8", "replace")

    def close(self) -> None:
        if self._stdout is not None:
            self._stdout.close()
        self._stderr.close()
