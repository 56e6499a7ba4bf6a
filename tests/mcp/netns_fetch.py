"""Launcher for the fetch-server tests, run inside `unshare --net --map-root-user` (a network
namespace with only a loopback device, so nothing can reach the internet): brings `lo` up,
serves DIR on 127.0.0.1:PORT with `http.server` in a thread, then runs `mcp-server-fetch`
with this process's stdin and stdout (the MCP stdio pipes cross the namespace) until it exits.

The fetch server runs with an empty PATH: its HTML simplifier (readabilipy) otherwise finds
`node` and, lacking its JavaScript dependencies, runs `npm install`; without node it uses
its pure-Python extractor.

Usage: python netns_fetch.py DIR PORT FETCH_SERVER [ARGS...]
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> int:
    folder, port, *command = sys.argv[1:]
    subprocess.run(["/usr/sbin/ip", "link", "set", "lo", "up"], check=True)
    handler = functools.partial(_Quiet, directory=folder)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    env = {**os.environ, "PATH": "/nonexistent"}
    return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
