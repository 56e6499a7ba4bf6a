"""Middleware: onion order, what each hook sees, and what its return value replaces."""

from __future__ import annotations

from typing import Any

import pytest

from spine_core import (
    Agent,
    Message,
    Middleware,
    ModelResponse,
    Result,
    ScriptedProvider,
    State,
    StepContext,
    Tool,
    ToolContext,
    tool,
)

from .helpers import asks, call, tool_messages


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def one_tool_then_answer() -> ScriptedProvider:
    return ScriptedProvider([asks(call("add", a=2, b=3)), "five"])


class Logging(Middleware):
    """Records every hook it receives into a shared log."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    async def on_run_start(self, state: State) -> None:
        self.log.append(f"{self.name}.on_run_start")

    async def before_model(self, ctx: StepContext) -> None:
        self.log.append(f"{self.name}.before_model")

    async def after_model(self, ctx: StepContext) -> None:
        self.log.append(f"{self.name}.after_model")

    async def before_tool(self, ctx: ToolContext) -> None:
        self.log.append(f"{self.name}.before_tool")

    async def after_tool(self, ctx: ToolContext) -> None:
        self.log.append(f"{self.name}.after_tool")

    async def on_error(self, ctx: Any, error: Exception) -> None:
        self.log.append(f"{self.name}.on_error")

    async def on_run_end(self, state: State, result: Result) -> None:
        self.log.append(f"{self.name}.on_run_end")


@pytest.mark.anyio
async def test_hooks_run_as_an_onion() -> None:
    log: list[str] = []
    agent = Agent(
        one_tool_then_answer(),
        tools=[add],
        middleware=[Logging("outer", log), Logging("inner", log)],
    )

    await agent.run("2+3")

    model_round = [
        "outer.before_model",
        "inner.before_model",
        "inner.after_model",
        "outer.after_model",
    ]
    assert log == [
        "outer.on_run_start",
        "inner.on_run_start",
        *model_round,
        "outer.before_tool",
        "inner.before_tool",
        "inner.after_tool",
        "outer.after_tool",
        *model_round,
        "inner.on_run_end",
        "outer.on_run_end",
    ]


@pytest.mark.anyio
async def test_on_error_runs_inner_to_outer() -> None:
    @tool
    async def broken() -> str:
        """Fail."""
        raise ValueError("nope")

    log: list[str] = []
    agent = Agent(
        ScriptedProvider([asks(call("broken")), "sorry"]),
        tools=[broken],
        middleware=[Logging("outer", log), Logging("inner", log)],
    )

    await agent.run("go")

    assert [e for e in log if e.endswith("on_error")] == ["inner.on_error", "outer.on_error"]


@pytest.mark.anyio
async def test_step_context_describes_the_next_model_call() -> None:
    seen: list[dict[str, Any]] = []

    class Spy(Middleware):
        async def before_model(self, ctx: StepContext) -> None:
            seen.append(
                dict(
                    agent=ctx.agent,
                    step=ctx.step,
                    session_id=ctx.session_id,
                    tenant_id=ctx.tenant_id,
                    depth=ctx.depth,
                    messages=[m.text for m in ctx.messages],
                    tools=[t.name for t in ctx.tools],
                    settings=dict(ctx.settings),
                    provider=ctx.provider,
                    attempt=ctx.attempt,
                )
            )

    provider = one_tool_then_answer()
    agent = Agent(
        provider,
        tools=[add],
        middleware=[Spy()],
        system="sys",
        name="calc",
        tenant_id="acme",
        settings={"temperature": 0.0},
    )

    result = await agent.run("2+3", session_id="s1")

    first, second = seen
    assert first == dict(
        agent="calc",
        step=1,
        session_id="s1",
        tenant_id="acme",
        depth=0,
        messages=["sys", "2+3"],  # the system prompt is the session's first message
        tools=["add"],
        settings={"temperature": 0.0},
        provider=provider,
        attempt=0,
    )
    assert second["step"] == 2
    assert second["messages"] == ["sys", "2+3", "", "5"]
    assert result.answer == "five"


@pytest.mark.anyio
async def test_tool_context_carries_the_call_the_tool_and_its_arguments() -> None:
    seen: list[tuple[str, Tool | None, dict[str, Any], str]] = []

    class Spy(Middleware):
        async def before_tool(self, ctx: ToolContext) -> None:
            seen.append((ctx.call.id, ctx.tool, dict(ctx.args), ctx.session_id))

    agent = Agent(one_tool_then_answer(), tools=[add], middleware=[Spy()])

    await agent.run("2+3", session_id="s1")

    assert seen == [("call_add", add, {"a": 2, "b": 3}, "s1")]


@pytest.mark.anyio
async def test_before_model_hooks_may_trim_what_the_provider_sees_without_touching_history() -> (
    None
):
    class KeepLast(Middleware):
        async def before_model(self, ctx: StepContext) -> None:
            ctx.messages = ctx.messages[-1:]

    provider = ScriptedProvider(["ok"])
    agent = Agent(provider, system="long system prompt", middleware=[KeepLast()])

    result = await agent.run("question")

    assert [m.text for m in provider.prompts[0]] == ["question"]
    assert [m.text for m in result.state.messages] == ["long system prompt", "question", "ok"]


@pytest.mark.anyio
async def test_duck_typed_middleware_with_one_hook_is_called() -> None:
    class Upper:  # not a Middleware subclass, only one hook
        async def after_tool(self, ctx: ToolContext) -> None:
            ctx.result = f"<{ctx.result}>"

    provider = one_tool_then_answer()
    agent = Agent(provider, tools=[add], middleware=[Upper()])

    result = await agent.run("2+3")

    assert tool_messages(result.state.messages) == [("add", "<5>", False)]


@pytest.mark.anyio
async def test_before_model_response_short_circuits_the_provider() -> None:
    class Cached(Middleware):
        async def before_model(self, ctx: StepContext) -> None:
            ctx.response = ModelResponse(message=Message.assistant("from cache"), cached=True)

    provider = ScriptedProvider([])  # would raise if called
    agent = Agent(provider, middleware=[Cached()])

    result = await agent.run("hi")

    assert result.answer == "from cache"
    assert provider.calls == []


@pytest.mark.anyio
async def test_short_circuit_skips_inner_before_model_hooks() -> None:
    log: list[str] = []

    class Cached(Middleware):
        async def before_model(self, ctx: StepContext) -> None:
            ctx.response = ModelResponse(message=Message.assistant("cached"))

    agent = Agent(ScriptedProvider([]), middleware=[Cached(), Logging("inner", log)])

    await agent.run("hi")

    assert "inner.before_model" not in log
    assert "inner.after_model" in log


@pytest.mark.anyio
async def test_after_model_replaces_the_response() -> None:
    class Redact(Middleware):
        async def after_model(self, ctx: StepContext) -> None:
            assert ctx.response is not None
            text = ctx.response.message.text.replace("secret", "[redacted]")
            ctx.response = ctx.response.model_copy(update={"message": Message.assistant(text)})

    agent = Agent(ScriptedProvider(["the secret is 42"]), middleware=[Redact()])

    result = await agent.run("tell me")

    assert result.answer == "the [redacted] is 42"
    assert result.state.messages[-1].text == "the [redacted] is 42"


@pytest.mark.anyio
async def test_before_tool_result_short_circuits_the_tool() -> None:
    ran: list[int] = []

    @tool
    async def expensive(n: int) -> str:
        """Costly."""
        ran.append(n)
        return "computed"

    class Memo(Middleware):
        async def before_tool(self, ctx: ToolContext) -> None:
            ctx.result, ctx.skip = "memoised", True

    agent = Agent(
        ScriptedProvider([asks(call("expensive", n=1)), "done"]),
        tools=[expensive],
        middleware=[Memo()],
    )

    result = await agent.run("go")

    assert ran == []
    assert tool_messages(result.state.messages) == [("expensive", "memoised", False)]


@pytest.mark.anyio
async def test_before_tool_answer_flagged_as_error_reaches_the_model_as_a_tool_error() -> None:
    seen: list[bool] = []

    @tool
    async def fetch(n: int) -> str:
        """Fetch."""
        return "fetched"

    class Deny(Middleware):
        async def before_tool(self, ctx: ToolContext) -> None:
            ctx.result, ctx.skip, ctx.is_error = "fetch is disabled here", True, True

        async def after_tool(self, ctx: ToolContext) -> None:
            seen.append(ctx.is_error)

    agent = Agent(
        ScriptedProvider([asks(call("fetch", n=1)), "done"]), tools=[fetch], middleware=[Deny()]
    )

    result = await agent.run("go")

    assert tool_messages(result.state.messages) == [("fetch", "fetch is disabled here", True)]
    assert seen == [True]
    assert [e.data["is_error"] for e in result.trace if e.type == "tool_result"] == [True]


@pytest.mark.anyio
async def test_after_tool_replaces_the_result_and_sees_the_error_flag() -> None:
    flags: list[bool] = []

    class Tag(Middleware):
        async def after_tool(self, ctx: ToolContext) -> None:
            flags.append(ctx.is_error or ctx.error is not None)
            ctx.result = f"{ctx.result} (checked)"

    agent = Agent(one_tool_then_answer(), tools=[add], middleware=[Tag()])

    result = await agent.run("2+3")

    assert tool_messages(result.state.messages) == [("add", "5 (checked)", False)]
    assert flags == [False]


@pytest.mark.anyio
async def test_before_tool_may_rewrite_the_arguments() -> None:
    class Double(Middleware):
        async def before_tool(self, ctx: ToolContext) -> None:
            ctx.args = {k: v * 2 for k, v in ctx.args.items()}

    agent = Agent(one_tool_then_answer(), tools=[add], middleware=[Double()])

    result = await agent.run("2+3")

    assert tool_messages(result.state.messages) == [("add", "10", False)]


@pytest.mark.anyio
async def test_on_run_end_may_replace_the_result() -> None:
    class Stamp(Middleware):
        async def on_run_end(self, state: State, result: Result) -> Result:
            return result.model_copy(update={"answer": f"{result.answer} [reviewed]"})

    agent = Agent(ScriptedProvider(["fine"]), middleware=[Stamp()])

    result = await agent.run("hi")

    assert result.answer == "fine [reviewed]"
    assert agent.last_result is result


@pytest.mark.anyio
async def test_extra_is_per_run_storage_shared_by_hooks() -> None:
    seen: list[dict[str, Any]] = []

    class Count(Middleware):
        async def before_model(self, ctx: StepContext) -> None:
            ctx.extra["calls"] = ctx.extra.get("calls", 0) + 1
            seen.append(ctx.extra)

        async def before_tool(self, ctx: ToolContext) -> None:
            ctx.extra["tools"] = ctx.extra.get("calls")

    agent = Agent(one_tool_then_answer(), tools=[add], middleware=[Count()])
    await agent.run("2+3")
    await agent.run("again")  # a new run starts with empty storage

    assert seen[0] is seen[1] and seen[0] == {"calls": 2, "tools": 1}
    assert seen[2] is not seen[0] and seen[2]["calls"] == 1


@pytest.mark.anyio
async def test_a_hook_editing_settings_changes_this_call_only() -> None:
    class Hot(Middleware):
        async def before_model(self, ctx: StepContext) -> None:
            ctx.settings["temperature"] = 1.5
            ctx.settings.pop("seed", None)

    provider = ScriptedProvider(["a", "b"])
    agent = Agent(provider, middleware=[Hot()], settings={"temperature": 0.0, "seed": 7})

    await agent.run("one")
    await agent.run("two", settings={"top_p": 0.5})

    assert agent.settings == {"temperature": 0.0, "seed": 7}  # the agent's dict is untouched
    assert [c.settings for c in provider.calls] == [
        {"temperature": 1.5},
        {"temperature": 1.5, "top_p": 0.5},
    ]


@pytest.mark.anyio
async def test_on_run_end_runs_before_a_checkpoint_conflict_propagates() -> None:
    from spine_core import CheckpointConflict, InMemoryCheckpointStore

    ended: list[str | None] = []

    class Observe(Middleware):
        async def on_run_end(self, state: State, result: Result) -> None:
            ended.append(result.error)

    class Racing(InMemoryCheckpointStore):
        async def put(self, state: State) -> None:
            if len(state.messages) > 1:  # another worker wins the session's next revision
                raise CheckpointConflict(state.session_id, state.revision, state.revision + 1)
            await super().put(state)

    agent = Agent(ScriptedProvider(["hi"]), middleware=[Observe()], checkpoint=Racing())

    with pytest.raises(CheckpointConflict):
        await agent.run("go")
    assert len(ended) == 1 and ended[0] is not None and "checkpoint conflict" in ended[0]


def test_a_response_with_tool_calls_and_no_finish_reason_finishes_with_tool_calls() -> None:
    response = ModelResponse(message=asks(call("add", a=1, b=2)))
    assert response.finish_reason == "tool_calls"
    assert ModelResponse(message=Message.assistant("done")).finish_reason == "stop"
    assert (
        ModelResponse(message=Message.assistant("x"), finish_reason="end_turn").finish_reason
        == "stop"
    )
