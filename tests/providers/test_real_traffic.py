"""Real traffic Spine used to misread (issue 14), each case on a fixture shaped like it.

1. an OpenAI-compatible stream that ends with [DONE] but never sets finish_reason;
2. a tool name repeated in every delta of a call;
3. Gemini's `toolUsePromptTokenCount`;
4. an invalid Gemini API key (HTTP 400, reason API_KEY_INVALID);
5. reasoning reported beside the completion tokens (xAI), against each API's own accounting;
6. a 200 whose body is truncated JSON or an HTML page;
7. an Anthropic tool input that is not an object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from spine_core import Agent, ChunkType, FinishReason, Message, tool
from spine_core.errors import ProviderError
from spine_providers import (
    AnthropicProvider,
    GeminiProvider,
    OpenAIProvider,
    OpenAIResponsesProvider,
    OpenRouterProvider,
)

from .fakes import Server, fixture, response, serve, sse

pytestmark = pytest.mark.anyio

VERSION = {
    "name": "llm_version",
    "description": "The newest release of a Python package.",
    "parameters": {"type": "object", "properties": {"package": {"type": "string"}}},
}


def _openrouter(server: Server) -> OpenRouterProvider:
    return OpenRouterProvider(
        "moonshotai/kimi-k2",
        api_key="k",
        http_client=server.client(),
        prices={"kimi-k2": {"input": 0.55, "output": 2.2}},
    )


def _kimi_events(name: str = "openai_compat/kimi_k2_stream.yaml") -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = fixture(name)["sse"]
    return events


# -- 1 and 2: a stream without finish_reason, with the name repeated in every delta ---------


async def test_a_tool_call_stream_ending_in_done_without_finish_reason_is_complete() -> None:
    server = serve("openai_compat/kimi_k2_stream.yaml")
    chunks = [c async for c in _openrouter(server).stream([Message.user("openai?")], [VERSION])]
    final = chunks[-1].response
    assert final is not None and final.finish_reason is FinishReason.TOOL_CALLS
    (call,) = final.message.tool_calls
    assert (call.id, call.name, call.arguments) == (
        "functions.llm_version:0",
        "llm_version",  # not "llm_versionllm_versionllm_version"
        {"package": "openai"},
    )
    named = [c.tool_name for c in chunks if c.type is ChunkType.TOOL_CALL and c.tool_name]
    assert named == ["llm_version"]  # announced once, so a UI that joins names shows it once
    assert (final.usage.input_tokens, final.usage.output_tokens) == (212, 21)


async def test_a_tool_name_repeated_in_every_delta_is_not_concatenated() -> None:
    events = _kimi_events()
    events[-2]["data"]["choices"][0]["finish_reason"] = "tool_calls"  # a finish reason, too
    server = Server([sse(events)])
    chunks = [c async for c in _openrouter(server).stream([Message.user("openai?")], [VERSION])]
    final = chunks[-1].response
    assert final is not None
    assert [c.name for c in final.message.tool_calls] == ["llm_version"]


async def test_a_text_stream_ending_in_done_without_finish_reason_stops() -> None:
    server = serve("openai_compat/kimi_k2_text_stream.yaml")
    chunks = [c async for c in _openrouter(server).stream([Message.user("openai?")])]
    final = chunks[-1].response
    assert final is not None and final.finish_reason is FinishReason.STOP
    assert final.message.content == "openai 3.52.0 is the newest release."


async def test_an_agent_completes_tool_turns_through_such_an_upstream() -> None:
    server = serve("openai_compat/kimi_k2_stream.yaml", "openai_compat/kimi_k2_text_stream.yaml")

    @tool
    def llm_version(package: str) -> str:
        """The newest release of a Python package."""
        return "3.52.0"

    agent = Agent(provider=_openrouter(server), tools=[llm_version])
    stream = agent.stream("What is the newest openai release?")
    [e async for e in stream]
    result = stream.result
    assert result is not None and result.ok, result.error if result else None
    assert result.answer == "openai 3.52.0 is the newest release."
    assert len(server.requests) == 2  # no retried (repeated) model call
    assert server.body(1)["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "functions.llm_version:0",
        "content": "3.52.0",
    }


async def test_a_stream_cut_before_done_is_still_a_connection_error() -> None:
    events = [e for e in _kimi_events() if e.get("data") != "[DONE]"]  # usage chunk kept
    server = Server([sse(events)])
    with pytest.raises(ProviderError) as info:
        [c async for c in _openrouter(server).stream([Message.user("openai?")], [VERSION])]
    assert info.value.kind.value == "connection" and info.value.retryable


async def test_done_after_incomplete_tool_arguments_is_a_connection_error() -> None:
    events = [e for e in _kimi_events() if '"openai"}' not in str(e.get("data"))]
    server = Server([sse(events)])
    with pytest.raises(ProviderError) as info:
        [c async for c in _openrouter(server).stream([Message.user("openai?")], [VERSION])]
    assert info.value.kind.value == "connection"
    assert "llm_version" in info.value.message


def _chunk(tool_calls: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
    delta = {"role": "assistant", "content": None, "tool_calls": tool_calls}
    return {
        "data": {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gemini-2.5-flash",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    }


async def test_two_calls_sharing_an_index_but_not_an_id_stay_two_calls() -> None:
    def call(id_: str, city: str) -> dict[str, Any]:
        arguments = f'{{"city": "{city}"}}'
        function = {"name": "get_weather", "arguments": arguments}
        return {"index": 0, "id": id_, "type": "function", "function": function}

    events = [
        _chunk([call("call_a", "Paris")]),
        _chunk([call("call_b", "Rome")], finish="tool_calls"),
        {"data": "[DONE]"},
    ]
    server = Server([sse(events)])
    provider = OpenAIProvider("gemini-2.5-flash", api_key="k", http_client=server.client())
    chunks = [c async for c in provider.stream([Message.user("weather?")])]
    final = chunks[-1].response
    assert final is not None
    assert [(c.id, c.name, c.arguments) for c in final.message.tool_calls] == [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_weather", {"city": "Rome"}),
    ]
    assert [c.index for c in chunks if c.type is ChunkType.TOOL_CALL] == [0, 1]


# -- 3 and 4: Gemini ----------------------------------------------------------------------


def _gemini(server: Server) -> GeminiProvider:
    return GeminiProvider("gemini-2.5-flash", api_key="k", http_client=server.client())


async def test_gemini_counts_tool_use_prompt_tokens_as_input() -> None:
    server = serve("gemini/code_execution.yaml")
    response = await _gemini(server).complete([Message.user("Sum of the first 50 primes?")])
    usage = response.usage
    assert usage.input_tokens == 120 + 619
    assert usage.output_tokens == 260 + 426
    assert usage.total_tokens == 1425  # usageMetadata.totalTokenCount
    assert response.message.content == (
        "I'll compute the sum of the first 50 primes.The sum of the first 50 prime numbers is 5117."
    )


async def test_an_invalid_gemini_key_is_an_auth_error() -> None:
    server = serve("gemini/api_key_invalid.yaml", "gemini/api_key_invalid.yaml")
    provider = _gemini(server)
    with pytest.raises(ProviderError) as info:
        await provider.complete([Message.user("hi")])
    error = info.value
    assert (error.kind.value, error.status, error.retryable) == ("auth", 400, False)
    assert "API key not valid" in error.message
    with pytest.raises(ProviderError) as info:
        await provider.health_check()
    assert info.value.kind.value == "auth"


async def test_any_other_gemini_invalid_argument_stays_bad_request() -> None:
    body = {"error": {"code": 400, "message": "Invalid JSON payload", "status": "INVALID_ARGUMENT"}}
    server = Server([httpx2.Response(400, json=body)])
    with pytest.raises(ProviderError) as info:
        await _gemini(server).complete([Message.user("hi")])
    assert info.value.kind.value == "bad_request"


# -- 5: reasoning is part of output, whatever each API counts it in ------------------------

USAGE_CASES: dict[str, tuple[Callable[[Server], Any], str, tuple[int, int, int], int | None]] = {
    # name: (provider, fixture, (input, output, reasoning) in Spine's Usage, the API's total)
    "xai": (
        lambda s: OpenAIProvider(
            "grok-4-fast-reasoning",
            api_key="k",
            base_url="https://api.x.ai/v1",
            http_client=s.client(),
            prices={"grok-4-fast-reasoning": {"input": 0.2, "output": 0.5}},
        ),
        "openai_compat/xai_reasoning.yaml",
        (40, 12 + 310, 310),  # reasoning reported beside completion_tokens
        362,
    ),
    "deepseek": (
        lambda s: OpenAIProvider(
            "deepseek-reasoner",
            api_key="k",
            base_url="https://api.deepseek.com",
            http_client=s.client(),
            prices={"deepseek-reasoner": {"input": 0.28, "output": 0.42}},
        ),
        "openai_compat/deepseek_reasoner.yaml",
        (18, 420, 380),  # completion_tokens already include reasoning
        438,
    ),
    "openai-responses": (
        lambda s: OpenAIResponsesProvider("o4-mini", api_key="k", http_client=s.client()),
        "openai_responses/reasoning.yaml",
        (75, 1186, 1024),  # output_tokens already include reasoning
        1261,
    ),
    "openai-chat": (
        lambda s: OpenAIProvider("gpt-4o", api_key="k", http_client=s.client()),
        "openai_chat/text.yaml",
        (1536, 8, 0),
        1544,
    ),
    "anthropic": (
        lambda s: AnthropicProvider("claude-sonnet-4-6", api_key="k", http_client=s.client()),
        "anthropic/thinking_tool_use.yaml",
        (352, 94, 61),  # output_tokens include thinking; Anthropic reports no total
        None,
    ),
    "gemini": (
        lambda s: GeminiProvider("gemini-2.5-flash", api_key="k", http_client=s.client()),
        "gemini/text.yaml",
        (14, 8 + 31, 31),  # candidatesTokenCount leaves thoughts out
        53,
    ),
}


@pytest.mark.parametrize("name", list(USAGE_CASES))
async def test_output_tokens_include_reasoning_and_match_the_api_total(name: str) -> None:
    factory, fixture_name, expected, total = USAGE_CASES[name]
    response = await factory(serve(fixture_name)).complete([Message.user("hi")])
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens) == expected
    assert usage.reasoning_tokens <= usage.output_tokens
    if total is not None:
        assert usage.input_tokens + usage.output_tokens == total


async def test_deepseek_reasoning_content_is_kept_as_thinking() -> None:
    factory = USAGE_CASES["deepseek"][0]
    response = await factory(serve("openai_compat/deepseek_reasoner.yaml")).complete(
        [Message.user("9.11 or 9.8?")]
    )
    assert response.message.thinking[0].text == "Compare the tenths: 1 < 8, so 9.11 < 9.8."


# -- 6: a 200 that is not the API's JSON is a retryable error ------------------------------

FACTORIES: dict[str, Callable[[Server], Any]] = {
    "anthropic": lambda s: AnthropicProvider(
        "claude-haiku-4-5", api_key="k", http_client=s.client()
    ),
    "openai": lambda s: OpenAIProvider("gpt-4o", api_key="k", http_client=s.client()),
    "openai-responses": lambda s: OpenAIResponsesProvider(
        "gpt-4o", api_key="k", http_client=s.client()
    ),
    "google": lambda s: GeminiProvider("gemini-2.5-flash", api_key="k", http_client=s.client()),
}
TRUNCATED = {"headers": {"content-type": "application/json"}, "text": '{"id": "msg_1", "conte'}
HTML = {
    "headers": {"content-type": "text/html; charset=utf-8"},
    "text": "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
}


@pytest.mark.parametrize("name", list(FACTORIES))
@pytest.mark.parametrize(
    ("body", "kind"), [(TRUNCATED, "connection"), (HTML, "server")], ids=["truncated", "html"]
)
@pytest.mark.parametrize("call", ["complete", "health_check"])
async def test_a_200_that_is_not_the_api_json_is_a_retryable_error(
    name: str, body: dict[str, Any], kind: str, call: str
) -> None:
    server = Server([response(body)])
    provider = FACTORIES[name](server)
    with pytest.raises(ProviderError) as info:
        if call == "complete":
            await provider.complete([Message.user("hi")])
        else:
            await provider.health_check()
    error = info.value
    assert (error.kind.value, error.retryable, error.provider) == (kind, True, name)
    assert ("HTML" in error.message) is (kind == "server")


# -- 7: an Anthropic tool input that is not an object -------------------------------------


async def test_an_anthropic_tool_input_that_is_not_an_object_is_a_tool_error() -> None:
    server = serve(
        "anthropic/tool_input_not_object.yaml",
        "anthropic/tool_input_not_object.yaml",
        "anthropic/weather_answer.yaml",
    )
    calls: list[str] = []

    @tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        calls.append(city)
        return "18 °C"

    provider = AnthropicProvider("claude-haiku-4-5", api_key="k", http_client=server.client())
    first = await provider.complete([Message.user("Paris?")], [get_weather.schema])
    (call,) = first.message.tool_calls
    assert call.arguments == {}
    assert call.arguments_error == 'tool call input must be a JSON object, got str: "Paris"'

    result = await Agent(provider=provider, tools=[get_weather]).run("Paris?")
    assert result.ok and calls == []  # the tool never ran with {}
    (returned,) = server.body(-1)["messages"][-1]["content"]
    assert returned["type"] == "tool_result" and returned["is_error"] is True
    assert "must be a JSON object" in returned["content"]
