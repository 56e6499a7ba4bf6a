"""Helpers of the A2A tests: uvicorn on a free loopback port in a background thread (or in a
worker process, for restarts and kills), and a2a-sdk's client over a real `httpx.AsyncClient`.

The scripted agents are in `a2a_agents.py`; an agent built on a2a-sdk's own server classes is
in `a2a_sdk_agent.py`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from a2a.client import Client, ClientConfig, ClientFactory
from a2a.utils.constants import TransportProtocol

os.environ.setdefault("OTEL_INSTRUMENTATION_A2A_SDK_ENABLED", "false")

TLS = httpx.create_ssl_context()
"""One TLS context for the tests' HTTP clients (building one per client costs ~0.3 s)."""
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@contextmanager
def serve(app: Any = None, *, factory: Callable[[str], Any] | None = None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port (in a thread); yields the base
    URL. `factory(base_url)` builds the app when it must know its own URL (an agent card)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    target = factory(base) if factory is not None else app
    config = uvicorn.Config(target, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.005)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class Worker:
    """A server process (`a2a_serve_worker.py`) serving a test agent over A2A. Starting one
    does not wait for it: `url` does (so several workers start in parallel)."""

    def __init__(self, agent: str, store: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env["OTEL_INSTRUMENTATION_A2A_SDK_ENABLED"] = "false"
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "a2a_serve_worker.py"), agent, store],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The base URL, once the worker listens."""
        if self._url is None:
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline()
            if not line.startswith("PORT "):
                self.proc.kill()
                raise RuntimeError(f"worker failed to start (exit {self.proc.wait()}): {line!r}")
            self._url = f"http://127.0.0.1:{int(line.split()[1])}"
        return self._url

    def kill(self) -> None:
        """SIGKILL: the process dies at once, mid-request if there is one."""
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@contextmanager
def workers(agent: str, store: str, count: int = 1) -> Iterator[list[Worker]]:
    """`count` worker processes on the same store, started in parallel."""
    started = [Worker(agent, store) for _ in range(count)]
    try:
        yield started
    finally:
        for w in started:
            w.stop()


async def sdk_client(
    url: str, http: httpx.AsyncClient, *, streaming: bool = True, rest: bool = False
) -> Client:
    """a2a-sdk's own client for the agent at `url` (card discovery included)."""
    bindings: list[str] = [TransportProtocol.HTTP_JSON if rest else TransportProtocol.JSONRPC]
    config = ClientConfig(
        streaming=streaming, httpx_client=http, supported_protocol_bindings=bindings
    )
    return await ClientFactory(config).create_from_url(url)
