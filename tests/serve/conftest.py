"""Fixtures for the `spine serve` tests: an agent on the offline `test` provider, the real
ASGI app behind httpx, uvicorn on loopback, and AG-UI event parsing checked against the
`ag-ui-protocol` models."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from ag_ui.core import Event
from pydantic import TypeAdapter
from starlette.applications import Starlette

from spine.serve import app
from spine_core import Agent, Interrupt, TestProvider, tool

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart"
EVENT = TypeAdapter(Event)


@tool
def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


@tool(approve=True)
def delete_branch(name: str) -> str:
    """Delete a git branch.

    Args:
        name: The branch.
    """
    return f"deleted branch {name}"


@tool
def pick_colour() -> str:
    """Ask the user for a colour."""
    raise Interrupt("Which colour?", data={"options": ["red", "blue"]})


def make_agent(*tools: Any, **kwargs: Any) -> Agent:
    return Agent(provider=TestProvider(), tools=list(tools), name="tester", **kwargs)


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[..., Any]]:
    """`await client_for(agent_or_app, **app_kwargs)`: an httpx client on the real ASGI app,
    its lifespan running."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(target: Agent | Starlette, **kwargs: Any) -> httpx.AsyncClient:
            asgi = target if isinstance(target, Starlette) else app(target, **kwargs)
            await stack.enter_async_context(asgi.router.lifespan_context(asgi))
            transport = httpx.ASGITransport(app=asgi)
            client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")
            await stack.enter_async_context(client)
            return client

        yield make


def agui_events(text: str) -> list[dict[str, Any]]:
    """The `data:` frames of an AG-UI SSE body, each validated against `ag_ui.core.Event`
    (and re-serialised identically)."""
    events: list[dict[str, Any]] = []
    for frame in text.split("\n\n"):
        data = [line[6:] for line in frame.splitlines() if line.startswith("data: ")]
        if not data:
            continue
        raw = json.loads("\n".join(data))
        model = EVENT.validate_python(raw)
        assert json.loads(model.model_dump_json(by_alias=True)) == raw
        events.append(raw)
    return events


def sse_frames(text: str) -> list[tuple[str, dict[str, Any]]]:
    """`(event, data)` of each frame of a REST SSE body."""
    out = []
    for frame in text.split("\n\n"):
        lines = frame.splitlines()
        name = next((x[7:] for x in lines if x.startswith("event: ")), None)
        data = next((x[6:] for x in lines if x.startswith("data: ")), None)
        if name and data:
            out.append((name, json.loads(data)))
    return out


def run_input(thread: str, text: str | None = None, **extra: Any) -> dict[str, Any]:
    messages = [{"id": "m-" + os.urandom(4).hex(), "role": "user", "content": text}] if text else []
    return {"threadId": thread, "runId": "r-" + os.urandom(4).hex(), "messages": messages, **extra}


@pytest.fixture
async def loopback() -> AsyncIterator[Callable[..., Any]]:
    """`await loopback(asgi_app)`: serve the app with uvicorn on 127.0.0.1 (port 0) in this
    event loop; returns its base URL. Stopped at the end of the test."""
    servers: list[uvicorn.Server] = []
    async with anyio.create_task_group() as tg:

        async def start(asgi: Starlette) -> str:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            config = uvicorn.Config(asgi, log_level="warning", timeout_graceful_shutdown=2)
            server = uvicorn.Server(config)
            servers.append(server)
            tg.start_soon(server.serve, [sock])
            with anyio.fail_after(10):
                while not server.started:
                    await anyio.sleep(0.01)
            return f"http://127.0.0.1:{sock.getsockname()[1]}"

        try:
            yield start
        finally:
            for server in servers:
                server.should_exit = True


def quickstart_copy(root: Path, *, gated: bool = True, checkpoint: str = "") -> Path:
    """The quickstart agent copied under `root`, plus (when `gated`) an approval-gated tool;
    returns the spec path."""
    target = root / "quickstart"
    target.mkdir(parents=True, exist_ok=True)
    for name in ("agent.yaml", "system.md", "tools.py"):
        (target / name).write_text((QUICKSTART / name).read_text(encoding="utf-8"), "utf-8")
    spec = (target / "agent.yaml").read_text(encoding="utf-8")
    if gated:
        (target / "ops.py").write_text(
            textwrap.dedent(
                '''
                from spine_core import tool


                @tool(approve=True)
                def delete_branch(name: str) -> str:
                    """Delete a git branch.

                    Args:
                        name: The branch.
                    """
                    return f"deleted branch {name}"
                '''
            ),
            "utf-8",
        )
        spec = spec.replace(
            "  - python: tools:TOOLS\n", "  - python: tools:TOOLS\n  - python: ops:delete_branch\n"
        )
    (target / "agent.yaml").write_text(spec + checkpoint, encoding="utf-8")
    return target / "agent.yaml"


class Served:
    """A `spine serve` / `spine dev` subprocess and the URL it listens on."""

    def __init__(self, process: subprocess.Popen[str], url: str, first_line: str) -> None:
        self.process = process
        self.url = url
        self.first_line = first_line


@pytest.fixture
def spine_server(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """`spine_server("serve", SPEC, *args, env=...)`: run the CLI in a subprocess on port 0
    and wait for its `... on http://HOST:PORT` line."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Served:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
        environ.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8", **(env or {})})
        process = subprocess.Popen(
            [sys.executable, "-m", "spine", *args, "--port", "0"],
            cwd=cwd or tmp_path,
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stderr is not None
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if " on http://" in line or not line:
                break
        if " on http://" not in line:
            process.kill()
            rest = process.stderr.read()
            raise AssertionError(f"the server did not start: {line}{rest}")
        url = line.split(" on ", 1)[1].split(" ")[0]
        return Served(process, url, line.strip())

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_healthy(url: str, *, timeout_s: float = 20.0, token: str | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def missing(what: str) -> None:
    """Skip (or, under CI=true, fail) because `what` is not available here."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} (CI=true: a missing service or binary is a failure)", pytrace=False)
    pytest.skip(what)
