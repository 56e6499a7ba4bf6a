"""The kernel contract on the wire, for every provider through its real SDK: tools arrive as
`Tool.schema` dicts, `Message.content` / `Message.parts` may be None, tool results are built
with `Message.tool(content, tool_call_id, name=None)`, and answers without text come back with
`content=None`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from spine_core import Message, Role, ToolCall, tool
from spine_providers import (
    AnthropicProvider,
    GeminiProvider,
    OpenAIProvider,
    OpenAIResponsesProvider,
)

from .fakes import Server, serve

pytestmark = pytest.mark.anyio


@tool
def lookup(q: str) -> str:
    """Look something up."""
    return q


# provider name -> (factory, a fixture with a plain text answer)
CASES: dict[str, tuple[Callable[[Server], Any], str]] = {
    "anthropic": (
        lambda s: AnthropicProvider("claude-haiku-4-5", api_key="k", http_client=s.client()),
        "anthropic/text.yaml",
    ),
    "openai": (
        lambda s: OpenAIProvider("gpt-4o", api_key="k", http_client=s.client()),
        "openai_chat/text.yaml",
    ),
    "openai-responses": (
        lambda s: OpenAIResponsesProvider("o3-mini", api_key="k", http_client=s.client()),
        "openai_responses/reasoning.yaml",
    ),
    "google": (
        lambda s: GeminiProvider("gemini-2.5-flash", api_key="k", http_client=s.client()),
        "gemini/text.yaml",
    ),
}


def _conversation() -> list[Message]:
    """A tool round trip using every None the new message model allows."""
    return [
        Message.system("Be brief."),
        Message(role=Role.USER, content="hi", parts=None),
        Message.assistant(None, [ToolCall(id="call_1", name="lookup", arguments={"q": "x"})]),
        Message.tool("42", "call_1"),  # no name: the providers that need one look it up
        Message.user_parts([{"type": "text", "text": "and?"}]),
        Message(role=Role.USER),  # neither content nor parts: sent as empty text
    ]


def _tools_on_wire(name: str, body: dict[str, Any]) -> list[tuple[str, str, Any]]:
    if name == "anthropic":
        return [(t["name"], t["description"], t["input_schema"]) for t in body["tools"]]
    if name == "openai":
        return [
            (t["function"]["name"], t["function"]["description"], t["function"]["parameters"])
            for t in body["tools"]
        ]
    if name == "openai-responses":
        return [(t["name"], t["description"], t["parameters"]) for t in body["tools"]]
    declarations = body["tools"][0]["functionDeclarations"]
    return [(f["name"], f["description"], f["parameters_json_schema"]) for f in declarations]


def _messages_on_wire(name: str, body: dict[str, Any]) -> Any:
    if name == "anthropic":
        return body["system"], body["messages"]
    if name == "openai":
        return body["messages"]
    if name == "openai-responses":
        return body["instructions"], body["input"]
    return body["systemInstruction"], body["contents"]


EXPECTED_MESSAGES: dict[str, Any] = {
    "anthropic": (
        "Be brief.",
        [
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "call_1", "name": "lookup", "input": {"q": "x"}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_1",
                        "content": "42",
                        "is_error": False,
                    },
                    {"type": "text", "text": "and?"},
                    {"type": "text", "text": ""},
                ],
            },
        ],
    ),
    "openai": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q":"x"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        {"role": "user", "content": [{"type": "text", "text": "and?"}]},
        {"role": "user", "content": ""},
    ],
    "openai-responses": (
        "Be brief.",
        [
            {"role": "user", "content": "hi"},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "lookup",
                "arguments": '{"q":"x"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "42"},
            {"role": "user", "content": [{"type": "input_text", "text": "and?"}]},
            {"role": "user", "content": ""},
        ],
    ),
    "google": (
        {"parts": [{"text": "Be brief."}], "role": "user"},
        [
            {"role": "user", "parts": [{"text": "hi"}]},
            {
                "role": "model",
                "parts": [{"functionCall": {"id": "call_1", "name": "lookup", "args": {"q": "x"}}}],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "id": "call_1",
                            "name": "lookup",
                            "response": {"output": "42"},
                        }
                    },
                    {"text": "and?"},
                    {"text": ""},
                ],
            },
        ],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("as_objects", [False, True], ids=["schema-dicts", "tool-objects"])
async def test_tool_dicts_and_none_content_on_the_wire(name: str, as_objects: bool) -> None:
    factory, fixture = CASES[name]
    server = serve(fixture)
    tools: list[Any] = [lookup] if as_objects else [lookup.schema]
    response = await factory(server).complete(_conversation(), tools)
    assert response.message.content  # the fixture's plain answer
    body = server.body()
    assert _tools_on_wire(name, body) == [
        ("lookup", "Look something up.", lookup.schema["parameters"])
    ]
    assert _messages_on_wire(name, body) == EXPECTED_MESSAGES[name]


@pytest.mark.parametrize("name", list(CASES))
async def test_tools_default_to_none_and_minimal_declarations_are_completed(name: str) -> None:
    factory, fixture = CASES[name]
    server = serve(fixture)
    provider = factory(server)
    await provider.complete([Message.user("hi")])  # tools omitted
    assert "tools" not in server.body(0) and "tools" not in server.body(0).get(
        "generationConfig", {}
    )
    request = provider.build_request([Message.user("hi")], [{"name": "ping"}], {})
    wire = json.dumps(request, default=str)
    assert '"ping"' in wire and '"properties": {}' in wire


async def test_a_tool_entry_that_is_not_a_schema_is_refused() -> None:
    provider = OpenAIProvider("gpt-4o", api_key="k")
    with pytest.raises(TypeError, match="tool schema dicts"):
        provider.build_request([Message.user("hi")], [object()], {})  # type: ignore[list-item]


def _openai_tool_call_only() -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "id": "c",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "lookup", "arguments": '{"q":"x"}'},
                            }
                        ],
                    },
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        },
    )


async def test_a_tool_call_only_answer_has_no_content_and_replays_as_null() -> None:
    server = Server([_openai_tool_call_only(), _openai_tool_call_only()])
    provider = OpenAIProvider("gpt-4o", api_key="k", http_client=server.client())
    first = await provider.complete([Message.user("hi")], [lookup.schema])
    assert first.message.content is None and first.message.text == ""
    assert first.message.parts is None
    (call,) = first.message.tool_calls
    await provider.complete(
        [Message.user("hi"), first.message, Message.tool("x", call.id, call.name)],
        [lookup.schema],
    )
    assert server.body(1)["messages"][1]["content"] is None
