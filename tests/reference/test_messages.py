"""Message, ModelResponse, Usage and ToolCall as the reference documents them."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from spine_core import FinishReason, Message, ModelResponse, Role, ToolCall, Usage

from .refkit import EMPTY, POS, documented

# -- Message ---------------------------------------------------------------------------------


def test_message_fields_and_defaults() -> None:
    message = Message(role=Role.USER)

    assert isinstance(message, BaseModel)
    assert message.role is Role.USER
    assert message.content is None
    assert message.parts is None
    assert message.tool_calls == []
    assert message.tool_call_id is None
    assert message.name is None


def test_message_role_accepts_the_enum_values() -> None:
    assert [r.value for r in (Role.SYSTEM, Role.USER, Role.ASSISTANT, Role.TOOL)] == [
        "system",
        "user",
        "assistant",
        "tool",
    ]
    assert Message(role="assistant", content="x").role is Role.ASSISTANT


def test_message_system() -> None:
    assert documented(Message.system, ("content", POS, EMPTY))
    message = Message.system("Be brief.")
    assert (message.role, message.content) == (Role.SYSTEM, "Be brief.")


def test_message_user() -> None:
    assert documented(Message.user, ("content", POS, EMPTY))
    message = Message.user("hello")
    assert (message.role, message.content, message.parts) == (Role.USER, "hello", None)


def test_message_user_parts() -> None:
    assert documented(Message.user_parts, ("parts", POS, EMPTY))
    parts = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image", "url": "https://example.com/cat.png"},
    ]

    message = Message.user_parts(parts)

    assert message.role is Role.USER
    assert message.content is None
    assert message.parts is not None and len(message.parts) == 2
    assert message.parts[0].type == "text"
    assert message.parts[1].type == "image"
    assert message.model_dump(exclude_none=True)["parts"] == parts


def test_message_parts_read_as_dicts_like_the_reference() -> None:
    message = Message.user_parts([{"type": "text", "text": "hi"}])
    assert message.parts is not None
    part = message.parts[0]
    assert part["type"] == "text"  # type: ignore[index]
    assert part["text"] == "hi"  # type: ignore[index]


def test_message_assistant() -> None:
    assert documented(Message.assistant, ("content", POS, None), ("tool_calls", POS, None))
    call = ToolCall(id="c1", name="search", arguments={"query": "x"})

    only_calls = Message.assistant(None, tool_calls=[call])
    positional = Message.assistant(None, [call])
    text = Message.assistant("done")
    empty = Message.assistant()

    assert only_calls.role is Role.ASSISTANT
    assert only_calls.content is None
    assert only_calls.tool_calls == [call]
    assert positional.tool_calls == [call]
    assert (text.content, text.tool_calls) == ("done", [])
    assert (empty.content, empty.tool_calls) == (None, [])


def test_message_tool() -> None:
    assert documented(
        Message.tool,
        ("content", POS, EMPTY),
        ("tool_call_id", POS, EMPTY),
        ("name", POS, None),
    )
    named = Message.tool("42", "call_1", "add")
    anonymous = Message.tool("42", "call_1")

    assert named.role is Role.TOOL
    assert (named.content, named.tool_call_id, named.name) == ("42", "call_1", "add")
    assert anonymous.name is None


def test_messages_are_mutable() -> None:
    message = Message.assistant("my number is 555-1234")
    message.content = "my number is [redacted]"
    message.tool_calls.append(ToolCall(id="c", name="t"))

    assert message.content == "my number is [redacted]"
    assert [c.name for c in message.tool_calls] == ["t"]


def test_message_round_trips_through_model_dump() -> None:
    message = Message.assistant(None, tool_calls=[ToolCall(id="c", name="t", arguments={"a": 1})])
    assert Message.model_validate(message.model_dump()) == message


# -- ToolCall --------------------------------------------------------------------------------


def test_tool_call_fields() -> None:
    call = ToolCall(id="c1", name="search", arguments={"query": "spine"})
    bare = ToolCall(id="c2", name="now")

    assert isinstance(call, BaseModel)
    assert (call.id, call.name, call.arguments) == ("c1", "search", {"query": "spine"})
    assert bare.arguments == {}


def test_tool_call_is_mutable() -> None:
    call = ToolCall(id="c1", name="search", arguments={"query": "a"})
    call.arguments["query"] = "b"
    call.name = "lookup"
    assert (call.name, call.arguments) == ("lookup", {"query": "b"})


# -- Usage -----------------------------------------------------------------------------------


def test_usage_fields_and_defaults() -> None:
    usage = Usage()
    assert (usage.input_tokens, usage.output_tokens, usage.cost_usd) == (0, 0, 0.0)
    assert usage.total_tokens == 0


def test_usage_total_tokens() -> None:
    assert Usage(input_tokens=7, output_tokens=5).total_tokens == 12


def test_usage_add_returns_a_new_sum() -> None:
    a = Usage(input_tokens=1, output_tokens=2, cost_usd=0.25)
    b = Usage(input_tokens=10, output_tokens=20, cost_usd=0.5)

    total = a + b

    assert (total.input_tokens, total.output_tokens, total.cost_usd) == (11, 22, 0.75)
    assert total is not a and total is not b
    assert (a.input_tokens, b.input_tokens) == (1, 10)  # operands unchanged


# -- ModelResponse ---------------------------------------------------------------------------


def test_model_response_fields_and_defaults() -> None:
    response = ModelResponse(message=Message.assistant("hi"))

    assert response.message.content == "hi"
    assert response.usage == Usage()
    assert response.raw is None


def test_model_response_raw_is_kept_but_not_serialised() -> None:
    payload = {"id": "msg_1", "provider": "native"}
    response = ModelResponse(message=Message.assistant("hi"), raw=payload)

    assert response.raw is payload
    assert "raw" not in response.model_dump()
    assert "msg_1" not in repr(response)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("end_turn", FinishReason.STOP),
        ("stop", FinishReason.STOP),
        ("stop_sequence", FinishReason.STOP),
        ("max_tokens", FinishReason.LENGTH),
        ("MAX_TOKENS", FinishReason.LENGTH),
        ("length", FinishReason.LENGTH),
        ("SAFETY", FinishReason.CONTENT_FILTER),
        ("content_filter", FinishReason.CONTENT_FILTER),
        ("tool_use", FinishReason.TOOL_CALLS),
        ("tool_calls", FinishReason.TOOL_CALLS),
        (None, FinishReason.STOP),
    ],
)
def test_model_response_accepts_raw_finish_reasons(raw: str | None, expected: str) -> None:
    response = ModelResponse(message=Message.assistant("x"), finish_reason=raw)
    assert response.finish_reason == expected


def test_model_response_none_finish_reason_with_tool_calls_means_tool_calls() -> None:
    message = Message.assistant(None, tool_calls=[ToolCall(id="c", name="t")])
    assert ModelResponse(message=message, finish_reason=None).finish_reason == "tool_calls"


def test_model_response_unknown_finish_reason_is_inferred() -> None:
    response = ModelResponse(message=Message.assistant("x"), finish_reason="something_new")
    assert response.finish_reason == "stop"


def test_model_response_documented_fields() -> None:
    assert "finish_reason" in ModelResponse.model_fields
    assert {"message", "usage", "finish_reason", "raw"} <= set(ModelResponse.model_fields)
