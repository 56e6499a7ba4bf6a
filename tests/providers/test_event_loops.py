"""A provider outlives the event loop it first ran on: repeated `run_sync` calls (each starts a
new loop) work against a real HTTP server, with real pooled connections."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from spine_core import Agent
from spine_providers import OpenAIProvider

from .fakes import fixture


class _ChatServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    requests = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK pools the connection

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        body = json.dumps(fixture("openai_chat/text.yaml")["json"]).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.requests += 1  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_ChatServer]:
    httpd = _ChatServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_repeated_run_sync_calls_reuse_the_provider_on_each_new_loop(server: _ChatServer) -> None:
    port = server.server_address[1]
    provider = OpenAIProvider(
        "gpt-4o-mini", api_key="sk-test", base_url=f"http://127.0.0.1:{port}/v1"
    )
    agent = Agent(provider)

    answers = [agent.run_sync(f"question {n}").answer for n in range(3)]

    assert server.requests == 3
    assert all(answers)
