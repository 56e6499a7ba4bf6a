"""OpenAIResponsesProvider driving the real openai SDK against the project's own fixtures
(`fixtures/openai_responses/`, written from the Responses API reference)."""

from __future__ import annotations

from typing import Any

import pytest

from spine_core import Agent, ChunkType, FinishReason, Message, ToolCall, tool
from spine_providers import OpenAIResponsesProvider

from .fakes import Server, serve

pytestmark = pytest.mark.anyio

CAPITAL = {
    "name": "lookup_capital",
    "description": "The capital of a country.",
    "parameters": {"type": "object", "properties": {"country": {"type": "string"}}},
}


def _provider(server: Server, model: str = "o4-mini", **kw: Any) -> OpenAIResponsesProvider:
    return OpenAIResponsesProvider(model, api_key="sk-test", http_client=server.client(), **kw)


async def test_reasoning_summary_kept_with_usage_and_replayed() -> None:
    server = serve("openai_responses/reasoning.yaml", "openai_responses/reasoning.yaml")
    provider = _provider(server)
    history = [Message.system("Be careful."), Message.user("How do I boil an egg?")]
    response = await provider.complete(history, [], thinking={"effort": "high"})
    (thought,) = response.message.thinking
    assert thought.text.startswith("**Timing the egg**")
    assert (thought.id, thought.signature) == (
        "rs_spine_0001",
        "gAAAAABspine-encrypted-reasoning-0001==",
    )
    assert response.message.content == (
        "Lower the egg into boiling water for nine minutes, then cool it in cold water."
    )
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens) == (75, 1186, 1024)
    assert usage.cost_usd == pytest.approx((75 * 1.10 + 1186 * 4.40) / 1e6)  # o4-mini
    assert response.finish_reason is FinishReason.STOP
    body = server.body(0)
    assert str(server.requests[0].url) == "https://api.openai.com/v1/responses"
    assert body["instructions"] == "Be careful."
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["include"] == ["reasoning.encrypted_content"]
    await provider.complete([*history, response.message, Message.user("A soft one?")], [])
    assert server.body(1)["input"][1:3] == [
        {
            "type": "reasoning",
            "id": "rs_spine_0001",
            "summary": [{"type": "summary_text", "text": thought.text}],
            "encrypted_content": "gAAAAABspine-encrypted-reasoning-0001==",
        },
        {"role": "assistant", "content": response.message.content},
    ]


async def test_streamed_function_call_then_text_round_trip() -> None:
    server = serve(
        "openai_responses/stream_function_call.yaml", "openai_responses/stream_text.yaml"
    )
    provider = _provider(server, "gpt-4o")
    history = [Message.user("Capital of Peru?")]
    chunks = [c async for c in provider.stream(history, [CAPITAL], tool_choice="auto")]
    deltas = [c for c in chunks if c.type is ChunkType.TOOL_CALL]
    assert deltas[0].tool_name == "lookup_capital"
    assert "".join(d.arguments_delta for d in deltas) == '{"country":"Peru"}'
    first = chunks[-1].response
    assert first is not None and first.finish_reason is FinishReason.TOOL_CALLS
    assert first.message.tool_calls == [
        ToolCall(id="call_spine_capital_pe", name="lookup_capital", arguments={"country": "Peru"})
    ]
    assert server.body(0)["tools"] == [
        {
            "type": "function",
            "name": "lookup_capital",
            "description": CAPITAL["description"],
            "parameters": CAPITAL["parameters"],
            "strict": False,
        }
    ]
    history += [first.message, Message.tool("Lima", "call_spine_capital_pe")]
    chunks = [c async for c in provider.stream(history, [CAPITAL])]
    assert server.body(1)["input"][1:] == [
        {
            "type": "function_call",
            "call_id": "call_spine_capital_pe",
            "name": "lookup_capital",
            "arguments": '{"country":"Peru"}',
        },
        {"type": "function_call_output", "call_id": "call_spine_capital_pe", "output": "Lima"},
    ]
    text = "".join(c.delta for c in chunks if c.type is ChunkType.TEXT)
    final = chunks[-1].response
    assert final is not None and final.message.content == text == "Lima is the capital of Peru."
    assert (final.usage.input_tokens, final.usage.output_tokens) == (90, 8)


async def test_structured_output_and_named_tool_choice_on_the_wire() -> None:
    server = serve("openai_responses/reasoning.yaml")
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    await _provider(server).complete(
        [Message.user("hi")],
        [CAPITAL],
        output_schema={"name": "answer", "schema": schema},
        tool_choice={"name": "lookup_capital"},
        max_tokens=50,
        stop=["x"],  # the Responses API has no stop sequences: dropped
    )
    body = server.body()
    assert body["text"] == {
        "format": {"type": "json_schema", "name": "answer", "schema": schema, "strict": False}
    }
    assert body["tool_choice"] == {"type": "function", "name": "lookup_capital"}
    assert body["max_output_tokens"] == 50
    assert "stop" not in body


async def test_stateless_turns_ask_for_and_replay_only_encrypted_reasoning() -> None:
    server = serve("openai_responses/reasoning.yaml", "openai_responses/reasoning.yaml")
    provider = _provider(server, store=False, include=["message.output_text.logprobs"])
    history = [Message.user("How do I boil an egg?")]
    first = await provider.complete(history, [])
    body = server.body(0)
    assert body["store"] is False
    assert body["include"] == ["message.output_text.logprobs", "reasoning.encrypted_content"]
    kept = first.message.thinking[0]
    lost = kept.model_copy(update={"id": "rs_without_content", "signature": None})
    first.message.thinking.append(lost)  # e.g. a reasoning item from a stored earlier turn
    await provider.complete([*history, first.message, Message.user("A soft one?")], [])
    replayed = [i for i in server.body(1)["input"] if i.get("type") == "reasoning"]
    assert [i["id"] for i in replayed] == ["rs_spine_0001"]


async def test_agent_streams_a_tool_turn_end_to_end() -> None:
    server = serve(
        "openai_responses/stream_function_call.yaml", "openai_responses/stream_text.yaml"
    )

    @tool
    def lookup_capital(country: str) -> str:
        """The capital of a country."""
        return "Lima"

    agent = Agent(provider=_provider(server, "gpt-4o"), tools=[lookup_capital])
    stream = agent.stream("Capital of Peru?")
    tokens = [e async for e in stream if e.type.value == "token"]
    result = stream.result
    assert result is not None and result.ok
    assert result.answer == "Lima is the capital of Peru."
    assert "".join(e.data["text"] for e in tokens) == result.answer
    assert server.body(1)["input"][-1] == {
        "type": "function_call_output",
        "call_id": "call_spine_capital_pe",
        "output": "Lima",
    }
