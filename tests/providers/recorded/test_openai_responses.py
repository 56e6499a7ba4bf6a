"""OpenAIResponsesProvider driving the real openai SDK against recorded Responses API exchanges
(external recordings, see `cassettes.py`): the requests Spine builds match the recorded ones."""

from __future__ import annotations

from typing import Any

import pytest

from spine_core import Agent, ChunkType, FinishReason, Message, ToolCall, tool
from spine_providers import OpenAIResponsesProvider

from ..fakes import Server
from .cassettes import load_cassette, recorded_request, serve

pytestmark = pytest.mark.anyio


def _spec(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """A tool declaration as the kernel passes it (`Tool.schema`)."""
    return {"name": name, "description": description, "parameters": parameters}


def _provider(server: Server, model: str) -> OpenAIResponsesProvider:
    return OpenAIResponsesProvider(model, api_key="sk-test", http_client=server.client())


async def test_reasoning_summary_kept_with_usage_and_replayed() -> None:
    name = "openai/test_openai_model_thinking_part.yaml"
    server = serve(name)
    server.responses = [*server.responses[:1], server.responses[0]]
    provider = _provider(server, "o3-mini")
    history = [Message.user("How do I cross the street?")]
    response = await provider.complete(history, [], thinking={"effort": "high"})
    (thought,) = response.message.thinking
    assert thought.text.startswith("**Emphasizing pedestrian safety**")
    assert thought.id == "rs_68c1fa166e9c81979ff56b16882744f1093f57e27128848a"
    assert response.message.content.startswith("I'm happy to help.")
    assert (
        response.usage.input_tokens,
        response.usage.output_tokens,
        response.usage.reasoning_tokens,
    ) == (13, 1915, 1600)
    assert response.usage.cost_usd == pytest.approx((13 * 1.10 + 1915 * 4.40) / 1e6)
    assert response.finish_reason is FinishReason.STOP
    assert server.body(0)["reasoning"] == {"effort": "high", "summary": "auto"}
    assert server.body(0)["include"] == ["reasoning.encrypted_content"]
    await provider.complete([*history, response.message, Message.user("And a river?")], [])
    replayed = server.body(1)["input"]
    assert replayed[1]["type"] == "reasoning" and replayed[1]["id"] == thought.id
    assert replayed[2] == {"role": "assistant", "content": response.message.content}


async def test_streamed_function_call_then_text_round_trip() -> None:
    name = "openai/test_openai_responses_stream.yaml"
    recorded = [recorded_request(i) for i in load_cassette(name)]
    server = serve(name)
    provider = _provider(server, "gpt-4o")
    spec = recorded[0]["tools"][0]
    tools = [_spec(spec["name"], spec["description"], spec["parameters"])]
    history = [Message.system("Be brief."), Message.user("What is the capital of France?")]
    chunks = [c async for c in provider.stream(history, tools, tool_choice="auto")]
    deltas = [c for c in chunks if c.type is ChunkType.TOOL_CALL]
    assert deltas[0].tool_name == "get_capital"
    assert "".join(d.arguments_delta for d in deltas) == '{"country":"France"}'
    first = chunks[-1].response
    assert first is not None
    assert first.message.tool_calls == [
        ToolCall(
            id="call_kL0PCQV7M2WMoVX8V8OtYSAL", name="get_capital", arguments={"country": "France"}
        )
    ]
    assert first.finish_reason is FinishReason.TOOL_CALLS
    assert first.message.content is None
    body = server.body(0)
    assert body["instructions"] == "Be brief."
    assert body["input"] == recorded[0]["input"]
    assert body["tool_choice"] == "auto"
    history += [first.message, Message.tool("Paris", first.message.tool_calls[0].id)]
    chunks = [c async for c in provider.stream(history, tools, tool_choice="auto")]
    sent = server.body(1)["input"]
    expected = [
        {**item, "call_id": "call_kL0PCQV7M2WMoVX8V8OtYSAL"} if "call_id" in item else item
        for item in recorded[1]["input"]
    ]
    assert sent == expected
    assert (
        "".join(c.delta for c in chunks if c.type is ChunkType.TEXT)
        == "The capital of France is Paris."
    )
    final = chunks[-1].response
    assert final is not None and final.message.content == "The capital of France is Paris."
    assert final.usage.input_tokens > 0


async def test_agent_streams_end_to_end_through_responses() -> None:
    server = serve("openai/test_openai_responses_stream.yaml")

    @tool
    def get_capital(country: str) -> str:
        """Get the capital of a country."""
        return "Paris"

    agent = Agent(provider=_provider(server, "gpt-4o"), tools=[get_capital])
    tokens = [
        e async for e in agent.stream("What is the capital of France?") if e.type.value == "token"
    ]
    result = agent.last_result
    assert result is not None and result.ok
    assert result.answer == "The capital of France is Paris."
    assert "".join(e.data["text"] for e in tokens) == result.answer
    assert server.body(1)["input"][-1] == {
        "type": "function_call_output",
        "call_id": "call_kL0PCQV7M2WMoVX8V8OtYSAL",
        "output": "Paris",
    }
