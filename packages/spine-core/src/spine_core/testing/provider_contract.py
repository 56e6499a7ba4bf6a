"""Conformance kit for `Provider` implementations.

Subclass `ProviderContract` and provide a `provider` fixture that answers offline (for an HTTP
provider: its SDK pointed at a local transport serving recorded replies). Every answer the
fixture gives must be a plain assistant reply; the contract checks the shape of what comes
back, not its words:

    import pytest
    from spine_core.testing import ProviderContract

    class TestMyProvider(ProviderContract):
        @pytest.fixture
        def provider(self):
            return MyProvider("my-model", http_client=local_client())
"""

from __future__ import annotations

from typing import Any

import pytest

from ..messages import FinishReason, Message, ModelResponse, Role, ToolCall
from ..provider import ChunkType, Provider, StreamChunk, provider_model, provider_name
from ..tools import tool

__all__ = ["ProviderContract"]


@tool
def lookup(query: str, limit: int = 3) -> str:
    """Look something up.

    Args:
        query: What to look up.
        limit: Most results to return.
    """
    return query


def _history() -> list[Message]:
    call = ToolCall(id="call_contract_1", name="lookup", arguments={"query": "spine"})
    return [
        Message.system("You are terse."),
        Message.user("Look up spine."),
        Message.assistant(tool_calls=[call]),
        Message.tool("Spine is an agent framework.", call.id, call.name),
        Message.user("Summarise in one sentence."),
    ]


@pytest.mark.anyio
class ProviderContract:
    """Contract tests every `Provider` must pass (run with the `provider` fixture)."""

    @pytest.fixture
    def provider(self) -> Provider:
        raise pytest.UsageError("define a `provider` fixture in your ProviderContract subclass")

    def _check(self, response: Any) -> ModelResponse:
        assert isinstance(response, ModelResponse)
        assert response.message.role is Role.ASSISTANT
        assert isinstance(response.finish_reason, FinishReason)
        usage = response.usage
        for value in (usage.input_tokens, usage.output_tokens, usage.cost_usd):
            assert value >= 0
        return response

    def test_identifies_itself(self, provider: Provider) -> None:
        assert isinstance(provider, Provider)
        assert provider_name(provider) and provider_model(provider)

    async def test_complete_answers_a_user_message(self, provider: Provider) -> None:
        self._check(await provider.complete([Message.user("Say hello.")], []))

    async def test_accepts_a_tool_conversation_with_tools(self, provider: Provider) -> None:
        self._check(await provider.complete(_history(), [lookup.schema]))

    async def test_accepts_the_standard_settings(self, provider: Provider) -> None:
        response = await provider.complete(
            [Message.user("Say hello.")],
            [lookup.schema],
            temperature=0.0,
            max_tokens=64,
            tool_choice="auto",
        )
        self._check(response)

    async def test_stream_ends_with_one_response_matching_the_deltas(
        self, provider: Provider
    ) -> None:
        stream = getattr(provider, "stream", None)
        if stream is None:
            pytest.skip("provider does not stream")
        chunks: list[StreamChunk] = [c async for c in stream([Message.user("Say hello.")], [])]
        finals = [c for c in chunks if c.type is ChunkType.RESPONSE]
        assert len(finals) == 1 and chunks[-1] is finals[0]
        assert finals[0].response is not None
        response = self._check(finals[0].response)
        text = "".join(c.delta for c in chunks if c.type is ChunkType.TEXT)
        assert text == response.message.text
