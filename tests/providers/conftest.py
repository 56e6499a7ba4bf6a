"""Serve recorded API payloads (../shared/cassettes, vcrpy YAML) through httpx2.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import yaml

CASSETTES = Path(__file__).resolve().parents[2].parent / "shared" / "cassettes"
_DROP = {"content-length", "transfer-encoding", "content-encoding", "connection"}


def load_cassette(name: str) -> list[dict[str, Any]]:
    """The interactions of `<provider>/<file>.yaml`."""
    data = yaml.safe_load((CASSETTES / name).read_text())
    return list(data["interactions"])


def recorded_request(interaction: dict[str, Any]) -> Any:
    return interaction["request"].get("parsed_body")


def _response_of(interaction: dict[str, Any]) -> httpx2.Response:
    recorded = interaction["response"]
    headers = {
        k: v[0] for k, v in (recorded.get("headers") or {}).items() if k.lower() not in _DROP
    }
    if "parsed_body" in recorded:
        content = json.dumps(recorded["parsed_body"]).encode()
        headers.setdefault("content-type", "application/json")
    else:
        content = recorded["body"]["string"].encode()
    return httpx2.Response(recorded["status"]["code"], headers=headers, content=content)


@dataclass
class Server:
    """A fake API: answers each request with the next queued response, records requests."""

    responses: list[httpx2.Response | Callable[[httpx2.Request], httpx2.Response]]
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


def serve(name: str) -> Server:
    """A `Server` replaying the responses of a cassette in order."""
    return Server([_response_of(i) for i in load_cassette(name)])
