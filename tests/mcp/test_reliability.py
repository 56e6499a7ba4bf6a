"""Reliability: servers restarted between calls are reconnected (stdio and HTTP), reconnect
attempts are bounded, several servers work in parallel in one agent and may be opened and
closed in any order without anyio cancel-scope errors. (A server dying mid-call, a hanging
server and a malformed schema are in test_faults.py and test_http_toolset.py.)"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import anyio
import pytest
from conftest import QUIET_ENV, asgi_client, build_demo, serve_uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from mcp_helpers import call, calls, tool_messages

from spine_core import Agent, ScriptedProvider
from spine_mcp import MCPConnectError, MCPToolset, _connection

pytestmark = pytest.mark.anyio

DYING = str(Path(__file__).with_name("dying_server.py"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_stdio_server_killed_between_calls_is_restarted_for_the_next_call() -> None:
    provider = ScriptedProvider(
        [
            call("pid", id="p1"),
            call("echo", {"text": "still here"}, id="e"),
            call("pid", id="p2"),
            "ok",
        ]
    )
    async with MCPToolset(command=sys.executable, args=[DYING], env=QUIET_ENV) as mcp:
        tools = await mcp.load_tools()
        first = int(await tools[[t.name for t in tools].index("pid")].call({}))
        os.kill(first, signal.SIGKILL)
        with anyio.fail_after(10):  # until the client has seen the pipe close
            while not _connection.link_down(mcp.session):
                await anyio.sleep(0.01)
        result = await Agent(provider, tools=tools).run("go")

    assert result.answer == "ok"
    pid, echoed, pid_again = tool_messages(provider.prompts[3])
    assert not pid.is_error and int(pid.text) != first  # a new process answered
    assert (echoed.text, echoed.is_error) == ("still here", False)
    assert pid_again.text == pid.text  # and it stays connected


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_http_server_restarted_between_calls_is_reconnected(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_connection, "BACKOFF_S", (0.01, 0.02, 0.04, 0.08, 0.16))
    port = free_port()
    before, after = build_demo(), build_demo()
    url = f"http://127.0.0.1:{port}/mcp"
    async with serve_uvicorn(before.server.streamable_http_app(), port):
        mcp = MCPToolset(url=url, mode=mode, timeout_s=5)
        tools = {t.name: t for t in await mcp.load_tools()}
        assert await tools["add"].call({"a": 1, "b": 1}) == "2"
    try:
        with pytest.raises(Exception) as down:
            await tools["add"].call({"a": 1, "b": 2})
        started = time.monotonic()
        with pytest.raises(MCPConnectError, match="unreachable"):
            await tools["add"].call({"a": 1, "b": 2})
        gave_up_after = time.monotonic() - started
        async with serve_uvicorn(after.server.streamable_http_app(), port):
            provider = ScriptedProvider([call("add", {"a": 20, "b": 22}), "42"])
            result = await Agent(provider, tools=list(tools.values())).run("add")
    finally:
        await mcp.aclose()

    assert _connection.is_link_error(down.value)
    assert gave_up_after < 3  # five bounded attempts, not an endless retry
    assert result.answer == "42"
    [seen] = tool_messages(provider.prompts[1])
    assert (seen.text, seen.is_error) == ("42", False)
    assert before.calls == {"add": 1} and after.calls == {"add": 1}


async def test_three_servers_in_parallel_opened_and_closed_out_of_order() -> None:
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    demos = [build_demo(), build_demo()]
    apps = [d.server.streamable_http_app(transport_security=security) for d in demos]
    async with (
        apps[0].router.lifespan_context(apps[0]),
        apps[1].router.lifespan_context(apps[1]),
        asgi_client(apps[0]) as http_a,
        asgi_client(apps[1]) as http_b,
    ):
        a = MCPToolset(url="http://127.0.0.1:8000/mcp", http_client=http_a, prefix="a")
        b = MCPToolset(url="http://127.0.0.1:8000/mcp", http_client=http_b, prefix="b")
        c = MCPToolset(command=sys.executable, args=[DYING], env=QUIET_ENV, prefix="c")
        async with anyio.create_task_group() as tg:  # connected concurrently, from other tasks
            for toolset in (a, b, c):
                tg.start_soon(toolset.connect)
        tools = [*await a.load_tools(), *await b.load_tools(), *await c.load_tools()]
        provider = ScriptedProvider(
            [
                calls(
                    ("1", "a_add", {"a": 1, "b": 1}),
                    ("2", "b_add", {"a": 2, "b": 2}),
                    ("3", "c_echo", {"text": "three"}),
                    ("4", "a_add", {"a": 4, "b": 4}),
                ),
                "all four",
            ]
        )
        result = await Agent(provider, tools=tools, parallel_tools=True).run("go")
        for toolset in (a, c, b):  # not the reverse of the opening order
            await toolset.aclose()

    assert result.answer == "all four"
    assert [m.text for m in tool_messages(provider.prompts[1])] == ["2", "4", "three", "8"]
    assert demos[0].calls == {"add": 2} and demos[1].calls == {"add": 1}
