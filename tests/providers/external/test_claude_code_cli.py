"""The real Claude Code CLI as a Spine provider, inside a loopback-only network namespace,
against the local replay server (see conftest.py)."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import anyio
import pytest

from spine_core import Agent, EventType, StopReason
from spine_providers.claude_code import SCRATCH_KEY, ClaudeCodeProvider, ClaudeCodeSession

from . import messages_sse as sse
from .conftest import Replay


def provider(server: Replay, **kwargs: Any) -> ClaudeCodeProvider:
    """The CLI provider for `server`'s namespace (minimal mode unless `bare=False`)."""
    kwargs.setdefault("allowed_tools", ["Bash"])
    kwargs.setdefault("bare", True)
    return ClaudeCodeProvider(
        "claude-sonnet-4-5",
        cli_path=server.wrapper,
        cwd=server.work,
        env=server.env(),
        **kwargs,
    )


def _user_text(request: dict[str, Any]) -> str:
    """The text of the last user message with text that a request sent to the API."""
    for message in reversed(request["body"]["messages"]):
        content = message["content"]
        if message["role"] != "user":
            continue
        if isinstance(content, str):
            return content
        texts = [b.get("text", "") for b in content if b.get("type") == "text"]
        if any(texts):
            return "\n".join(texts)
    return ""


def _leftovers(home: Path) -> list[int]:
    """Live processes started for this test (their environment names its HOME)."""
    needle = f"HOME={home}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry.name}/environ", "rb") as file:
                if needle + b"\0" in file.read() + b"\0":
                    found.append(int(entry.name))
    return found


@pytest.mark.anyio
async def test_tool_using_turn_then_resumed_turn(replay: Any) -> None:
    server = replay(
        [
            sse.bash_call("msg_t1a", "echo spine-tool-ok"),
            sse.answer("msg_t1b", "The command printed ", "spine-tool-ok."),
            sse.answer("msg_t2", "You asked me to run echo."),
        ]
    )
    cli = provider(server, bare=False)  # the CLI as users run it by default
    agent = Agent(provider=cli, middleware=[ClaudeCodeSession()], system="Be brief.")
    events = [e async for e in agent.stream("Run echo spine-tool-ok", session_id="s1")]
    first = agent.last_result
    assert first is not None and first.ok, first and first.error
    assert first.answer == "The command printed spine-tool-ok."
    tokens = "".join(e.data["text"] for e in events if e.type is EventType.TOKEN)
    assert tokens == "Running it.The command printed spine-tool-ok."
    assert [e.data["text"] for e in events if e.type is EventType.THINKING] == [
        "I should run echo spine-tool-ok."
    ]
    call = next(e for e in events if e.type is EventType.TOOL_CALL)
    result = next(e for e in events if e.type is EventType.TOOL_RESULT)
    assert call.data["name"] == "Bash" and call.data["runtime"] == "claude-code"
    assert call.data["arguments"]["command"] == "echo spine-tool-ok"
    assert result.data["result"] == "spine-tool-ok"  # the CLI really ran the command
    assert first.usage.output_tokens == 60 and first.usage.requests == 2
    assert first.usage.cost_usd > 0  # the CLI's own cost figure
    session = first.state.scratch[SCRATCH_KEY]["session_id"]
    assert session and first.state.messages[-1].thinking[0].id == session
    api = server.requests()
    assert len(api) == 2 and "Be brief." in str(api[0]["body"]["system"])

    second = await agent.run("What did you run?", session_id="s1")
    assert second.ok and second.answer == "You asked me to run echo."
    resumed = server.requests()[2]["body"]["messages"]
    assert "spine-tool-ok" in str(resumed[2]["content"])  # the CLI's own transcript came back
    assert "What did you run?" in _user_text(server.requests()[2])
    assert second.state.scratch[SCRATCH_KEY] == {
        **first.state.scratch[SCRATCH_KEY],
        "turns": 2,
        "cost_usd": pytest.approx(first.usage.cost_usd + second.usage.cost_usd),
    }


