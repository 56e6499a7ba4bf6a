"""The Sandbox's escape checks: what a hostile tool tries, and what it gets.

Each test runs a real agent with a sandboxed tool from `sandbox_tools` and asserts on what the
tool managed. The checks that need Linux namespaces, root or cgroups are skipped (with the
reason) where `Sandbox.isolation()` says the machine does not provide them.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from spine_core import Agent, Message, ScriptedProvider, ToolCall, tool
from spine_middleware import Sandbox, SandboxUnavailableError

from . import sandbox_tools as hostile

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(sys.platform != "linux", reason="the isolation checks need Linux"),
]

ISOLATION = Sandbox.isolation()
ROOT = os.geteuid() == 0
TOOLS = [
    hostile.read_secrets,
    hostile.write_system_file,
    hostile.connect,
    hostile.fork_many,
    hostile.leave_grandchild,
    hostile.fork_hogs,
    hostile.look_around,
]


async def run_tool(sandbox: Sandbox, name: str, **arguments: Any) -> tuple[str, bool]:
    call = Message.assistant(tool_calls=[ToolCall(id="1", name=name, arguments=arguments)])
    provider = ScriptedProvider([call, "done"])
    result = await Agent(provider, tools=TOOLS, middleware=[sandbox]).run("go")
    [tool_message] = [m for m in result.state.messages if m.role == "tool"]
    return tool_message.text, tool_message.is_error


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in state  # a zombie is dead, waiting to be reaped


async def test_the_environment_holds_only_what_is_granted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent-secret")
    monkeypatch.setenv("SHARED_SETTING", "visible")
    sandbox = Sandbox(env={"GREETING": "hi"}, pass_env=["SHARED_SETTING"])
    text, is_error = await run_tool(sandbox, "read_secrets")
    assert not is_error, text
    seen = json.loads(text)
    assert "OPENAI_API_KEY" not in seen["env"]
    assert seen["env"]["GREETING"] == "hi" and seen["env"]["SHARED_SETTING"] == "visible"
    assert set(seen["env"]) <= {
        "PATH",
        "LANG",
        "LC_ALL",
        "TZ",
        "HOME",
        "TMPDIR",
        "GREETING",
        "SHARED_SETTING",
        "LC_CTYPE",
    }
    if ROOT:  # another uid cannot read the agent's /proc/<pid>/environ
        assert seen["parent_environ"] == "PermissionError" and seen["uid"] != 0


@pytest.mark.skipif(not ROOT, reason="without root the tool runs as your own user")
async def test_the_tool_cannot_write_system_files() -> None:
    before = Path("/etc/passwd").read_bytes()
    text, _ = await run_tool(Sandbox(), "write_system_file")
    assert text == "PermissionError"
    assert Path("/etc/passwd").read_bytes() == before


@pytest.mark.skipif(ISOLATION["network"] is None, reason="no network namespaces here")
async def test_no_network_unless_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        blocked, _ = await run_tool(Sandbox(), "connect", port=port)
        allowed, _ = await run_tool(Sandbox(network=True), "connect", port=port)
    assert blocked in ("OSError", "ConnectionRefusedError", "TimeoutError")
    assert blocked != "connected" and allowed == "connected"


async def test_the_number_of_processes_is_limited() -> None:
    text, is_error = await run_tool(Sandbox(max_processes=4, timeout_s=20), "fork_many", count=50)
    assert not is_error, text
    assert int(text) <= 3  # the tool's own process counts too


@pytest.mark.skipif(not ROOT, reason="the uid-wide kill needs root")
async def test_grandchildren_in_their_own_session_die_with_the_call() -> None:
    text, is_error = await run_tool(Sandbox(timeout_s=20), "leave_grandchild")
    assert not is_error, text
    assert not _alive(int(text))


@pytest.mark.skipif(
    not str(ISOLATION["memory"]).startswith("cgroup"), reason="no writable cgroups here"
)
async def test_forking_does_not_multiply_the_memory_limit() -> None:
    sandbox = Sandbox(max_memory_mb=100, max_processes=8, timeout_s=30)
    text, is_error = await run_tool(sandbox, "fork_hogs", count=4, mb=80)
    # 4 x 80 MiB in one 164 MiB group: the kernel kills some of them (or the whole call)
    assert is_error or json.loads(text).count(0) < 4, text


@pytest.mark.skipif(ISOLATION["network"] is None, reason="no mount namespaces here")
async def test_each_call_gets_its_own_empty_working_directory() -> None:
    first, _ = await run_tool(Sandbox(), "look_around")
    second, _ = await run_tool(Sandbox(), "look_around")
    one, two = json.loads(first), json.loads(second)
    assert one["before"] == [] and two["before"] == []  # the first call's file is gone
    # The host's /tmp is hidden: only the sandbox's own folder shows, plus the top folder of
    # what the child must run from when that lives under /tmp (the venv or the repository).
    kept = {
        path.parts[2]
        for path in (Path(p).resolve() for p in (sys.prefix, sys.base_prefix, __file__))
        if path.parts[1:2] == ("tmp",)
    }
    assert sorted(one["tmp"]) == sorted({"spine-sandbox", *kept})
    assert os.getcwd() != one["cwd"]


executed: list[str] = []


def _closure_tool() -> Any:
    @tool
    def nested() -> str:
        """Defined in a function: the sandbox child cannot import it."""
        executed.append("nested")
        return "ran in-process"

    return nested


async def test_a_named_tool_that_cannot_be_sandboxed_is_refused_not_run() -> None:
    nested = _closure_tool()
    call = Message.assistant(tool_calls=[ToolCall(id="1", name="nested", arguments={})])
    agent = Agent(
        ScriptedProvider([call, "done"]), tools=[nested], middleware=[Sandbox(tools=["nested"])]
    )
    result = await agent.run("go")
    [message] = [m for m in result.state.messages if m.role == "tool"]
    assert message.is_error and "refused" in message.text and executed == []


def test_isolation_reports_every_protection() -> None:
    assert set(ISOLATION) == {"network", "filesystem", "processes", "memory", "kill"}


def test_an_unavailable_isolation_is_a_clear_error() -> None:
    outcome = json.dumps({"status": "unavailable", "message": "no network namespace: EPERM"})
    with pytest.raises(SandboxUnavailableError, match="Sandbox\\(network=True\\)"):
        Sandbox()._outcome(outcome.encode(), 0, None)
