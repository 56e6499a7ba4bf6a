"""Fixtures for the external-runtime tests: the real Claude Code CLI, run only inside a
network namespace that holds loopback alone, against a local replay server in that namespace.

`replay(script)` starts `replay_server.py` under `unshare --net --map-root-user` (a new user
and network namespace; the server brings `lo` up and binds 127.0.0.1), checks that the
namespace has no interface but `lo`, and writes a `claude` wrapper that `exec`s the pinned CLI
through `nsenter` into that namespace. Providers get the wrapper as `cli_path`, so the CLI
(and every process it starts) can reach nothing but the replay server. If the namespace cannot
be made, the test fails with the reason: the CLI never runs unisolated.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CLI = ROOT / "node_modules" / ".bin" / "claude"

ISOLATION_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_MAX_RETRIES": "0",  # a 429 comes straight back instead of 10 retries
    "ANTHROPIC_API_KEY": "fake",
}


def require_cli() -> Path:
    """The pinned CLI (`npm ci` installs it); skip without it, fail under CI=true."""
    if CLI.exists():
        return CLI
    reason = f"the Claude Code CLI is not installed at {CLI} (run `make setup`: npm ci)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class Replay:
    """A replay server in its own network namespace, and a CLI wrapper that runs there."""

    pid: int
    port: int
    log: Path
    wrapper: Path
    home: Path
    work: Path
    process: subprocess.Popen[str] = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        """The CLI's environment: the isolation switches, the replay server, a fresh HOME."""
        return {
            **ISOLATION_ENV,
            "ANTHROPIC_BASE_URL": self.base_url,
            "HOME": str(self.home),
            "TMPDIR": str(self.home),  # the CLI's sockets and scratch files stay in the test
            **extra,
        }

    def requests(self) -> list[dict[str, Any]]:
        """The POSTs to /v1/messages the server answered, in order."""
        if not self.log.exists():
            return []
        entries = [json.loads(line) for line in self.log.read_text().splitlines() if line]
        return [e for e in entries if e["method"] == "POST" and "/v1/messages" in e["path"]]


def _unshare_failure(detail: str) -> None:
    pytest.fail(
        "cannot make a loopback-only network namespace (unshare --net --map-root-user), "
        f"so the Claude Code CLI is not started: {detail}"
    )


@pytest.fixture
def replay(tmp_path: Path) -> Iterator[Any]:
    """`replay(script) -> Replay`; servers are stopped at the end of the test."""
    cli = require_cli()
    started: list[Replay] = []
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            _unshare_failure(f"the '{tool}' program is missing")

    def start(script: list[dict[str, Any]], name: str = "replay") -> Replay:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "script.json").write_text(json.dumps(script))
        log = folder / "requests.jsonl"
        process = subprocess.Popen(
            [
                "unshare",
                "--net",
                "--map-root-user",
                sys.executable,
                str(HERE / "replay_server.py"),
                str(folder / "script.json"),
                str(log),
                "--lo-up",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.isdigit():
            process.kill()
            _, err = process.communicate(timeout=10)
            _unshare_failure((err or "no port printed").strip()[-500:])
        links = subprocess.run(
            [
                "nsenter",
                "-t",
                str(process.pid),
                "-U",
                "-n",
                "--preserve-credentials",
                "ip",
                "-o",
                "link",
            ],
            capture_output=True,
            text=True,
            timeout=10,
        )
        names = [row.split(":")[1].strip() for row in links.stdout.splitlines() if row]
        if links.returncode != 0 or names != ["lo"]:
            process.kill()
            _unshare_failure(f"the namespace is not loopback-only: {names or links.stderr}")
        wrapper = folder / "claude"
        wrapper.write_text(
            f'#!/bin/sh\nexec nsenter -t {process.pid} -U -n --preserve-credentials -- {cli} "$@"\n'
        )
        wrapper.chmod(0o755)
        home = folder / "home"
        work = folder / "work"
        home.mkdir()
        work.mkdir()
        server = Replay(process.pid, int(line), log, wrapper, home, work, process)
        started.append(server)
        return server

    yield start
    for server in started:
        server.process.kill()
        server.process.wait(timeout=10)
        if server.process.stdout is not None:
            server.process.stdout.close()
        if server.process.stderr is not None:
            server.process.stderr.close()
