"""Tools: schemas from type hints and docstrings, argument validation, errors as tool results,
worker threads for sync tools."""

from __future__ import annotations

import threading
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from spine_core import (
    Agent,
    Message,
    ScriptedProvider,
    ToolCall,
    ToolContext,
    ToolValidationError,
    raw_tool,
    tool,
    tool_output_text,
)

from .helpers import asks, call, tool_messages


@tool
def search(query: str, limit: int = 5, mode: Literal["fast", "deep"] = "fast") -> list[str]:
    """Search the catalogue.

    Longer explanation on a second line.

    Args:
        query: What to look for.
        limit: Maximum number of hits,
            counted after de-duplication.
        mode: Search strategy.

    Returns:
        Matching titles.
    """
    return [query] * limit


def test_schema_comes_from_type_hints_and_docstring() -> None:
    assert search.name == "search"
    assert search.description == "Search the catalogue. Longer explanation on a second line."
    assert search.parameters == {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to look for."},
            "limit": {
                "type": "integer",
                "default": 5,
                "description": "Maximum number of hits, counted after de-duplication.",
            },
            "mode": {
                "type": "string",
                "enum": ["fast", "deep"],
                "default": "fast",
                "description": "Search strategy.",
            },
        },
        "required": ["query"],
        "additionalProperties": False,
    }


def test_name_and_description_can_be_given_explicitly() -> None:
    @tool(name="find", description="Find things.")
    async def anything(x: int) -> int:
        """Ignored."""
        return x

    assert (anything.name, anything.description) == ("find", "Find things.")


def test_annotated_field_constraints_reach_the_schema() -> None:
    @tool
    async def pick(n: Annotated[int, Field(ge=1, le=3, description="How many.")]) -> int:
        """Pick."""
        return n

    assert pick.parameters["properties"]["n"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 3,
        "description": "How many.",
    }


def test_tool_context_parameter_is_hidden_from_the_schema() -> None:
    @tool
    async def whoami(greeting: str, ctx: ToolContext) -> str:
        """Say who calls."""
        return f"{greeting} {ctx.session_id}"

    assert list(whoami.parameters["properties"]) == ["greeting"]
    assert whoami.parameters["required"] == ["greeting"]


@pytest.mark.anyio
async def test_tool_context_is_injected_into_the_call() -> None:
    @tool
    async def whoami(greeting: str, ctx: ToolContext) -> str:
        """Say who calls."""
        return f"{greeting} {ctx.session_id} {ctx.call.id}"

    agent = Agent(ScriptedProvider([asks(call("whoami", greeting="hi")), "ok"]), tools=[whoami])

    result = await agent.run("go", session_id="s9")

    assert tool_messages(result.state.messages) == [("whoami", "hi s9 call_whoami", False)]


def test_var_args_are_rejected() -> None:
    with pytest.raises(TypeError, match=r"\*args"):

        @tool
        def bad(*items: str) -> str:
            """Nope."""
            return ""


def test_agent_rejects_an_undecorated_function() -> None:
    def plain(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="@tool"):
        Agent(ScriptedProvider([]), tools=[plain])  # type: ignore[list-item]


@pytest.mark.anyio
async def test_sync_tool_runs_in_a_worker_thread() -> None:
    threads: list[int] = []

    @tool
    def where() -> str:
        """Report the thread."""
        threads.append(threading.get_ident())
        return "here"

    agent = Agent(ScriptedProvider([asks(call("where")), "ok"]), tools=[where])

    await agent.run("go")

    assert threads and threads[0] != threading.get_ident()


@pytest.mark.anyio
async def test_invalid_arguments_become_a_tool_error_for_the_model() -> None:
    ran: list[Any] = []

    @tool
    async def square(n: int) -> int:
        """Square a number."""
        ran.append(n)
        return n * n

    provider = ScriptedProvider([asks(call("square", n="lots")), "sorry"])
    agent = Agent(provider, tools=[square])

    result = await agent.run("go")

    assert result.ok and ran == []
    [(_name, text, is_error)] = tool_messages(result.state.messages)
    assert is_error and text.startswith("Invalid arguments for tool 'square': n:")
    assert provider.prompts[1][-1].text == text


@pytest.mark.anyio
async def test_unexpected_argument_is_rejected() -> None:
    agent = Agent(
        ScriptedProvider([asks(call("search", query="q", colour="red")), "ok"]), tools=[search]
    )

    result = await agent.run("go")

    [(_, text, is_error)] = tool_messages(result.state.messages)
    assert is_error and "colour" in text


@pytest.mark.anyio
async def test_unknown_tool_becomes_a_tool_error_listing_the_tools() -> None:
    agent = Agent(ScriptedProvider([asks(call("delete_everything")), "ok"]), tools=[search])

    result = await agent.run("go")

    assert result.ok
    assert tool_messages(result.state.messages) == [
        ("delete_everything", "Unknown tool 'delete_everything'. Available tools: search.", True)
    ]


@pytest.mark.anyio
async def test_unparseable_arguments_from_the_provider_become_a_tool_error() -> None:
    broken = ToolCall(id="c1", name="search", arguments_error="Expecting ',' at char 12")
    agent = Agent(ScriptedProvider([asks(broken), "ok"]), tools=[search])

    result = await agent.run("go")

    assert tool_messages(result.state.messages) == [
        ("search", "Invalid arguments for tool 'search': Expecting ',' at char 12", True)
    ]


@pytest.mark.anyio
async def test_invoke_validates_and_raises_tool_validation_error() -> None:
    with pytest.raises(ToolValidationError) as info:
        await search.call({"limit": 2})

    assert info.value.tool == "search" and "query" in info.value.detail


@pytest.mark.anyio
async def test_raw_tool_receives_the_arguments_as_keywords_unvalidated() -> None:
    received: list[dict[str, Any]] = []

    async def handler(**arguments: Any) -> dict[str, Any]:
        received.append(arguments)
        return {"echo": arguments}

    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    echo = raw_tool("echo", "Echo the arguments.", schema, handler)
    agent = Agent(ScriptedProvider([asks(call("echo", x="not-an-int")), "ok"]), tools=[echo])

    result = await agent.run("go")

    assert echo.parameters is schema and echo.description == "Echo the arguments."
    assert received == [{"x": "not-an-int"}]
    assert tool_messages(result.state.messages) == [
        ("echo", '{"echo": {"x": "not-an-int"}}', False)
    ]


@pytest.mark.anyio
async def test_sync_raw_tool_runs_in_a_worker_thread() -> None:
    threads: list[int] = []

    def handler(n: int) -> str:
        threads.append(threading.get_ident())
        return f"ok {n}"

    # is_async=True is the documented default: a sync function must still work
    result = await raw_tool("h", "H.", {"type": "object"}, handler, is_async=True).call({"n": 1})

    assert result == "ok 1" and threads[0] != threading.get_ident()


class Point(BaseModel):
    x: int
    y: int


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        ({"a": [1, "é"]}, '{"a": [1, "é"]}'),
        (Point(x=1, y=2), '{"x":1,"y":2}'),
        (None, "null"),
    ],
)
def test_tool_output_text(value: Any, text: str) -> None:
    assert tool_output_text(value) == text


def test_tool_messages_refer_to_their_call() -> None:
    message = Message.tool("hits", "c7", "search", is_error=False)

    assert (message.tool_call_id, message.name, message.text) == ("c7", "search", "hits")