@pytest.mark.anyio
async def test_cli_killed_mid_turn_is_a_clear_error_and_leaves_no_process(replay: Any) -> None:
    server = replay([sse.stalled("msg_stall", "Thinking about it")])
    cli = provider(server, output_log=server.work.parent / "logs" / "turn")
    agent = Agent(provider=cli)
    seen_pid = 0
    async for event in agent.stream("take your time"):
        if event.type is EventType.TOKEN and not seen_pid:
            (seen_pid,) = cli.processes
            own, child = os.readlink("/proc/self/ns/net"), os.readlink(f"/proc/{seen_pid}/ns/net")
            assert own != child  # the CLI runs inside the loopback-only namespace
            log = (server.work.parent / "logs" / "turn.stdout.log").read_text()
            assert '"subtype":"init"' in log  # the output log is written as the turn goes
            os.kill(seen_pid, signal.SIGKILL)
    result = agent.last_result
    assert result is not None and result.stopped_reason is StopReason.ERROR
    assert result.error_detail is not None and result.error_detail["kind"] == "connection"
    assert "killed by SIGKILL before finishing its turn" in result.error_detail["message"]
    assert cli.processes == frozenset() and _leftovers(server.home) == []


@pytest.mark.anyio
async def test_cancelled_run_stops_the_cli_and_its_tool_processes(replay: Any) -> None:
    server = replay([sse.bash_call("msg_sleep", "sleep 60", say="Waiting.")])
    cli = provider(server)
    agent = Agent(provider=cli, middleware=[ClaudeCodeSession()])
    stream = agent.stream("wait a minute", session_id="cancel-me")
    async with contextlib.aclosing(stream):
        async for event in stream:
            if event.type is EventType.TOOL_CALL:
                break  # leaving the block cancels the run
    # the shell the CLI started for `sleep 60` must be gone with it
    with anyio.fail_after(10):
        while _leftovers(server.home):
            await anyio.sleep(0.05)
    assert cli.processes == frozenset()
    state = await agent.checkpoint.get("cancel-me")
    assert state is not None and state.status.value == "cancelled"


@pytest.mark.anyio
async def test_api_429_and_401_map_into_the_taxonomy(replay: Any) -> None:
    cases = {
        "rate_limit": sse.error(429, "rate_limit_error", "Number of requests exceeds your limit"),
        "auth": sse.error(401, "authentication_error", "invalid x-api-key"),
    }
    servers = {kind: replay([response], name=kind) for kind, response in cases.items()}
    details: dict[str, Any] = {}

    async def run(kind: str) -> None:  # both CLIs at once: the test waits for one startup
        result = await Agent(provider=provider(servers[kind])).run("hi")
        assert result.stopped_reason is StopReason.ERROR
        details[kind] = result.error_detail

    async with anyio.create_task_group() as group:
        for kind in cases:
            group.start_soon(run, kind)
    limited, auth = details["rate_limit"], details["auth"]
    assert (limited["kind"], limited["status"], limited["retryable"]) == ("rate_limit", 429, True)
    assert "exceeds your limit" in limited["message"] and limited["provider"] == "claude-code"
    assert (auth["kind"], auth["status"], auth["retryable"]) == ("auth", 401, False)
    assert all(len(server.requests()) == 1 for server in servers.values())  # no CLI retries


@pytest.mark.anyio
async def test_per_run_overrides_and_preamble_stay_with_their_run(replay: Any) -> None:
    """Marianne's apply_overrides / clear_overrides as per-run settings: two concurrent runs
    of one agent, each with its own model, preamble and prompt extensions; the provider
    and the agent are left unchanged."""
    server = replay([sse.answer("msg_c1", "one"), sse.answer("msg_c2", "two")])
    cli = provider(server, preamble="You are sheet {n}.")
    agent = Agent(provider=cli)
    runs = {
        "alpha": {"model": "claude-haiku-4-5", "preamble": "You are sheet 1 of 2."},
        "beta": {"prompt_extensions": ["Write tests first.", "  ", "Keep it short."]},
    }
    results: dict[str, Any] = {}

    async def run(name: str) -> None:
        results[name] = await agent.run(f"task {name}", settings=runs[name])

    async with anyio.create_task_group() as group:
        for name in runs:
            group.start_soon(run, name)
    assert all(r.ok for r in results.values())
    sent = {_user_text(r).rsplit("task ", 1)[-1]: r for r in server.requests()}
    alpha, beta = sent["alpha"], sent["beta"]
    assert alpha["body"]["model"] == "claude-haiku-4-5"
    assert "You are sheet 1 of 2.\n\ntask alpha" in _user_text(alpha)
    assert beta["body"]["model"] == "claude-sonnet-4-5"
    assert "You are sheet {n}.\n\nWrite tests first.\n\nKeep it short.\n\ntask beta" in (
        _user_text(beta)
    )
    assert cli.model == "claude-sonnet-4-5" and cli.defaults["preamble"] == "You are sheet {n}."
    assert agent.settings == {}
