"""Per-run options (Spine additions the issue asks for): deps, settings, model, system,
message_history — each for this run only, also with concurrent runs on one Agent."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any

import anyio
import pytest

from spine_core import (
    Agent,
    Message,
    Middleware,
    ModelResponse,
    Role,
    StepContext,
    ToolContext,
    tool,
)

from .refkit import EMPTY, KW, POS, RefProvider, ask, documented, tool_results

pytestmark = pytest.mark.anyio


@dataclass
class Deps:
    user: str
    db: dict[str, str]


@tool
async def whoami(ctx: ToolContext[Deps]) -> str:
    """Who is asking."""
    return ctx.deps.user


@tool
async def fetch(key: str, ctx: ToolContext) -> str:
    """Read the database."""
    return ctx.deps.db[key]


@pytest.mark.parametrize("method", [Agent.run, Agent.stream], ids=["run", "stream"])
def test_run_and_stream_accept_the_per_run_options(method: Any) -> None:
    assert documented(method, ("input", POS, EMPTY), ("session_id", KW, None))
    params = inspect.signature(method).parameters
    for option in ("deps", "settings", "model", "system", "message_history"):
        assert params[option].kind is KW
        assert params[option].default is None


# -- deps ------------------------------------------------------------------------------------


async def test_deps_reach_a_tool_through_its_tool_context_parameter() -> None:
    provider = RefProvider([ask("whoami"), ask("fetch", key="plan"), "done"])
    agent = Agent(provider, tools=[whoami, fetch])

    result = await agent.run("who am I?", deps=Deps(user="ada", db={"plan": "pro"}))

    assert tool_results(result.state.messages) == [("whoami", "ada"), ("fetch", "pro")]
    # the context parameter is hidden from the model
    assert whoami.parameters.get("properties", {}) == {}
    assert list(fetch.parameters["properties"]) == ["key"]


async def test_deps_reach_middleware_through_ctx_deps() -> None:
    seen: list[tuple[str, Any]] = []

    class See(Middleware):
        async def before_model(self, ctx: StepContext) -> None:
            seen.append(("model", ctx.deps))

        async def before_tool(self, ctx: ToolContext) -> None:
            seen.append(("tool", ctx.deps))

    deps = Deps(user="ada", db={})
    agent = Agent(RefProvider([ask("whoami"), "ok"]), tools=[whoami], middleware=[See()])
    await agent.run("x", deps=deps)

    assert seen == [("model", deps), ("tool", deps), ("model", deps)]


async def test_deps_are_per_run() -> None:
    provider = RefProvider([ask("whoami", "a"), "1", ask("whoami", "b"), "2"])
    agent = Agent(provider, tools=[whoami])

    first = await agent.run("x", deps=Deps(user="ada", db={}))
    second = await agent.run("x", deps=Deps(user="bob", db={}))

    assert tool_results(first.state.messages) == [("whoami", "ada")]
    assert tool_results(second.state.messages) == [("whoami", "bob")]


async def test_deps_reach_a_sub_agents_tools() -> None:
    child = Agent(RefProvider([ask("whoami"), "child done"]), name="child", tools=[whoami])
    parent = Agent(RefProvider([ask("child", input="go"), "parent done"]), tools=[child.as_tool()])

    await parent.run("x", deps=Deps(user="ada", db={}))

    assert isinstance(child.provider, RefProvider)
    assert tool_results(child.provider.prompts[-1]) == [("whoami", "ada")]


# -- settings / model / system ---------------------------------------------------------------


async def test_settings_apply_to_this_run_only() -> None:
    provider = RefProvider(["a", "b"])
    agent = Agent(provider)

    await agent.run("x", settings={"temperature": 0.1, "max_tokens": 50})
    await agent.run("y")

    assert provider.calls[0]["kwargs"] == {"temperature": 0.1, "max_tokens": 50}
    assert provider.calls[1]["kwargs"] == {}


async def test_model_applies_to_this_run_only() -> None:
    default, other = RefProvider(["default"]), RefProvider(["other"])
    agent = Agent(default)

    first = await agent.run("x", model=other)
    second = await agent.run("y")

    assert (first.answer, second.answer) == ("other", "default")
    assert agent.provider is default


async def test_model_string_applies_to_this_run_only() -> None:
    default = RefProvider(["default"])
    agent = Agent(default)

    result = await agent.run("ping", model="test")

    assert result.answer == "You said: ping"
    assert default.calls == []


async def test_system_applies_to_this_run_only_and_leaves_the_history() -> None:
    provider = RefProvider(["a", "b"])
    agent = Agent(provider, system="base prompt")

    first = await agent.run("x", session_id="s", system="special prompt")
    await agent.run("y", session_id="s")

    assert provider.prompts[0][0] == Message.system("special prompt")
    assert provider.prompts[1][0] == Message.system("base prompt")
    assert first.state.messages[0] == Message.system("base prompt")
    assert [m.role for m in provider.prompts[1]].count(Role.SYSTEM) == 1
    assert agent.system == "base prompt"


async def test_concurrent_runs_on_one_agent_do_not_see_each_others_options() -> None:
    both_in_flight = anyio.Event()
    seen: list[tuple[str, str | None, Any, Any]] = []

    class Gate:
        def __init__(self, label: str) -> None:
            self.label = label

        async def complete(
            self,
            messages: list[Message],
            tools: list[dict[str, Any]] | None = None,
            **kwargs: Any,
        ) -> ModelResponse:
            seen.append((self.label, messages[0].content, kwargs.get("temperature"), None))
            if len(seen) == 2:
                both_in_flight.set()
            await both_in_flight.wait()  # both runs are in flight before either answers
            return ModelResponse(message=Message.assistant(self.label))

    agent = Agent(Gate("default"), system="base")
    results: dict[str, Any] = {}

    async def go(key: str, **options: Any) -> None:
        results[key] = await agent.run(f"hi {key}", **options)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                functools.partial(
                    go, "a", model=Gate("A"), system="sys A", settings={"temperature": 0.1}
                )
            )
            tg.start_soon(
                functools.partial(
                    go, "b", model=Gate("B"), system="sys B", settings={"temperature": 0.9}
                )
            )

    assert sorted(seen) == [("A", "sys A", 0.1, None), ("B", "sys B", 0.9, None)]
    assert (results["a"].answer, results["b"].answer) == ("A", "B")
    assert results["a"].state.messages[0].content == "base"

    after = await agent.run("plain")
    assert after.answer == "default"
    assert seen[-1] == ("default", "base", None, None)


async def test_concurrent_runs_keep_their_own_deps() -> None:
    both = anyio.Event()
    arrived: list[str] = []

    @tool
    async def slow_whoami(ctx: ToolContext[Deps]) -> str:
        """Who is asking (waits for the other run)."""
        arrived.append(ctx.deps.user)
        if len(arrived) == 2:
            both.set()
        await both.wait()
        return ctx.deps.user

    def script() -> RefProvider:
        return RefProvider([ask("slow_whoami"), "done"])

    agent = Agent(RefProvider([]), tools=[slow_whoami])
    results: dict[str, Any] = {}

    async def go(user: str) -> None:
        results[user] = await agent.run("x", deps=Deps(user=user, db={}), model=script())

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(go, "ada")
            tg.start_soon(go, "bob")

    assert tool_results(results["ada"].state.messages) == [("slow_whoami", "ada")]
    assert tool_results(results["bob"].state.messages) == [("slow_whoami", "bob")]


# -- message_history -------------------------------------------------------------------------


async def test_message_history_seeds_a_new_session() -> None:
    history = [Message.user("My name is Ada."), Message.assistant("Hello Ada!")]
    provider = RefProvider(["You are Ada."])
    agent = Agent(provider, system="sys")

    result = await agent.run("What is my name?", message_history=history)

    assert [(m.role, m.content) for m in provider.prompts[0]] == [
        (Role.SYSTEM, "sys"),
        (Role.USER, "My name is Ada."),
        (Role.ASSISTANT, "Hello Ada!"),
        (Role.USER, "What is my name?"),
    ]
    assert [m.content for m in result.state.messages] == [
        "sys",
        "My name is Ada.",
        "Hello Ada!",
        "What is my name?",
        "You are Ada.",
    ]


async def test_message_history_is_ignored_for_an_existing_session() -> None:
    provider = RefProvider(["a", "b"])
    agent = Agent(provider)
    await agent.run("first", session_id="s")

    await agent.run("second", session_id="s", message_history=[Message.user("injected")])

    assert [m.content for m in provider.prompts[1]] == ["first", "a", "second"]


async def test_stream_takes_the_per_run_options() -> None:
    provider = RefProvider(["streamed"])
    agent = Agent(RefProvider([]))
    history = [Message.user("earlier")]

    events = [
        e
        async for e in agent.stream(
            "now", model=provider, system="s", settings={"seed": 1}, message_history=history
        )
    ]

    assert events
    assert agent.last_result is not None and agent.last_result.answer == "streamed"
    assert [m.content for m in provider.prompts[0]] == ["s", "earlier", "now"]
    assert provider.calls[0]["kwargs"] == {"seed": 1}
