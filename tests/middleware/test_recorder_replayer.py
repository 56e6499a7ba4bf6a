from __future__ import annotations

import json
from pathlib import Path

import pytest

from spine_core import Agent, Message, ScriptedProvider, ToolCall, tool
from spine_middleware import Recorder, Replayer

pytestmark = pytest.mark.anyio

CALLS: list[str] = []


@tool
def weather(city: str) -> str:
    """Weather.

    Args:
        city: City.
    """
    CALLS.append(city)
    return f"sunny in {city}"


def script() -> list[Message | str]:
    return [
        Message.assistant(
            tool_calls=[ToolCall(id="w1", name="weather", arguments={"city": "Oslo"})]
        ),
        "It is sunny in Oslo.",
    ]


async def test_recording_replays_the_same_result_offline(tmp_path: Path) -> None:
    path = str(tmp_path / "run.json")
    live = await Agent(
        ScriptedProvider(script()), tools=[weather], middleware=[Recorder(path=path)]
    ).run("weather?")
    recorded = json.loads(Path(path).read_text())
    assert (
        len(recorded["model_calls"]) == 2
        and recorded["tool_results"][0]["result"] == "sunny in Oslo"
    )

    CALLS.clear()
    disconnected = ScriptedProvider([])  # any call would raise
    replay = await Agent(disconnected, tools=[weather], middleware=[Replayer(path=path)]).run(
        "weather?"
    )
    assert disconnected.calls == [] and CALLS == []
    assert replay.answer == live.answer
    assert replay.stopped_reason == live.stopped_reason
    assert replay.usage == live.usage
    assert [m.model_dump() for m in replay.state.messages] == [
        m.model_dump() for m in live.state.messages
    ]


async def test_replay_falls_through_to_live_when_the_recording_runs_out(tmp_path: Path) -> None:
    path = tmp_path / "short.json"
    recorder = Recorder(path=str(path))
    await Agent(ScriptedProvider(script()), tools=[weather], middleware=[recorder]).run("w?")
    data = json.loads(path.read_text())
    data["model_calls"] = data["model_calls"][:1]  # keep only the tool call
    path.write_text(json.dumps(data))

    CALLS.clear()
    live = ScriptedProvider(["live answer"])
    agent = Agent(live, tools=[weather], middleware=[Replayer(path=str(path))])
    result = await agent.run("w?")
    assert CALLS == []  # the tool result came from the recording
    assert result.answer == "live answer"
    assert len(live.calls) == 1
    assert live.calls[0].messages[-1].content == "sunny in Oslo"


@tool
def flaky(city: str) -> str:
    """Always fails.

    Args:
        city: City.
    """
    CALLS.append(city)
    raise ConnectionError("weather service unreachable")


async def test_a_recorded_tool_error_replays_as_a_tool_error(tmp_path: Path) -> None:
    path = str(tmp_path / "error.json")
    steps: list[Message | str] = [
        Message.assistant(tool_calls=[ToolCall(id="f1", name="flaky", arguments={"city": "Oslo"})]),
        "The service is down.",
    ]
    live = await Agent(
        ScriptedProvider(steps), tools=[flaky], middleware=[Recorder(path=path)]
    ).run("weather?")

    CALLS.clear()
    replay = await Agent(ScriptedProvider([]), tools=[flaky], middleware=[Replayer(path=path)]).run(
        "weather?"
    )

    assert CALLS == []
    live_result, replayed = live.state.messages[2], replay.state.messages[2]
    assert live_result.is_error and "weather service unreachable" in live_result.content
    assert replayed.is_error and replayed.content == live_result.content
