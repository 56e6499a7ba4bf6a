"""A fake API for the provider tests: the real SDKs send real HTTP requests to an
`httpx2.MockTransport`, which answers with the project's own fixtures (`fixtures/`).

Fixtures are YAML files written by the project from the vendors' API documentation, shaped like
real payloads; each says where its shape comes from. One file is one HTTP response:

    status: 200                 # optional, default 200
    headers: {retry-after: "3"} # optional
    json: {...}                 # a JSON body, or
    sse:                        # a text/event-stream body, one entry per event:
      - event: message_start    #   optional event name
        data: {...}             #   a mapping is sent as JSON, a string as is ("[DONE]")
      - comment: PROCESSING     #   or an SSE comment line (": PROCESSING")
    ndjson: [{...}, ...]        # or newline-delimited JSON (Ollama's native stream), or
    text: "..."                 # a raw body (give its content-type in headers)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx2
import yaml

FIXTURES = Path(__file__).resolve().parent / "fixtures"

Answer = httpx2.Response | Callable[[httpx2.Request], httpx2.Response]


@cache
def _load(name: str) -> str:
    return (FIXTURES / name).read_text()


def fixture(name: str) -> dict[str, Any]:
    """The fixture `<api>/<file>.yaml` as data (a fresh copy on every call)."""
    data: dict[str, Any] = yaml.safe_load(_load(name))
    return data


def body_of(name: str) -> Any:
    """The JSON body of a fixture."""
    return fixture(name)["json"]


def sse_body(events: list[dict[str, Any]]) -> bytes:
    """A text/event-stream body: one `event:` / `data:` block per entry."""
    out = []
    for event in events:
        if "comment" in event:
            out.append(f": {event['comment']}\n\n")
            continue
        data = event["data"]
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        head = f"event: {event['event']}\n" if event.get("event") else ""
        out.append(f"{head}data: {text}\n\n")
    return "".join(out).encode()


def response(data: dict[str, Any]) -> httpx2.Response:
    """The HTTP response a fixture's data describes."""
    headers = {str(k): str(v) for k, v in (data.get("headers") or {}).items()}
    if "json" in data:
        headers.setdefault("content-type", "application/json")
        content = json.dumps(data["json"]).encode()
    elif "sse" in data:
        headers.setdefault("content-type", "text/event-stream")
        content = sse_body(data["sse"])
    elif "ndjson" in data:
        headers.setdefault("content-type", "application/x-ndjson")
        content = "".join(json.dumps(line) + "\n" for line in data["ndjson"]).encode()
    else:
        content = str(data.get("text", "")).encode()
    return httpx2.Response(int(data.get("status", 200)), headers=headers, content=content)


def answer(name: str) -> httpx2.Response:
    """The HTTP response of fixture `name`."""
    return response(fixture(name))


def sse(events: list[dict[str, Any]]) -> httpx2.Response:
    """A 200 text/event-stream response with these events."""
    return response({"sse": events})


@dataclass
class Server:
    """A fake API: answers each request with the next queued response, records requests."""

    responses: list[Answer]
    requests: list[httpx2.Request] = field(default_factory=list)

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if not self.responses:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        item = self.responses.pop(0)
        return item(request) if callable(item) else item

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self.handler))

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def serve(*names: str) -> Server:
    """A `Server` answering with these fixtures, in order."""
    return Server([answer(n) for n in names])


def is_stream(request: httpx2.Request) -> bool:
    """Whether a request asks for a stream (`"stream": true`, or Gemini's stream endpoint)."""
    if ":streamGenerateContent" in request.url.path:
        return True
    return bool(request.content) and json.loads(request.content).get("stream") is True


def always(plain: str, streamed: str) -> Server:
    """A `Server` answering every request: with fixture `streamed` when it asks for a
    stream, else with fixture `plain`."""
    server = Server([])

    def handler(request: httpx2.Request) -> httpx2.Response:
        server.requests.append(request)
        return answer(streamed if is_stream(request) else plain)

    server.handler = handler  # type: ignore[method-assign]
    return server
