"""The Claude Agent SDK as a Spine provider (`claude-agent:`), driving the real CLI inside the
test namespace against the same local replay server."""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import pytest

from spine_core import Agent, EventType, Message, ProviderError
from spine_providers.claude_agent import ClaudeAgentProvider
from spine_providers.claude_code import SCRATCH_KEY, ClaudeCodeSession

from . import messages_sse as sse
from .test_claude_code_cli import _leftovers


@pytest.mark.anyio
async def test_sdk_tool_turn_then_a_resumed_turn_cancelled_mid_tool(replay: Any) -> None:
    server = replay(
        [
            sse.bash_call("msg_k1", "echo via-the-sdk"),
            sse.answer("msg_k2", "It printed via-the-sdk."),
            sse.bash_call("msg_k3", "sleep 60", say="Waiting."),
        ]
    )
    sdk = ClaudeAgentProvider(
        "claude-sonnet-4-5",
        cli_path=str(server.wrapper),
        cwd=str(server.work),
        env=server.env(),
        allowed_tools=["Bash"],
        extra_args={"bare": None},  # Claude Code's minimal mode: a faster start
    )
    agent = Agent(provider=sdk, middleware=[ClaudeCodeSession()], system="Be brief.")
    events = [e async for e in agent.stream("Run echo via-the-sdk", session_id="k")]
    first = agent.last_result
    assert first is not None and first.ok, first and first.error
    assert first.answer == "It printed via-the-sdk."
    tokens = "".join(e.data["text"] for e in events if e.type is EventType.TOKEN)
    assert tokens == "Running it.It printed via-the-sdk."
    result = next(e for e in events if e.type is EventType.TOOL_RESULT)
    assert result.data["result"] == "via-the-sdk" and result.data["runtime"] == "claude-agent"
    session = first.state.scratch[SCRATCH_KEY]["session_id"]
    assert session and first.usage.cost_usd > 0
    assert "Be brief." in str(server.requests()[0]["body"]["system"])

    # turn 2 resumes the SDK session, starts `sleep 60` through Bash, and is cancelled
    stream = agent.stream("Now wait a minute", session_id="k", settings={"max_turns": 3})
    async with contextlib.aclosing(stream):
        async for event in stream:
            if event.type is EventType.TOOL_CALL:
                with anyio.fail_after(30):
                    while not _running(server.home, b"sleep\x0060"):
                        await anyio.sleep(0.05)
                break  # leaving the block cancels the run
    assert "via-the-sdk" in str(server.requests()[2]["body"]["messages"])  # it resumed
    assert _leftovers(server.home) == []  # the CLI and its shell are gone
    state = await agent.checkpoint.get("k")
    assert state is not None and state.status.value == "cancelled"


def _running(home: Any, command: bytes) -> bool:
    for pid in _leftovers(home):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as file:
            if command in file.read():
                return True
    return False


@pytest.mark.anyio
async def test_settings_map_onto_claude_agent_options_per_call() -> None:
    sdk = ClaudeAgentProvider("sonnet", allowed_tools=["Read"], permission_mode="plan")
    options = sdk.options_for({"max_turns": 2, "allowed_tools": ["Bash"]}, "Be brief.")
    assert (options.model, options.max_turns, options.allowed_tools) == ("sonnet", 2, ["Bash"])
    assert options.permission_mode == "plan" and options.include_partial_messages
    assert options.system_prompt == {
        "type": "preset",
        "preset": "claude_code",
        "append": "Be brief.",
    }
    assert sdk.options_for({}).allowed_tools == ["Read"]  # the call's value did not stick
    with pytest.raises(ProviderError, match="does not support the setting"):
        await sdk.complete([Message.user("hi")], temprature=0.1)


@pytest.mark.anyio
async def test_sdk_availability_reports_the_cli(tmp_path: Any) -> None:
    assert await ClaudeAgentProvider("sonnet").availability_check()  # the bundled CLI
    missing = ClaudeAgentProvider("sonnet", cli_path=str(tmp_path / "nope"))
    answer = await missing.availability_check()
    assert not answer and "not an executable file" in answer.reason
