"""Checkpoint stores that cannot be used: each failure is one line on stderr naming the store
(its URL without the password, or its file) and, for a bad session, the session; exit code 1;
nothing runs first."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import SpineRunner, needs_sqlite

Writer = Callable[[str, str], Path]


def free_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_unreachable_redis_names_its_url(spine: SpineRunner, write: Writer) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    spec = write("agent.yaml", f"model: test\ncheckpoint:\n  redis: {{url: '{url}'}}\n")
    line = one_line(spine("run", str(spec), "hi"))
    assert line.startswith(f"spine: error: cannot reach the redis store {url}: ")
    assert "Connect" in line or "refused" in line


def test_unreachable_postgres_names_its_url_without_the_password(
    spine: SpineRunner, write: Writer
) -> None:
    port = free_port()
    dsn = f"postgresql://app:s3cret@127.0.0.1:{port}/app"
    spec = write("agent.yaml", f"model: test\ncheckpoint:\n  postgres: {{dsn: '{dsn}'}}\n")
    line = one_line(spine("run", str(spec), "hi"))
    assert line.startswith(
        f"spine: error: cannot reach the postgres store postgresql://app:***@127.0.0.1:{port}/app: "
    )
    assert "s3cret" not in line


@needs_sqlite
def test_sqlite_path_that_cannot_be_created_or_opened(
    spine: SpineRunner, write: Writer, tmp_path: Path
) -> None:
    write("taken", "a file where a folder should be\n")
    spec = write("agent.yaml", "model: test\ncheckpoint:\n  sqlite: {path: taken/state.db}\n")
    line = one_line(spine("run", str(spec), "hi"))
    assert line.startswith(
        f"spine: error: {spec}:3: checkpoint.sqlite: cannot create the folder {tmp_path / 'taken'}"
        " of the sqlite store taken/state.db: "
    )
    (tmp_path / "dir.db").mkdir()
    spec = write("agent.yaml", "model: test\ncheckpoint:\n  sqlite: {path: dir.db}\n")
    line = one_line(spine("run", str(spec), "hi"))
    assert line == (
        "spine: error: cannot open the sqlite store dir.db: unable to open database file "
        "(does its folder exist and is it writable?)"
    )


@needs_sqlite
def test_corrupt_state_db_says_so_and_what_to_do(
    spine: SpineRunner, write: Writer, tmp_path: Path
) -> None:
    (tmp_path / ".spine").mkdir()
    (tmp_path / ".spine" / "state.db").write_bytes(b"this is not SQLite\n" * 100)
    spec = write("agent.yaml", "model: test\n")
    expected = (
        "spine: error: the sqlite store .spine/state.db is corrupt (file is not a database): "
        "move the file aside or point the spec's checkpoint at another path"
    )
    assert one_line(spine("run", str(spec), "hi")) == expected
    assert one_line(spine("sessions", "list")) == expected


def tamper(db: Path, session: str, sql: str, *params: object) -> None:
    with sqlite3.connect(db) as con:
        con.execute(sql, (*params, session))


@needs_sqlite
@pytest.mark.parametrize("command", ["run", "show", "trace", "chat"])
def test_a_state_from_a_newer_version_and_a_corrupt_row_name_session_and_store(
    command: str, spine: SpineRunner, write: Writer, tmp_path: Path
) -> None:
    spec = write("agent.yaml", "model: test\n")
    for session in ("newer", "broken"):
        assert spine("run", str(spec), "hi", "--session", session).returncode == 0
    db = tmp_path / ".spine" / "state.db"
    with sqlite3.connect(db) as con:
        (header,) = con.execute(
            "SELECT header FROM spine_checkpoints WHERE session_id = 'newer'"
        ).fetchone()
    tamper(
        db,
        "newer",
        "UPDATE spine_checkpoints SET header = ?, version = 9 WHERE session_id = ?",
        json.dumps({**json.loads(header), "version": 9}),
    )
    tamper(
        db,
        "broken",
        "UPDATE spine_checkpoints_messages SET body = ? WHERE seq = 1 AND session_id = ?",
        '{"role": "wizard", "content": "hi"}',
    )
    args = {
        "run": ["run", str(spec), "again", "--session"],
        "show": ["sessions", "show", "--store", str(db)],
        "trace": ["trace", str(spec)],
        "chat": ["chat", str(spec), "--session"],
    }[command]
    assert one_line(spine(*args, "newer", stdin="/exit\n")) == (
        "spine: error: session 'newer' in the sqlite store .spine/state.db was written by a "
        "newer Spine: state version 9 is newer than this Spine supports (3); upgrade "
        "spine-agents to read it"
    )
    assert one_line(spine(*args, "broken", stdin="/exit\n")) == (
        "spine: error: session 'broken' in the sqlite store .spine/state.db is corrupt: "
        "messages[1].role: Input should be 'system', 'user', 'assistant' or 'tool'"
    )


@needs_sqlite
def test_running_a_paused_session_reprints_its_resume_command(
    spine: SpineRunner, write: Writer
) -> None:
    write(
        "ops.py",
        "from spine_core import tool\n\n\n@tool(approve=True)\ndef deploy(target: str) -> str:\n"
        '    """Deploy.\n\n    Args:\n        target: Where.\n    """\n    return target\n',
    )
    spec = write("agent.yaml", "model: test\ntools:\n  - python: ops:deploy\n")
    paused = spine("run", str(spec), "ship it", "--session", "p1", "--json")
    token = json.loads(paused.stdout)["resume_token"]
    line = one_line(spine("run", str(spec), "and again", "--session", "p1"))
    assert line == (
        "spine: error: session 'p1' is paused for approval: Approve the call to 'deploy' with "
        f'arguments {{"target": "example"}}?; continue with: spine resume {spec} {token} '
        "--approve (or --reject REASON)"
    )


def test_a_missing_sdk_names_the_extra_of_the_umbrella_package(
    write: Writer, tmp_path: Path
) -> None:
    spec = write("agent.yaml", "model: anthropic:claude-sonnet-4-6\ncheckpoint: memory\n")
    code = (
        "import sys; sys.modules['anthropic'] = None\n"
        "from spine.cli import main\n"
        f"sys.argv = ['spine', 'run', {str(spec)!r}, 'hi']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "ANTHROPIC_API_KEY": "sk-test"},
    )
    assert done.returncode == 1
    stop = done.stdout.splitlines()[0]
    assert stop.startswith("stopped: error: ")
    assert stop.endswith(
        'anthropic is not installed; install it with: pip install "spine-agents[anthropic]"'
    )
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("module", "block", "extra"),
    [
        ("redis", "redis: {url: 'redis://127.0.0.1:6379/0'}", "redis"),
        ("asyncpg", "postgres: {dsn: 'postgresql://postgres@127.0.0.1:5432/test'}", "postgres"),
    ],
)
def test_a_missing_store_client_names_the_extra_of_the_umbrella_package(
    module: str, block: str, extra: str, write: Writer, tmp_path: Path
) -> None:
    spec = write("agent.yaml", f"model: test\ncheckpoint:\n  {block}\n")
    code = (
        f"import sys; sys.modules[{module!r}] = None; sys.modules['{module}.asyncio'] = None\n"
        "from spine.cli import main\n"
        f"sys.argv = ['spine', 'run', {str(spec)!r}, 'hi']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.strip().endswith(f'pip install "spine-agents[{extra}]"')


def test_an_unexpected_failure_is_one_line_with_a_hint_and_spine_debug_shows_it(
    spine: SpineRunner, write: Writer
) -> None:
    write(
        "odd.py",
        "class Odd:\n    async def get(self, session_id):\n        raise KeyError(session_id)\n"
        "    async def put(self, state): ...\n    async def delete(self, session_id): ...\n"
        "    async def list(self, *, tenant_id=None, status=None): return []\n",
    )
    spec = write("agent.yaml", "model: test\ncheckpoint: memory\n")
    code = (
        "import sys; sys.path.insert(0, '.')\n"
        "from spine_core import register_checkpoint\n"
        "from odd import Odd\n"
        "register_checkpoint('memory', Odd)\n"
        "from spine.cli import main\n"
        f"sys.argv = ['spine', 'run', {str(spec)!r}, 'hi', '-s', 'x1']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=spec.parent, timeout=60
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "spine: error: KeyError: 'x1' (SPINE_DEBUG=1 shows the traceback)\n"
    debug = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=spec.parent,
        timeout=60, env={**os.environ, "SPINE_DEBUG": "1"},
    )  # fmt: skip
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
