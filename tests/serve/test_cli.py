"""`spine serve` from the command line: it binds loopback by default, guards with a token
from --token or SPINE_SERVE_TOKEN, refuses several workers on a one-process store, and with
`--workers 2` on Redis any worker resumes any session (test_stores.py: the same on
PostgreSQL, app to app); `--a2a` / `--mcp`
mount the protocol servers."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import Served, make_agent, missing, wait_healthy

REDIS_URL = os.environ.get("SPINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

OPS = '''
from spine_core import tool


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
'''


def write_spec(
    folder: Path, *, tools: str = "ops:add", checkpoint: str = "memory: {}\n", module: str = "ops"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(OPS, encoding="utf-8")
    spec = folder / "agent.yaml"
    block = textwrap.indent(checkpoint, "  ")
    spec.write_text(
        f"name: ops\nmodel: test\ntools:\n  - python: {tools}\ncheckpoint:\n{block}",
        encoding="utf-8",
    )
    return spec


def test_serve_binds_loopback_answers_and_takes_the_token_from_the_environment(
    tmp_path: Path, spine_server: Callable[..., Served]
) -> None:
    spec = write_spec(tmp_path)
    served = spine_server("serve", str(spec), env={"SPINE_SERVE_TOKEN": "tok-123456"})
    assert served.first_line.startswith("spine serve: agent 'ops' on http://127.0.0.1:")
    assert served.first_line.endswith("(rest, ag-ui)")
    wait_healthy(served.url)
    assert httpx.get(served.url + "/sessions", timeout=5).status_code == 401
    auth = {"authorization": "Bearer tok-123456"}
    run = httpx.post(served.url + "/runs", json={"input": "sum"}, headers=auth, timeout=10)
    assert run.json()["answer"] == "Tool results:\n- add: 2"


def test_refusals_are_one_line_errors(tmp_path: Path) -> None:
    """Several workers on the in-memory store, and a bad spec: one-line `CliError`s (which
    `spine` prints as `spine: error: ...` with exit code 1), before anything listens."""
    from spine.runtime import CliError
    from spine.serve_command import run_server

    module = f"ops_{uuid.uuid4().hex[:8]}"  # imported in this process: a name of its own
    memory = write_spec(tmp_path / "memory", tools=f"{module}:add", module=module)
    with pytest.raises(CliError, match="needs a store every worker shares") as refused:
        run_server(memory, {"ag_ui": True}, host="127.0.0.1", port=0, workers=2,
                   log_level="warning")  # fmt: skip
    assert "\n" not in str(refused.value)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: test\nguards:\n  max_stepz: 3\n", encoding="utf-8")
    with pytest.raises(CliError, match="max_stepz") as invalid:
        run_server(bad, {"ag_ui": True}, host="127.0.0.1", port=0, workers=1,
                   log_level="warning")  # fmt: skip
    assert "\n" not in str(invalid.value)


@pytest.fixture
def redis_block() -> Iterator[str]:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        client.ping()
    except Exception as exc:
        missing(f"Redis at {REDIS_URL} is not reachable: {exc}")
    prefix = f"spine-serve-test:{uuid.uuid4().hex[:12]}"
    yield f"redis: {{url: '{REDIS_URL}', prefix: '{prefix}'}}\n"
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def test_two_workers_any_worker_resumes_any_session(
    tmp_path: Path, spine_server: Callable[..., Served], redis_block: str
) -> None:
    spec = write_spec(tmp_path, tools="ops:delete_branch", checkpoint=redis_block)
    served = spine_server("serve", str(spec), "--workers", "2")
    wait_healthy(served.url, timeout_s=40)
    sessions = [f"w-{i}" for i in range(8)]
    with httpx.Client(base_url=served.url, timeout=20) as client:
        for session in sessions:  # new connections: the kernel spreads them over the workers
            paused = client.post("/runs", json={"input": "go", "session_id": session},
                                 headers={"connection": "close"})  # fmt: skip
            assert paused.json()["status"] == "interrupted", paused.text
        for session in sessions:
            resumed = client.post(f"/sessions/{session}/resume", json={"decision": "approve"},
                                  headers={"connection": "close"})  # fmt: skip
            assert resumed.status_code == 200, resumed.text
            assert resumed.json()["answer"].endswith("deleted branch example")
            again = client.post(f"/sessions/{session}/resume", json={},
                                headers={"connection": "close"})  # fmt: skip
            assert again.status_code == 409
        listed = client.get("/sessions", params={"status": "done"}).json()["sessions"]
    assert sorted(s["session_id"] for s in listed) == sessions


@pytest.mark.anyio
async def test_a2a_is_mounted(client_for: Callable[..., object]) -> None:
    try:
        from spine_a2a import A2AServer  # noqa: F401
    except ImportError:
        pytest.skip("spine_a2a.A2AServer not available")
    client = await client_for(make_agent(), a2a=True)  # type: ignore[operator]
    card = await client.get("/a2a/.well-known/agent-card.json")  # type: ignore[attr-defined]
    assert card.status_code == 200
    assert card.json()["name"]


@pytest.mark.anyio
async def test_mcp_is_mounted(client_for: Callable[..., object]) -> None:
    try:
        from spine_mcp.server import asgi_app  # noqa: F401
    except ImportError:
        pytest.skip("spine_mcp.server.asgi_app not available")
    client = await client_for(make_agent(), mcp=True)  # type: ignore[operator]
    initialize = {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}},
    }  # fmt: skip
    response = await client.post(  # type: ignore[attr-defined]
        "/mcp", json=initialize,
        headers={"accept": "application/json, text/event-stream"},
    )  # fmt: skip
    assert response.status_code == 200


def test_missing_protocol_package_is_a_one_line_error() -> None:
    from spine.serve.mounts import _module

    with pytest.raises(ImportError, match=r'pip install "spine-agents\[a2a\]"'):
        _module("spine_nonexistent_pkg", "a2a")
