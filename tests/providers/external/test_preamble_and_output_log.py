"""The seeds' preamble / prompt extensions and output log for every provider, as middleware
(`spine_middleware.preamble`, `spine_middleware.output_log`)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from spine_core import Agent, ScriptedProvider, TestProvider, tool
from spine_middleware.output_log import OutputLog
from spine_middleware.preamble import Preamble


@pytest.mark.anyio
async def test_preamble_and_extensions_go_before_the_prompt_per_run() -> None:
    provider = ScriptedProvider(["a", "b", "c"])
    agent = Agent(
        provider=provider, middleware=[Preamble("You are sheet 1.", extensions=["Be terse."])]
    )
    await agent.run("first task", session_id="p")
    sent = provider.prompts[0][-1]
    assert sent.content == "You are sheet 1.\n\nBe terse.\n\nfirst task"
    stored = (await agent.checkpoint.get("p")).messages  # type: ignore[union-attr]
    assert stored[0].content == "first task"  # the history keeps the user's own words

    async def run(name: str, settings: dict[str, object]) -> None:
        await agent.run(f"task {name}", settings=settings)

    async with anyio.create_task_group() as group:
        group.start_soon(run, "x", {"preamble": "You are sheet 2.", "prompt_extensions": []})
        group.start_soon(run, "y", {"prompt_extensions": ["  ", "Show your work."]})
    seen = {p[-1].content.rsplit("task ", 1)[-1]: p[-1].content for p in provider.prompts[1:]}
    assert seen == {
        "x": "You are sheet 2.\n\ntask x",
        "y": "You are sheet 1.\n\nShow your work.\n\ntask y",
    }
    assert all("preamble" not in call.settings for call in provider.calls)  # consumed


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@pytest.mark.anyio
async def test_output_log_streams_each_runs_events_to_its_file(tmp_path: Path) -> None:
    log = OutputLog(tmp_path / "logs" / "{session_id}.jsonl")
    agent = Agent(provider=TestProvider(), tools=[add], middleware=[log])
    seen_mid_run: list[str] = []

    @tool
    def peek() -> str:
        """Read the log while the run is still going."""
        seen_mid_run.extend(
            json.loads(line)["event"]
            for line in (tmp_path / "logs" / "s1.jsonl").read_text().splitlines()
        )
        return "peeked"

    agent.tools["peek"] = peek
    result = await agent.run("add things", session_id="s1")
    assert result.ok
    assert seen_mid_run[:2] == ["run_start", "model_call"] and "run_end" not in seen_mid_run
    lines = [json.loads(x) for x in (tmp_path / "logs" / "s1.jsonl").read_text().splitlines()]
    events = [line["event"] for line in lines]
    assert events[0] == "run_start" and events[-1] == "run_end"
    assert events.count("tool_call") == 2 and events.count("tool_result") == 2
    add_result = next(x for x in lines if x["event"] == "tool_result" and x["name"] == "add")
    add_call = next(x for x in lines if x["event"] == "tool_call" and x["name"] == "add")
    assert add_result["result"] == str(add_call["arguments"]["a"] + add_call["arguments"]["b"])
    assert add_result["is_error"] is False
    assert lines[0]["input"] == "add things" and lines[-1]["stopped_reason"] == "final"
    assert {line["session_id"] for line in lines} == {"s1"}


@pytest.mark.anyio
async def test_output_log_without_content_keeps_sizes_only(tmp_path: Path) -> None:
    agent = Agent(
        provider=ScriptedProvider(["secret answer"]),
        middleware=[OutputLog(tmp_path / "l.jsonl", content=False)],
    )
    await agent.run("secret question")
    text = (tmp_path / "l.jsonl").read_text()
    assert "secret" not in text and '"input": 15' in text
