from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from spine_core import Agent, Message, ModelResponse, ScriptedProvider, ToolCall, Usage, tool
from spine_middleware import Recorder, Replayer

pytestmark = pytest.mark.anyio

CALLS: list[str] = []


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.clear()


@tool
def weather(city: str) -> str:
    """Weather.

    Args:
        city: City.
    """
    CALLS.append(city)
    return f"sunny in {city}"


@tool
def forecast(city: str) -> dict[str, Any]:
    """Forecast as an object.

    Args:
        city: City.
    """
    CALLS.append(city)
    return {"city": city, "days": ["sun", "rain"]}


@tool
def flaky(city: str) -> str:
    """Always fails.

    Args:
        city: City.
    """
    CALLS.append(city)
    raise ConnectionError("weather service unreachable")


@tool
async def slow_weather(city: str, delay: float) -> str:
    """Weather, slowly.

    Args:
        city: City.
        delay: Seconds.
    """
    await anyio.sleep(delay)
    CALLS.append(city)
    return f"sunny in {city}"


TOOLS = [weather, forecast, flaky, slow_weather]


def ask(name: str, call_id: str = "w1", **arguments: Any) -> Message:
    return Message.assistant(tool_calls=[ToolCall(id=call_id, name=name, arguments=arguments)])


def script() -> list[ModelResponse | Message | str]:
    return [
        ModelResponse(
            message=ask("weather", city="Oslo"), usage=Usage(input_tokens=10, output_tokens=5)
        ),
        ModelResponse(
            message=Message.assistant("It is sunny in Oslo."),
            usage=Usage(input_tokens=20, output_tokens=7),
        ),
    ]


def offline() -> ScriptedProvider:
    return ScriptedProvider([])  # any call raises


async def test_a_recording_replays_the_same_run_offline() -> None:
    recorder = Recorder()
    live = await Agent(ScriptedProvider(script()), tools=TOOLS, middleware=[recorder]).run("w?")
    assert [r.message.text for r in recorder.model_responses] == ["", "It is sunny in Oslo."]
    assert recorder.tool_results == ["sunny in Oslo"]

    CALLS.clear()
    disconnected = offline()
    replay = await Agent(disconnected, tools=TOOLS, middleware=[Replayer(recorder)]).run("w?")
    assert disconnected.calls == [] and CALLS == []
    assert replay.answer == live.answer == "It is sunny in Oslo."
    assert replay.stopped_reason == live.stopped_reason
    assert replay.usage == live.usage and live.usage.total_tokens == 42
    assert [m.model_dump() for m in replay.state.messages] == [
        m.model_dump() for m in live.state.messages
    ]


async def test_the_recording_is_json_and_the_reference_format_replays() -> None:
    recorder = Recorder()
    steps: list[Message | str] = [ask("forecast", city="Oslo"), "Sun, then rain."]
    live = await Agent(ScriptedProvider(steps), tools=TOOLS, middleware=[recorder]).run("w?")
    data = json.loads(json.dumps(recorder.recording()))
    assert data["tool"] == [{"city": "Oslo", "days": ["sun", "rain"]}]
    assert [r["message"]["content"] for r in data["model"]] == [None, "Sun, then rain."]

    CALLS.clear()
    reference_only = {"model": data["model"], "tool": data["tool"]}
    replay = await Agent(offline(), tools=TOOLS, middleware=[Replayer(reference_only)]).run("w?")
    assert CALLS == [] and replay.answer == live.answer
    assert replay.state.messages[-2].text == live.state.messages[-2].text


async def test_replay_falls_through_to_live_when_the_recording_runs_out() -> None:
    recorder = Recorder()
    await Agent(ScriptedProvider(script()), tools=TOOLS, middleware=[recorder]).run("w?")
    data = recorder.recording()
    data["model"] = data["model"][:1]  # keep only the tool call
    data["model_calls"] = data["model_calls"][:1]

    CALLS.clear()
    live = ScriptedProvider(["live answer"])
    result = await Agent(live, tools=TOOLS, middleware=[Replayer(data)]).run("w?")
    assert CALLS == []  # the tool result came from the recording
    assert result.answer == "live answer"
    assert len(live.calls) == 1 and live.calls[0].messages[-1].text == "sunny in Oslo"


