"""`tool`, `raw_tool` and `Tool` as the reference documents them."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from pydantic import BaseModel

from spine_core import Agent, Tool, ToolValidationError, raw_tool, tool

from .refkit import EMPTY, KW, POS, RefProvider, ask, documented, tool_results

pytestmark = pytest.mark.anyio

# -- @tool -----------------------------------------------------------------------------------


def test_tool_signature() -> None:
    assert documented(
        tool,
        ("func", POS, None),
        ("name", KW, None),
        ("description", KW, None),
        ("approve", KW, False),
    )


@tool
async def search(query: str) -> str:
    """Search the web."""
    return f"results for {query}"


@tool(approve=True)  # one flag enables HITL for this tool
async def transfer_funds(amount: int, to: str) -> str:
    """Move money."""
    return f"sent {amount} to {to}"


@tool(name="lookup", description="Find a record by key.")
def find(key: str, limit: int = 3) -> list[str]:
    """Ignored docstring."""
    return [f"{key}-{i}" for i in range(limit)]


def test_bare_decorator_builds_a_tool() -> None:
    assert isinstance(search, Tool)
    assert search.name == "search"
    assert search.description == "Search the web."
    assert search.approve is False
    assert search.parameters["type"] == "object"
    assert search.parameters["properties"]["query"]["type"] == "string"
    assert search.parameters["required"] == ["query"]
    assert "title" not in search.parameters


def test_decorator_with_approve() -> None:
    assert transfer_funds.approve is True
    assert transfer_funds.name == "transfer_funds"
    assert set(transfer_funds.parameters["properties"]) == {"amount", "to"}
    assert transfer_funds.parameters["properties"]["amount"]["type"] == "integer"
    assert sorted(transfer_funds.parameters["required"]) == ["amount", "to"]


def test_decorator_with_name_and_description() -> None:
    assert find.name == "lookup"
    assert find.description == "Find a record by key."
    assert find.parameters["required"] == ["key"]
    assert find.parameters["properties"]["limit"]["default"] == 3


def test_tool_called_as_a_function() -> None:
    async def ping() -> str:
        """Ping."""
        return "pong"

    built = tool(ping)
    assert isinstance(built, Tool)
    assert built.name == "ping"


async def test_decorated_async_tool_call() -> None:
    assert await search.call({"query": "spine"}) == "results for spine"


async def test_decorated_sync_tool_runs_off_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    @tool
    def where() -> str:
        """Report the thread."""
        seen.append(threading.get_ident())
        return "here"

    assert await where.call({}) == "here"
    assert seen and seen[0] != loop_thread


async def test_decorated_tool_validates_arguments() -> None:
    assert await find.call({"key": "k", "limit": "2"}) == ["k-0", "k-1"]  # coerced
    with pytest.raises(ToolValidationError):
        await find.call({"limit": 2})  # missing required key


async def test_tools_inside_a_run_get_the_model_arguments() -> None:
    provider = RefProvider([ask("search", query="anyio"), "found it"])
    agent = Agent(provider, tools=[search])

    result = await agent.run("look it up")

    assert result.answer == "found it"
    assert tool_results(result.state.messages) == [("search", "results for anyio")]


async def test_invalid_arguments_go_back_to_the_model_not_crash_the_run() -> None:
    provider = RefProvider([ask("search", wrong="x"), "sorry"])
    agent = Agent(provider, tools=[search])

    result = await agent.run("look it up")

    assert result.ok
    [(name, text)] = tool_results(result.state.messages)
    assert name == "search"
    assert text is not None and "query" in text


async def test_tool_exception_goes_back_to_the_model() -> None:
    @tool
    async def explode() -> str:
        """Fail."""
        raise ValueError("kaboom")

    provider = RefProvider([ask("explode"), "it failed"])
    result = await Agent(provider, tools=[explode]).run("go")

    assert result.answer == "it failed"
    [(_, text)] = tool_results(result.state.messages)
    assert text is not None and "kaboom" in text


# -- raw_tool --------------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
}


def test_raw_tool_signature() -> None:
    assert documented(
        raw_tool,
        ("name", POS, EMPTY),
        ("description", POS, EMPTY),
        ("parameters", POS, EMPTY),
        ("func", POS, EMPTY),
        ("approve", KW, False),
        ("is_async", KW, True),
    )


def test_raw_tool_builds_a_tool_with_the_given_schema() -> None:
    async def add(a: int, b: int) -> int:
        return a + b

    built = raw_tool("add", "Add two numbers.", SCHEMA, add)

    assert isinstance(built, Tool)
    assert built.schema == {"name": "add", "description": "Add two numbers.", "parameters": SCHEMA}
    assert built.approve is False
    assert raw_tool("add", "d", SCHEMA, add, approve=True).approve is True


async def test_raw_tool_calls_func_with_keyword_arguments() -> None:
    received: list[dict[str, object]] = []

    async def remote(**kwargs: object) -> str:
        received.append(kwargs)
        return "ok"

    built = raw_tool("remote", "Remote call.", SCHEMA, remote)

    assert await built.call({"a": 1, "b": 2}) == "ok"
    assert received == [{"a": 1, "b": 2}]


async def test_raw_tool_does_not_validate_arguments() -> None:
    async def remote(**kwargs: object) -> object:
        return kwargs

    built = raw_tool("remote", "Remote call.", SCHEMA, remote)
    # validation is delegated to the remote side: even schema-invalid args pass through
    assert await built.call({"a": "x", "extra": True}) == {"a": "x", "extra": True}


async def test_raw_tool_default_is_async_with_a_sync_function_works() -> None:
    # reference bug (DESIGN §6): raw_tool(is_async=True) by default awaited a sync result
    def add(a: int, b: int) -> int:
        return a + b

    built = raw_tool("add", "Add.", SCHEMA, add)

    assert await built.call({"a": 2, "b": 3}) == 5


@pytest.mark.parametrize("is_async", [True, False])
async def test_raw_tool_accepts_is_async(is_async: bool) -> None:
    def add_sync(a: int, b: int) -> int:
        return a + b

    async def add_async(a: int, b: int) -> int:
        return a + b

    for func in (add_sync, add_async):
        built = raw_tool("add", "Add.", SCHEMA, func, is_async=is_async)
        assert await built.call({"a": 20, "b": 22}) == 42


async def test_raw_tool_inside_a_run() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    provider = RefProvider([ask("add", a=4, b=5), "nine"])
    agent = Agent(provider, tools=[raw_tool("add", "Add.", SCHEMA, add)])

    result = await agent.run("4+5?")

    assert result.answer == "nine"
    assert tool_results(result.state.messages) == [("add", "9")]
    assert provider.calls[0]["tools"] == [
        {"name": "add", "description": "Add.", "parameters": SCHEMA}
    ]


# -- Tool ------------------------------------------------------------------------------------


def test_tool_is_a_dataclass_with_the_documented_fields() -> None:
    assert dataclasses.is_dataclass(Tool)
    names = [f.name for f in dataclasses.fields(Tool)]
    assert names[:7] == [
        "name",
        "description",
        "parameters",
        "func",
        "approve",
        "_model",
        "_is_async",
    ]


def _echo(text: str) -> str:
    return text.upper()


def test_tool_constructor_positional_and_defaults() -> None:
    built = Tool("echo", "Shout it back.", {"type": "object"}, _echo)

    assert (built.name, built.description, built.parameters) == (
        "echo",
        "Shout it back.",
        {"type": "object"},
    )
    assert built.func is _echo
    assert built.approve is False
    assert built._is_async is False


def test_tool_schema() -> None:
    params = {"type": "object", "properties": {"text": {"type": "string"}}}
    built = Tool(name="echo", description="Shout it back.", parameters=params, func=_echo)

    assert built.schema == {"name": "echo", "description": "Shout it back.", "parameters": params}


class EchoArgs(BaseModel):
    text: str
    times: int = 1


def test_tool_validate_with_a_model() -> None:
    built = Tool("echo", "Echo.", EchoArgs.model_json_schema(), _echo, _model=EchoArgs)

    assert built.validate({"text": "hi"}) == {"text": "hi", "times": 1}
    assert built.validate({"text": "hi", "times": "3"}) == {"text": "hi", "times": 3}
    with pytest.raises(ToolValidationError) as info:
        built.validate({"times": 2})
    assert "echo" in str(info.value)


async def test_tool_call_sync_func() -> None:
    built = Tool("echo", "Echo.", {"type": "object"}, _echo)
    assert await built.call({"text": "hi"}) == "HI"


async def test_tool_call_async_func() -> None:
    async def echo(text: str) -> str:
        return text * 2

    built = Tool("echo", "Echo.", {"type": "object"}, echo, _is_async=True)
    assert await built.call({"text": "ab"}) == "abab"


async def test_tool_call_detects_async_whatever_is_async_says() -> None:
    async def echo(text: str) -> str:
        return text + "!"

    assert await Tool("e", "d", {}, echo, _is_async=False).call({"text": "a"}) == "a!"
    assert await Tool("e", "d", {}, _echo, _is_async=True).call({"text": "a"}) == "A"


async def test_tool_call_validates_first() -> None:
    calls: list[str] = []

    def record(text: str, times: int = 1) -> str:
        calls.append(text)
        return text

    built = Tool("echo", "Echo.", {}, record, _model=EchoArgs)
    with pytest.raises(ToolValidationError):
        await built.call({"times": "many"})
    assert calls == []


async def test_tool_constructed_by_hand_works_in_a_run() -> None:
    built = Tool("echo", "Echo.", {"type": "object"}, _echo)
    provider = RefProvider([ask("echo", text="hey"), "done"])

    result = await Agent(provider, tools=[built]).run("go")

    assert tool_results(result.state.messages) == [("echo", "HEY")]
