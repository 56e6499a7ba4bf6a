"""Tools that try to escape the Sandbox (module-level, so the sandbox child can import them).
Each returns what it managed to do, so the tests can assert on the outcome."""

from __future__ import annotations

import os
import signal
import socket
import time

from spine_core import tool


@tool
def read_secrets() -> dict[str, object]:
    """The environment the tool sees, and whether the parent's environment is readable."""
    try:
        with open(f"/proc/{os.getppid()}/environ", "rb") as handle:
            parent = "readable" if b"OPENAI_API_KEY" in handle.read() else "no key"
    except OSError as exc:
        parent = type(exc).__name__
    return {"env": dict(os.environ), "parent_environ": parent, "uid": os.getuid()}


@tool
def write_system_file() -> str:
    """Try to append to /etc/passwd."""
    try:
        with open("/etc/passwd", "a") as handle:
            handle.write("evil:x:0:0::/root:/bin/sh\n")
    except OSError as exc:
        return type(exc).__name__
    return "written"


@tool
def connect(port: int) -> str:
    """Open a TCP connection to 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3):
            return "connected"
    except OSError as exc:
        return type(exc).__name__


@tool
def fork_many(count: int) -> int:
    """Fork `count` sleeping children; returns how many forks succeeded."""
    made = 0
    for _ in range(count):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        made += 1
    return made


@tool
def leave_grandchild() -> int:
    """Start a grandchild in its own session that outlives this call; returns its pid."""
    read, write = os.pipe()
    if os.fork() == 0:
        os.setsid()
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(120)
            os._exit(0)
        os.write(write, str(pid).encode())
        os._exit(0)
    os.close(write)
    return int(os.read(read, 32).decode())


@tool
def fork_hogs(count: int, mb: int) -> list[int]:
    """Fork `count` children that each fill `mb` MiB; returns their exit statuses."""
    pids = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            try:
                block = bytearray(mb * 1024 * 1024)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                time.sleep(2)
            except MemoryError:
                os._exit(3)
            os._exit(0)
        pids.append(pid)
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]


@tool
def look_around() -> dict[str, object]:
    """The working directory, its files, what /tmp holds; then leave a file behind."""
    cwd = os.getcwd()
    before = sorted(os.listdir("."))
    with open("left-behind.txt", "w") as handle:
        handle.write("x")
    return {"cwd": cwd, "before": before, "tmp": sorted(os.listdir("/tmp"))}
