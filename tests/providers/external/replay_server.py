"""A local Anthropic Messages API that replays scripted responses, for the external-runtime
tests. Run inside the test's network namespace:

    python replay_server.py SCRIPT.json LOG.jsonl [--lo-up]

It binds 127.0.0.1 on a free port and prints the port on stdout. Each POST to
`/v1/messages` is answered with the script's next entry, in order; every request is appended
to LOG.jsonl (`{"method", "path", "headers", "body"}`), so a test can assert on what the
runtime sent. An entry is the fixture format of `tests/providers/fakes.py`:

- `{"sse": [{"event": ..., "data": {...}}, ...]}` streams the events the way the API does
  (`text/event-stream`, one `event:` / `data:` block each; Anthropic's streaming guide,
  https://docs.claude.com/en/docs/build-with-claude/streaming);
- `{"status": 429, "headers": {...}, "json": {...}}` answers with an error body;
- `{"sse": [...], "stall": true}` sends the events, then holds the stream open without
  ending it (a model that stops mid-turn), until the client goes away.

A request after the script ran out gets a 500 `api_error` naming the request, so an
unexpected call fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_LOCK = threading.Lock()


def _sse(events: list[dict[str, Any]]) -> bytes:
    out = []
    for event in events:
        data = event["data"]
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        head = f"event: {event['event']}\n" if event.get("event") else ""
        out.append(f"{head}data: {text}\n\n")
    return "".join(out).encode()


class _Replay(BaseHTTPRequestHandler):
    script: list[dict[str, Any]] = []
    log_path = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _record(self, body: Any) -> None:
        entry = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
        }
        with _LOCK, open(self.log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")

    def _send(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)
        self.wfile.flush()

    def do_GET(self) -> None:
        self._record(None)
        self._send(404, {"content-type": "application/json"}, b'{"error": "not found"}')

    def do_HEAD(self) -> None:
        self._record(None)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self._record(body)
        if not self.path.startswith("/v1/messages") or self.path.startswith(
            "/v1/messages/count_tokens"
        ):
            self._send(404, {"content-type": "application/json"}, b'{"error": "not found"}')
            return
        with _LOCK:
            entry = self.script.pop(0) if self.script else None
        if entry is None:
            error = {
                "type": "error",
                "error": {"type": "api_error", "message": f"replay script exhausted: {self.path}"},
            }
            self._send(500, {"content-type": "application/json"}, json.dumps(error).encode())
            return
        headers = {str(k): str(v) for k, v in (entry.get("headers") or {}).items()}
        status = int(entry.get("status", 200))
        if "json" in entry:
            headers.setdefault("content-type", "application/json")
            self._send(status, headers, json.dumps(entry["json"]).encode())
            return
        content = _sse(entry.get("sse") or [])
        headers.setdefault("content-type", "text/event-stream")
        if not entry.get("stall"):
            self._send(status, headers, content)
            return
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.wfile.write(f"{len(content):x}\r\n".encode() + content + b"\r\n")
        self.wfile.flush()
        self.close_connection = True
        self.rfile.read(1)  # blocks until the client closes the connection (or dies)


def main() -> None:
    script_path, log_path, *flags = sys.argv[1:]
    if "--lo-up" in flags:  # a fresh network namespace starts with loopback down
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with open(script_path, encoding="utf-8") as file:
        _Replay.script = json.load(file)
    _Replay.log_path = log_path
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Replay)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