async def test_a_recorded_tool_error_replays_as_a_tool_error() -> None:
    recorder = Recorder()
    steps: list[Message | str] = [ask("flaky", "f1", city="Oslo"), "The service is down."]
    live = await Agent(ScriptedProvider(steps), tools=TOOLS, middleware=[recorder]).run("w?")

    CALLS.clear()
    replay = await Agent(offline(), tools=TOOLS, middleware=[Replayer(recorder)]).run("w?")
    assert CALLS == []
    live_result, replayed = live.state.messages[-2], replay.state.messages[-2]
    assert live_result.is_error and "weather service unreachable" in live_result.text
    assert replayed.is_error and replayed.text == live_result.text


async def test_parallel_results_replay_by_call_id() -> None:
    calls = Message.assistant(
        tool_calls=[
            ToolCall(id="a", name="slow_weather", arguments={"city": "Oslo", "delay": 0.2}),
            ToolCall(id="b", name="slow_weather", arguments={"city": "Rome", "delay": 0.0}),
        ]
    )
    recorder = Recorder()
    live = await Agent(
        ScriptedProvider([calls, "done"]), tools=TOOLS, middleware=[recorder], parallel_tools=True
    ).run("w?")
    assert recorder.tool_results == ["sunny in Rome", "sunny in Oslo"]  # in finishing order

    CALLS.clear()
    replay = await Agent(
        offline(), tools=TOOLS, middleware=[Replayer(recorder)], parallel_tools=True
    ).run("w?")
    assert CALLS == []
    assert [m.model_dump() for m in replay.state.messages] == [
        m.model_dump() for m in live.state.messages
    ]


async def test_a_conversation_of_several_runs_replays_run_after_run() -> None:
    recorder = Recorder()
    agent = Agent(ScriptedProvider(["hello", "bye"]), middleware=[recorder])
    first = await agent.run("hi")
    await agent.run("see you", session_id=first.session_id)

    replayer = Replayer(recorder)
    again = Agent(offline(), middleware=[replayer])
    one = await again.run("hi")
    two = await again.run("see you", session_id=one.session_id)
    assert (one.answer, two.answer) == ("hello", "bye")
    replayer.rewind()
    assert (await again.run("hi")).answer == "hello"


async def test_recordings_written_to_files_replay_from_them(tmp_path: Path) -> None:
    template = str(tmp_path / "runs" / "{session_id}.json")
    recorder = Recorder(path=template)
    agent = Agent(ScriptedProvider([*script(), "other"]), tools=TOOLS, middleware=[recorder])
    live = await agent.run("w?", session_id="s1")
    await agent.run("more?", session_id="s2")
    one = json.loads((tmp_path / "runs" / "s1.json").read_text())
    two = json.loads((tmp_path / "runs" / "s2.json").read_text())
    assert (len(one["model"]), one["tool"]) == (2, ["sunny in Oslo"])
    assert (len(two["model"]), two["tool"]) == (1, [])
    assert one["model_calls"][0]["messages"][-1]["content"] == "w?"  # what the model was sent

    CALLS.clear()
    replayer = Replayer(path=template)
    replay = await Agent(offline(), tools=TOOLS, middleware=[replayer]).run("w?", session_id="s1")
    other = await Agent(offline(), middleware=[replayer]).run("more?", session_id="s2")
    assert CALLS == [] and replay.answer == live.answer and other.answer == "other"


def test_replayer_needs_one_source() -> None:
    with pytest.raises(ValueError):
        Replayer()
    with pytest.raises(ValueError):
        Replayer({"model": [], "tool": []}, path="x.json")


async def test_calls_the_kernel_answers_itself_do_not_shift_an_in_order_replay() -> None:
    calls = Message.assistant(
        tool_calls=[
            ToolCall(id="w0", name="weather", arguments_error="not JSON: {city"),
            ToolCall(id="w1", name="nowhere", arguments={}),  # unknown tool
            ToolCall(id="w2", name="weather", arguments={"city": "Oslo"}),
        ]
    )
    recorder = Recorder()
    live = await Agent(ScriptedProvider([calls, "done"]), tools=TOOLS, middleware=[recorder]).run(
        "w?"
    )
    assert recorder.tool_results == ["sunny in Oslo"]

    CALLS.clear()
    data = recorder.recording()
    reference_only = {"model": data["model"], "tool": data["tool"]}
    replay = await Agent(offline(), tools=TOOLS, middleware=[Replayer(reference_only)]).run("w?")
    assert CALLS == []
    assert [m.model_dump() for m in replay.state.messages] == [
        m.model_dump() for m in live.state.messages
    ]
