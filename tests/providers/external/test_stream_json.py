"""Claude Code's stream-json, parsed from recorded CLI output (`recorded/`), and the provider's
process handling, run against `fake_claude.py` (a real child process that prints a recording)
so that timeouts, exits and escaped grandchildren are tested without the real CLI."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from spine_core import Agent, Message, ProviderError, Thinking, Tracer
from spine_core.messages import Role
from spine_core.provider import ChunkType
from spine_core.tracing import EventType
from spine_providers.claude_code import ClaudeCodeProvider
from spine_providers.claude_code_events import ClaudeTurn
from spine_providers.quota import QuotaExhaustedError

HERE = Path(__file__).resolve().parent
RECORDED = HERE / "recorded"
SESSION = "10d36da0-d339-4259-8e1c-9bf0b796e6b8"


def turn_of(name: str, tracer: Tracer | None = None) -> tuple[ClaudeTurn, list[Any]]:
    turn = ClaudeTurn("claude-code", "claude-sonnet-4-5", tracer)
    chunks = []
    for line in (RECORDED / name).read_text().splitlines():
        chunks.extend(turn.feed_line(line))
    return turn, chunks


def test_recorded_tool_turn_maps_deltas_tool_events_usage_and_session() -> None:
    tracer = Tracer()
    turn, chunks = turn_of("tool_turn.jsonl", tracer)
    texts = [c.delta for c in chunks if c.type is ChunkType.TEXT]
    assert texts == ["Running it.", "The command printed spine-tool-ok."]
    assert [c.delta for c in chunks if c.type is ChunkType.THINKING] == ["I should run echo."]
    call, result = tracer.events
    assert (call.type, call.data["name"], call.data["arguments"]["command"]) == (
        EventType.TOOL_CALL,
        "Bash",
        "echo spine-tool-ok",
    )
    assert (result.type, result.data["result"], result.data["is_error"]) == (
        EventType.TOOL_RESULT,
        "spine-tool-ok",
        False,
    )
    response = turn.response()
    assert response.message.content == "The command printed spine-tool-ok."
    assert not response.message.tool_calls  # the CLI ran its tools: nothing for Spine to run
    assert [(t.text, t.signature, t.id) for t in response.message.thinking] == [
        ("I should run echo.", "sig123", SESSION)
    ]
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.requests) == (70, 60, 2)
    assert usage.cost_usd == pytest.approx(0.00111)
    assert response.finish_reason.value == "stop" and response.raw["session_id"] == SESSION


def test_recorded_resumed_turn_streams_complete_blocks_without_partial_messages() -> None:
    turn, chunks = turn_of("resumed_turn.jsonl")
    assert [(c.type, c.delta) for c in chunks] == [(ChunkType.TEXT, "Second turn answer.")]
    message = turn.response().message
    assert message.content == "Second turn answer." and message.thinking[0].id == SESSION


@pytest.mark.parametrize(
    ("name", "kind", "status", "retryable", "text"),
    [
        ("rate_limited.jsonl", "rate_limit", 429, True, "exceed the rate limit"),
        ("auth_failed.jsonl", "auth", 401, False, "Invalid API key"),
    ],
)
def test_recorded_api_errors_map_into_the_taxonomy(
    name: str, kind: str, status: int, retryable: bool, text: str
) -> None:
    turn, chunks = turn_of(name)
    assert chunks == []  # the CLI's synthetic error message is not streamed as an answer
    with pytest.raises(ProviderError) as caught:
        turn.response()
    error = caught.value
    assert (error.kind.value, error.status, error.retryable) == (kind, status, retryable)
    assert text in error.message


def _result(**fields: Any) -> dict[str, Any]:
    base = {"type": "result", "subtype": "success", "is_error": False, "session_id": SESSION}
    return {**base, **fields}


def test_rejected_rate_limit_event_is_a_quota_with_its_reset_time() -> None:
    turn = ClaudeTurn("claude-code", "sonnet")
    resets = int(time.time()) + 3600
    info = {"status": "rejected", "resets_at": resets, "rate_limit_type": "five_hour"}
    turn.feed({"type": "rate_limit_event", "rate_limit_info": info})
    turn.feed(_result(is_error=True, result="You've hit your session limit"))
    with pytest.raises(QuotaExhaustedError) as caught:
        turn.response()
    assert caught.value.resets_at == resets and caught.value.retryable
    assert caught.value.retry_after_s == pytest.approx(3600, abs=5)
    assert "five_hour" in caught.value.message


def test_billing_error_is_a_quota_error() -> None:
    turn = ClaudeTurn("claude-code", "sonnet")
    message = {"model": "<synthetic>", "content": [{"type": "text", "text": "Credit low"}]}
    turn.feed({"type": "assistant", "message": message, "error": "billing_error"})
    turn.feed(_result(is_error=True, result="Credit balance is too low", api_error_status=400))
    with pytest.raises(QuotaExhaustedError) as caught:
        turn.response()
    assert caught.value.kind.value == "rate_limit" and not caught.value.retryable


def test_an_error_the_cli_recovered_from_is_not_a_failure() -> None:
    turn = ClaudeTurn("claude-code", "sonnet")
    overloaded = {"model": "<synthetic>", "content": [{"type": "text", "text": "Overloaded"}]}
    turn.feed({"type": "assistant", "message": overloaded, "error": "server_error"})
    turn.feed(
        {
            "type": "assistant",
            "message": {"id": "m2", "content": [{"type": "text", "text": "Done."}]},
        }
    )
    turn.feed(_result(result="Done."))
    assert turn.response().message.content == "Done."


def test_max_turns_ends_the_step_with_the_partial_answer() -> None:
    turn = ClaudeTurn("claude-code", "sonnet")
    content = [{"type": "text", "text": "Partway there."}]
    turn.feed({"type": "assistant", "message": {"id": "m1", "content": content}})
    turn.feed(_result(subtype="error_max_turns", is_error=True))
    response = turn.response()
    assert response.message.content == "Partway there." and response.finish_reason.value == "length"


# -- the provider's child process, with fake_claude.py ------------------------------------
@pytest.fixture
def fake(tmp_path: Path) -> Any:
    """`fake(mode, recording_lines=None, **env) -> (provider, args_file, tag)`."""
    wrapper = tmp_path / "claude"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {HERE / "fake_claude.py"} "$@"\n')
    wrapper.chmod(0o755)

    def make(
        mode: str = "exit", lines: list[str] | None = None, **kwargs: Any
    ) -> tuple[ClaudeCodeProvider, Path, str]:
        recording = tmp_path / f"recording-{uuid.uuid4().hex}.jsonl"
        ending = "" if kwargs.pop("no_final_newline", False) else "\n"
        recording.write_text("\n".join(lines or []) + ending)
        tag = uuid.uuid4().hex
        env = {
            "FAKE_CLAUDE_MODE": mode,
            "FAKE_CLAUDE_RECORDING": str(recording),
            "FAKE_CLAUDE_ARGS": str(tmp_path / "args.json"),
            "SPINE_TEST_TAG": tag,
            **kwargs.pop("env", {}),
        }
        cli = ClaudeCodeProvider("sonnet", cli_path=wrapper, env=env, cwd=tmp_path, **kwargs)
        return cli, tmp_path / "args.json", tag

    return make


def _recorded(name: str) -> list[str]:
    return (RECORDED / name).read_text().splitlines()


def _tagged(tag: str) -> list[int]:
    needle = f"SPINE_TEST_TAG={tag}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry.name}/environ", "rb") as file:
                if needle in file.read():
                    found.append(int(entry.name))
    return found


@pytest.mark.anyio
async def test_provider_sends_flags_and_prompt_and_writes_the_output_log(
    fake: Any, tmp_path: Path
) -> None:
    cli, args, _ = fake(
        lines=_recorded("tool_turn.jsonl"),
        allowed_tools=["Bash", "Read"],
        preamble="You are sheet 2.",
        output_log=tmp_path / "logs" / "sheet-02",
    )
    messages = [Message.system("Be brief."), Message.user("run echo")]
    response = await cli.complete(messages, prompt_extensions=["Use the shell."], max_turns=4)
    assert response.message.content == "The command printed spine-tool-ok."
    sent = json.loads(args.read_text())
    assert sent["stdin"] == "You are sheet 2.\n\nUse the shell.\n\nrun echo"
    for flag in (
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--include-partial-messages",
        "--model=sonnet",
        "--allowedTools=Bash,Read",
        "--max-turns=4",
        "--append-system-prompt=Be brief.",
        "--strict-mcp-config",
    ):
        assert flag in sent["argv"]
    assert not any(a.startswith("--resume") for a in sent["argv"])
    stdout_log = (tmp_path / "logs" / "sheet-02.stdout.log").read_text().splitlines()
    assert stdout_log == _recorded("tool_turn.jsonl")
    assert (tmp_path / "logs" / "sheet-02.stderr.log").exists()


@pytest.mark.anyio
async def test_next_turn_resumes_the_recorded_session_with_only_the_new_input(
    fake: Any,
) -> None:
    cli, args, _ = fake(lines=_recorded("resumed_turn.jsonl"))
    earlier = Message(
        role=Role.ASSISTANT,
        content="The command printed spine-tool-ok.",
        thinking=[Thinking(provider="claude-code", id=SESSION)],
    )
    messages = [Message.user("run echo"), earlier, Message.user("second")]
    await cli.complete(messages)
    sent = json.loads(args.read_text())
    assert f"--resume={SESSION}" in sent["argv"] and sent["stdin"] == "second"
    await cli.complete(messages, resume="another-session")  # an explicit session wins
    assert "--resume=another-session" in json.loads(args.read_text())["argv"]


@pytest.mark.anyio
async def test_a_history_from_another_provider_is_sent_as_a_transcript(fake: Any) -> None:
    cli, args, _ = fake(lines=_recorded("resumed_turn.jsonl"))
    messages = [Message.user("hi"), Message.assistant("hello!"), Message.user("and now?")]
    await cli.complete(messages)
    sent = json.loads(args.read_text())
    assert sent["stdin"] == (
        "The conversation so far:\n\nUser: hi\n\nAssistant: hello!\n\nand now?"
    )
    assert not any(a.startswith("--resume") for a in sent["argv"])


@pytest.mark.anyio
async def test_timeout_kills_the_turn(fake: Any) -> None:
    head = _recorded("tool_turn.jsonl")[:3]  # init, status, message_start: then nothing
    cli, _, tag = fake("hang", head, timeout_s=1.0, kill_grace_s=0.5)
    with pytest.raises(ProviderError) as caught:
        await cli.complete([Message.user("hi")])
    assert caught.value.kind.value == "timeout" and "longer than 1.0 s" in caught.value.message
    assert cli.processes == frozenset() and _tagged(tag) == []


@pytest.mark.anyio
async def test_cancel_kills_a_grandchild_that_left_the_process_group(fake: Any) -> None:
    cli, _, tag = fake("escape", _recorded("tool_turn.jsonl")[:3], kill_grace_s=0.5)

    async def turn() -> None:
        await cli.complete([Message.user("hi")])

    async with anyio.create_task_group() as group:
        group.start_soon(turn)
        with anyio.fail_after(30):
            while len(_tagged(tag)) < 2:  # the fake CLI and its escaped grandchild
                await anyio.sleep(0.05)
        group.cancel_scope.cancel()
    assert cli.processes == frozenset() and _tagged(tag) == []


@pytest.mark.anyio
async def test_exit_without_a_result_quotes_stderr_and_classifies_a_quota(fake: Any) -> None:
    reset = int(time.time()) + 7200
    message = f"Claude AI usage limit reached|{reset}"
    cli, _, _ = fake("stderr", env={"FAKE_CLAUDE_STDERR": message})
    with pytest.raises(QuotaExhaustedError) as caught:
        await cli.complete([Message.user("hi")])
    assert caught.value.resets_at == reset and "exited with code 1" in caught.value.message
    cli, _, _ = fake("stderr", env={"FAKE_CLAUDE_STDERR": "segfault in the renderer"})
    with pytest.raises(ProviderError) as other:
        await cli.complete([Message.user("hi")])
    assert other.value.kind.value == "connection" and "segfault" in other.value.message


@pytest.mark.anyio
async def test_missing_cli_names_the_npm_package(tmp_path: Path) -> None:
    cli = ClaudeCodeProvider("sonnet", cli_path=tmp_path / "nowhere" / "claude")
    with pytest.raises(ProviderError) as caught:
        await cli.complete([Message.user("hi")])
    assert "npm install -g @anthropic-ai/claude-code" in caught.value.message
    assert not caught.value.retryable
    availability = await cli.availability_check()
    assert not availability and "@anthropic-ai/claude-code" in availability.reason


@pytest.mark.anyio
async def test_unknown_settings_and_spine_tools_are_refused(fake: Any) -> None:
    cli, args, _ = fake(lines=_recorded("resumed_turn.jsonl"))
    with pytest.raises(ProviderError, match="does not support the setting"):
        await cli.complete([Message.user("hi")], temperature=0.2)
    tool = {"name": "lookup", "description": "", "parameters": {"type": "object"}}
    with pytest.raises(ProviderError, match="Spine tools are not forwarded"):
        await cli.complete([Message.user("hi")], [tool])
    assert not args.exists()  # neither call started the CLI


@pytest.mark.anyio
async def test_a_last_line_without_its_newline_is_still_read(fake: Any) -> None:
    cli, _, _ = fake(lines=_recorded("resumed_turn.jsonl"), no_final_newline=True)
    response = await cli.complete([Message.user("hi")])
    assert response.message.content == "Second turn answer."


class Weather(BaseModel):
    city: str
    temp_c: float


@pytest.mark.anyio
async def test_output_type_becomes_the_cli_json_schema_and_its_structured_output(
    fake: Any,
) -> None:
    cli, args, _ = fake(lines=_recorded("structured_output.jsonl"))
    result = await Agent(provider=cli, output_type=Weather).run("weather in Paris?")
    assert result.ok and result.output == Weather(city="Paris", temp_c=21)
    flag = next(a for a in json.loads(args.read_text())["argv"] if a.startswith("--json-schema="))
    assert json.loads(flag.partition("=")[2])["required"] == ["city", "temp_c"]
