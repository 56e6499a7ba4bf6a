"""Benchmark the spine-providers conversion layer against the SDKs' own request building.

Run: `python bench/providers.py`. For a 50-message conversation with 5 tools it prints, per
provider, microseconds per call for: the adapter building the request (messages -> SDK
arguments), the adapter parsing a response (SDK object -> ModelResponse), the SDK's own
request building (`_build_request`: body transform, headers, JSON encoding), and a whole SDK
call over an in-memory transport (transform, send, decode, parse) for scale. Nothing touches
the network.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx2

from spine_core import Message, ToolCall
from spine_providers import (
    AnthropicProvider,
    GeminiProvider,
    OpenAIProvider,
    OpenAIResponsesProvider,
)


def spec(i: int) -> dict[str, Any]:
    """A tool declaration as the kernel passes it (`Tool.schema`)."""
    return {
        "name": f"tool_{i}",
        "description": f"Tool number {i}.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    }


TOOLS = [spec(i) for i in range(5)]


def conversation() -> list[Message]:
    messages = [Message.system("You are a helpful assistant.")]
    while len(messages) < 50:
        n = len(messages)
        messages.append(Message.user(f"Question {n}: what is the weather in Paris?"))
        call = ToolCall(id=f"call_{n}", name="tool_1", arguments={"city": "Paris", "days": 3})
        messages.append(Message.assistant("Let me check.", tool_calls=[call]))
        messages.append(Message.tool("Sunny, 21 C", call.id, call.name))
        messages.append(Message.assistant(f"It is sunny in Paris ({n})."))
    return messages[:50]


RESPONSES: dict[str, dict[str, Any]] = {
    "anthropic": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [
            {"type": "text", "text": "Sunny."},
            {"type": "tool_use", "id": "toolu_1", "name": "tool_1", "input": {"city": "Paris"}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 900, "output_tokens": 40},
    },
    "openai": {
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
                    "content": "Sunny.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "tool_1", "arguments": '{"city":"Paris"}'},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940},
    },
    "openai-responses": {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "gpt-4o",
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "Sunny.", "annotations": []}],
            },
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "tool_1",
                "arguments": '{"city":"Paris"}',
                "status": "completed",
            },
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 900,
            "output_tokens": 40,
            "total_tokens": 940,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    },
    "google": {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Sunny."},
                        {"functionCall": {"name": "tool_1", "args": {"city": "Paris"}}},
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 900, "candidatesTokenCount": 40},
        "modelVersion": "gemini-2.5-flash",
    },
}


def per_call_us(fn: Callable[[], Any], *, repeat: int = 2000) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1e6


async def per_call_us_async(fn: Callable[[], Any], *, repeat: int = 300) -> float:
    await fn()
    start = time.perf_counter()
    for _ in range(repeat):
        await fn()
    return (time.perf_counter() - start) / repeat * 1e6


async def main() -> None:
    messages = conversation()
    providers: dict[str, Any] = {}
    for name, cls, model in (
        ("anthropic", AnthropicProvider, "claude-haiku-4-5"),
        ("openai", OpenAIProvider, "gpt-4o"),
        ("openai-responses", OpenAIResponsesProvider, "gpt-4o"),
        ("google", GeminiProvider, "gemini-2.5-flash"),
    ):
        body = json.dumps(RESPONSES[name]).encode()
        transport = httpx2.MockTransport(
            lambda _r, b=body: httpx2.Response(
                200, headers={"content-type": "application/json"}, content=b
            )
        )
        providers[name] = cls(
            model, api_key="bench", http_client=httpx2.AsyncClient(transport=transport)
        )

    print(f"50-message conversation, {len(TOOLS)} tools; microseconds per call\n")
    header = (
        f"{'provider':<18}{'adapter build':>15}{'adapter parse':>15}"
        f"{'SDK build':>12}{'SDK call (mock)':>17}"
    )
    print(header)
    print("-" * len(header))
    for name, provider in providers.items():
        request = provider.build_request(messages, TOOLS, {"tool_choice": "auto"})
        raw = await provider._send(request)
        build = per_call_us(
            lambda p=provider: p.build_request(messages, TOOLS, {"tool_choice": "auto"})
        )
        parse = per_call_us(lambda p=provider, r=raw: p.parse_response(r, {}))
        sdk_build = "n/a"
        if name in ("anthropic", "openai", "openai-responses"):
            module = __import__(
                "anthropic._models" if name == "anthropic" else "openai._models", fromlist=["x"]
            )
            url = {
                "anthropic": "/v1/messages",
                "openai": "/chat/completions",
                "openai-responses": "/responses",
            }[name]
            body = {k: v for k, v in request.items() if k != "extra_body"}
            options = module.FinalRequestOptions.construct(method="post", url=url, json_data=body)
            client = provider.client
            sdk_build = f"{per_call_us(lambda c=client, o=options: c._build_request(o)):.1f}"
        call = await per_call_us_async(lambda p=provider, r=request: p._send(r))
        print(f"{name:<18}{build:>15.1f}{parse:>15.1f}{sdk_build:>12}{call:>17.1f}")
        await provider.aclose()


if __name__ == "__main__":
    anyio.run(main)
