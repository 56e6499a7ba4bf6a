"""Middleware, StepContext, ToolContext, ErrorAction and StopRun as the reference defines them,
and a middleware written to the reference's hook signatures working inside real runs."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from spine_core import (
    Agent,
    ErrorAction,
    Message,
    Middleware,
    ModelResponse,
    Result,
    Role,
    RunStatus,
    SpineError,
    State,
    StepContext,
    StopReason,
    StopRun,
    ToolCall,
    ToolContext,
    Usage,
    tool,
)
from spine_core.middleware import StepContext as StepContextFromModule
from spine_core.middleware import ToolContext as ToolContextFromModule

from .refkit import EMPTY, POS, RefProvider, ask, documented, respond, tool_results

pytestmark = pytest.mark.anyio

executed: list[str] = []


@pytest.fixture(autouse=True)
def _reset() -> None:
    executed.clear()


@tool
async def lookup(key: str) -> str:
    """Look a key up."""
    executed.append(key)
    return f"value of {key}"


@tool
async def broken() -> str:
    """Always fails."""
    executed.append("broken")
    raise ValueError("disk on fire")


# -- a middleware written exactly to the reference's hooks -----------------------------------


class Recorder(Middleware):
    """Every hook, with the reference's signature; records what it saw."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.states: list[State] = []
        self.start_messages: list[list[str | None]] = []
        self.results: list[Result] = []
        self.responses: list[ModelResponse] = []
        self.tool_results: list[Any] = []

    async def on_run_start(self, state: State) -> None:
        self.log.append("on_run_start")
        self.states.append(state)
        self.start_messages.append([m.content for m in state.messages])

    async def on_run_end(self, state: State, result: Result) -> None:
        self.log.append("on_run_end")
        self.results.append(result)

    async def before_model(self, ctx: StepContext) -> None:
        self.log.append("before_model")

    async def after_model(self, ctx: StepContext) -> None:
        assert ctx.response is not None
        self.log.append("after_model")
        self.responses.append(ctx.response)

    async def before_tool(self, ctx: ToolContext) -> None:
        self.log.append(f"before_tool:{ctx.call.name}")

    async def after_tool(self, ctx: ToolContext) -> None:
        self.log.append(f"after_tool:{ctx.call.name}")
        self.tool_results.append(ctx.result)

    async def on_error(self, ctx: StepContext, err: Exception) -> ErrorAction | None:
        self.log.append("on_error")
        return None


async def test_reference_middleware_hooks_run_in_order_inside_a_run() -> None:
    recorder = Recorder()
    agent = Agent(RefProvider([ask("lookup", key="k"), "done"]), tools=[lookup])
    agent.chain.add(recorder)

    result = await agent.run("go")

    assert result.answer == "done"
    assert recorder.log == [
        "on_run_start",
        "before_model",
        "after_model",
        "before_tool:lookup",
        "after_tool:lookup",
        "before_model",
        "after_model",
        "on_run_end",
    ]
    assert recorder.results == [result]
    assert recorder.tool_results == ["value of k"]
    assert [r.message.content for r in recorder.responses] == [None, "done"]


async def test_on_run_start_sees_the_state_with_the_input_added() -> None:
    recorder = Recorder()
    agent = Agent(RefProvider(["hi"]), middleware=[recorder], system="sys")

    result = await agent.run("hello")

    [state] = recorder.states
    assert isinstance(state, State)
    assert state.session_id == result.state.session_id
    assert recorder.start_messages == [["sys", "hello"]]


async def test_on_run_end_gets_the_result_and_returning_none_keeps_it() -> None:
    recorder = Recorder()
    result = await Agent(RefProvider(["hi"]), middleware=[recorder]).run("hello")

    assert recorder.results[0].answer == "hi"
    assert result.answer == "hi"


async def test_duck_typed_middleware_with_some_hooks_works() -> None:
    seen: list[str] = []

    class OnlyAfterModel:  # not a Middleware subclass
        async def after_model(self, ctx: StepContext) -> None:
            assert ctx.response is not None
            seen.append(ctx.response.message.content or "")

    result = await Agent(RefProvider(["hi"]), middleware=[OnlyAfterModel()]).run("x")

    assert result.ok
    assert seen == ["hi"]


async def test_middleware_is_an_onion() -> None:
    log: list[str] = []

    class Layer(Middleware):
        def __init__(self, name: str) -> None:
            self.name = name

        async def before_model(self, ctx: StepContext) -> None:
            log.append(f"{self.name}.before_model")

        async def after_model(self, ctx: StepContext) -> None:
            log.append(f"{self.name}.after_model")

        async def before_tool(self, ctx: ToolContext) -> None:
            log.append(f"{self.name}.before_tool")

        async def after_tool(self, ctx: ToolContext) -> None:
            log.append(f"{self.name}.after_tool")

    agent = Agent(
        RefProvider([ask("lookup", key="k"), "done"]),
        tools=[lookup],
        middleware=[Layer("outer"), Layer("inner")],
    )
    await agent.run("go")

    assert log[:8] == [
        "outer.before_model",
        "inner.before_model",
        "inner.after_model",
        "outer.after_model",
        "outer.before_tool",
        "inner.before_tool",
        "inner.after_tool",
        "outer.after_tool",
    ]


# -- before_model / after_model --------------------------------------------------------------


async def test_before_model_presetting_ctx_response_skips_the_provider() -> None:
    class CacheHit(Middleware):
        async def before_model(self, ctx: StepContext) -> None:
            ctx.response = ModelResponse(message=Message.assistant("from cache"))

    provider = RefProvider([])  # any call fails the test
    result = await Agent(provider, middleware=[CacheHit()]).run("hi")

    assert result.answer == "from cache"
    assert provider.calls == []


async def test_after_model_reads_and_replaces_ctx_response() -> None:
    class Rewrite(Middleware):
        async def after_model(self, ctx: StepContext) -> None:
            assert ctx.response is not None
            text = ctx.response.message.content or ""
            ctx.response = ModelResponse(message=Message.assistant(text.upper()))

    result = await Agent(RefProvider(["quiet"]), middleware=[Rewrite()]).run("x")

    assert result.answer == "QUIET"
    assert result.state.messages[-1].content == "QUIET"


async def test_after_model_edits_the_response_message_in_place() -> None:
    class Redact(Middleware):
        async def after_model(self, ctx: StepContext) -> None:
            assert ctx.response is not None
            message = ctx.response.message
            if message.content:
                message.content = message.content.replace("555-1234", "[redacted]")

    result = await Agent(RefProvider(["call 555-1234"]), middleware=[Redact()]).run("x")

    assert result.answer == "call [redacted]"
    assert result.state.messages[-1].content == "call [redacted]"


async def test_after_model_usage_rewrite_is_banked() -> None:
    class Price(Middleware):
        async def after_model(self, ctx: StepContext) -> None:
            assert ctx.response is not None
            usage = ctx.response.usage
            ctx.response.usage = Usage(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cost_usd=0.125,
            )

    provider = RefProvider([ask("lookup", key="a"), "done"])
    result = await Agent(provider, tools=[lookup], middleware=[Price()]).run("x")

    assert result.usage.cost_usd == pytest.approx(0.25)
    assert result.state.usage.cost_usd == pytest.approx(0.25)


async def test_before_model_rewriting_ctx_messages_changes_only_what_the_model_sees() -> None:
    class Trim(Middleware):
        async def before_model(self, ctx: StepContext) -> None:
            ctx.messages = [Message.system("[compacted]"), *ctx.messages[-1:]]

    provider = RefProvider(["a", "b"])
    agent = Agent(provider, middleware=[Trim()])
    first = await agent.run("one", session_id="s")
    second = await agent.run("two", session_id="s")

    assert [m.content for m in provider.prompts[1]] == ["[compacted]", "two"]
    assert first.ok
    assert [m.content for m in second.state.messages] == ["one", "a", "two", "b"]


async def test_before_model_ctx_messages_is_the_history() -> None:
    seen: list[bool] = []

    class Look(Middleware):
        async def before_model(self, ctx: StepContext) -> None:
            seen.append(ctx.messages == ctx.state.messages)

    await Agent(RefProvider(["a"]), middleware=[Look()]).run("one")
    assert seen == [True]


async def test_before_model_can_swap_the_provider() -> None:
    spare = RefProvider(["from the spare"])

    class Swap(Middleware):
        async def before_model(self, ctx: StepContext) -> None:
            ctx.provider = spare

    primary = RefProvider([])
    result = await Agent(primary, middleware=[Swap()]).run("x")

    assert result.answer == "from the spare"
    assert primary.calls == [] and len(spare.calls) == 1


async def test_after_model_force_continue_asks_for_another_turn() -> None:
    class RepairOnce(Middleware):
        async def after_model(self, ctx: StepContext) -> None:
            assert ctx.response is not None
            if ctx.response.message.content == "draft":
                ctx.state.add_message(ctx.response.message)
                ctx.response = ModelResponse(message=Message.user("Please finish."))
                ctx.force_continue = True

    provider = RefProvider(["draft", "final"])
    result = await Agent(provider, middleware=[RepairOnce()]).run("x")

    assert result.answer == "final"
    assert len(provider.calls) == 2


async def test_ctx_extra_is_shared_between_hooks_of_a_step() -> None:
    seen: list[Any] = []

    class Timer(Middleware):
        async def before_model(self, ctx: StepContext) -> None:
            ctx.extra["t0"] = ctx.state.step

        async def after_model(self, ctx: StepContext) -> None:
            seen.append(ctx.extra.get("t0"))

    await Agent(
        RefProvider([ask("lookup", key="a"), "b"]), tools=[lookup], middleware=[Timer()]
    ).run("x")
    assert seen == [1, 2]


# -- before_tool / after_tool ----------------------------------------------------------------


async def test_before_tool_skip_with_a_preset_result_does_not_run_the_tool() -> None:
    class Replay(Middleware):
        async def before_tool(self, ctx: ToolContext) -> None:
            ctx.result = "replayed value"
            ctx.skip = True

    provider = RefProvider([ask("lookup", key="k"), "done"])
    result = await Agent(provider, tools=[lookup], middleware=[Replay()]).run("x")

    assert executed == []
    assert tool_results(result.state.messages) == [("lookup", "replayed value")]
    assert tool_results(provider.prompts[1]) == [("lookup", "replayed value")]


async def test_before_tool_chain_stops_at_the_first_skip() -> None:
    reached: list[str] = []

    class Answer(Middleware):
        async def before_tool(self, ctx: ToolContext) -> None:
            ctx.result, ctx.skip = "outer answer", True

    class Inner(Middleware):
        async def before_tool(self, ctx: ToolContext) -> None:
            reached.append("inner")

    agent = Agent(
        RefProvider([ask("lookup", key="k"), "done"]),
        tools=[lookup],
        middleware=[Answer(), Inner()],
    )
    result = await agent.run("x")

    assert reached == []
    assert tool_results(result.state.messages) == [("lookup", "outer answer")]


async def test_before_tool_can_rewrite_args() -> None:
    class Normalise(Middleware):
        async def before_tool(self, ctx: ToolContext) -> None:
            ctx.args = {**ctx.args, "key": ctx.args["key"].lower()}

    agent = Agent(
        RefProvider([ask("lookup", key="LOUD"), "done"]),
        tools=[lookup],
        middleware=[Normalise()],
    )
    await agent.run("x")

    assert executed == ["loud"]


async def test_before_tool_timeout_s_turns_a_slow_tool_into_an_error_result() -> None:
    never = anyio.Event()

    @tool
    async def hang() -> str:
        """Wait forever."""
        await never.wait()
        return "unreachable"

    class Deadline(Middleware):
        async def before_tool(self, ctx: ToolContext) -> None:
            ctx.timeout_s = 0.05

    errors: list[Exception | None] = []

    class SeeError(Middleware):
        async def after_tool(self, ctx: ToolContext) -> None:
            errors.append(ctx.error)

    agent = Agent(
        RefProvider([ask("hang"), "gave up"]),
        tools=[hang],
        middleware=[Deadline(), SeeError()],
    )
    with anyio.fail_after(10):
        result = await agent.run("x")

    assert result.answer == "gave up"
    assert len(errors) == 1 and errors[0] is not None
    [(_, text)] = tool_results(result.state.messages)
    assert text is not None and text != "unreachable"


async def test_after_tool_replaces_ctx_result() -> None:
    class Truncate(Middleware):
        async def after_tool(self, ctx: ToolContext) -> None:
            ctx.result = str(ctx.result)[:5] + "…"

    provider = RefProvider([ask("lookup", key="k"), "done"])
    result = await Agent(provider, tools=[lookup], middleware=[Truncate()]).run("x")

    assert tool_results(result.state.messages) == [("lookup", "value…")]


async def test_after_tool_sees_the_raw_non_string_result() -> None:
    @tool
    async def numbers() -> list[int]:
        """Numbers."""
        return [1, 2, 3]

    seen: list[Any] = []

    class Look(Middleware):
        async def after_tool(self, ctx: ToolContext) -> None:
            seen.append(ctx.result)

    result = await Agent(
        RefProvider([ask("numbers"), "ok"]), tools=[numbers], middleware=[Look()]
    ).run("x")

    assert seen == [[1, 2, 3]]
    [(_, text)] = tool_results(result.state.messages)
    assert text == "[1, 2, 3]"


async def test_after_tool_sees_ctx_error_when_the_tool_fails() -> None:
    seen: list[tuple[Exception | None, Any]] = []

    class Look(Middleware):
        async def after_tool(self, ctx: ToolContext) -> None:
            seen.append((ctx.error, ctx.result))

    agent = Agent(RefProvider([ask("broken"), "sorry"]), tools=[broken], middleware=[Look()])
    result = await agent.run("x")

    assert result.answer == "sorry"
    [(error, text)] = seen
    assert isinstance(error, ValueError)
    assert "disk on fire" in str(text)


async def test_after_tool_can_recover_a_failed_call() -> None:
    class Fallback(Middleware):
        async def after_tool(self, ctx: ToolContext) -> None:
            if ctx.error is not None:
                ctx.error = None
                ctx.result = "cached fallback"

    agent = Agent(RefProvider([ask("broken"), "ok"]), tools=[broken], middleware=[Fallback()])
    result = await agent.run("x")

    tool_message = next(m for m in result.state.messages if m.role is Role.TOOL)
    assert tool_message.content == "cached fallback"
    assert tool_message.is_error is False


# -- on_error --------------------------------------------------------------------------------


class FlakyProvider(RefProvider):
    """Fails its first `failures` calls with RuntimeError("boom")."""

    def __init__(self, failures: int, replies: list[Any]) -> None:
        super().__init__(replies)
        self.failures = failures

    async def complete(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> ModelResponse:
        if self.failures:
            self.failures -= 1
            self.calls.append({"messages": list(messages), "tools": tools, "kwargs": kwargs})
            raise RuntimeError("boom")
        return await super().complete(messages, tools, **kwargs)


async def test_on_error_retry_reissues_the_model_call() -> None:
    seen: list[tuple[type, int, str]] = []

    class RetryOnce(Middleware):
        async def on_error(self, ctx: StepContext, err: Exception) -> ErrorAction | None:
            seen.append((type(ctx), ctx.attempt, str(err)))
            return ErrorAction.RETRY

    provider = FlakyProvider(2, ["recovered"])
    result = await Agent(provider, middleware=[RetryOnce()]).run("x")

    assert result.answer == "recovered"
    assert len(provider.calls) == 3
    assert [(t, a) for t, a, _ in seen] == [(StepContext, 0), (StepContext, 1)]
    assert all("boom" in text for _, _, text in seen)


async def test_on_error_fallback_after_switching_the_provider() -> None:
    spare = RefProvider(["from the spare"])

    class Fallback(Middleware):
        async def on_error(self, ctx: StepContext, err: Exception) -> ErrorAction | None:
            ctx.provider = spare
            return ErrorAction.FALLBACK

    result = await Agent(FlakyProvider(1, []), middleware=[Fallback()]).run("x")

    assert result.answer == "from the spare"


async def test_on_error_fail_ends_the_run_with_an_error() -> None:
    class Fail(Middleware):
        async def on_error(self, ctx: StepContext, err: Exception) -> ErrorAction | None:
            return ErrorAction.FAIL

    result = await Agent(FlakyProvider(1, ["never"]), middleware=[Fail()]).run("x")

    assert result.stopped_reason is StopReason.ERROR
    assert not result.ok
    assert result.answer is None
    assert result.error is not None and "boom" in result.error
    assert result.state.status is RunStatus.ERROR


async def test_provider_error_without_middleware_ends_the_run_with_an_error() -> None:
    result = await Agent(FlakyProvider(1, ["never"])).run("x")

    assert result.stopped_reason is StopReason.ERROR
    assert isinstance(result.error, str) and "boom" in result.error


async def test_on_error_returning_none_leaves_the_decision_to_others() -> None:
    class Abstain(Middleware):
        async def on_error(self, ctx: StepContext, err: Exception) -> ErrorAction | None:
            return None

    class Retry(Middleware):
        async def on_error(self, ctx: StepContext, err: Exception) -> ErrorAction | None:
            return ErrorAction.RETRY

    agent = Agent(FlakyProvider(1, ["ok"]), middleware=[Retry(), Abstain()])
    assert (await agent.run("x")).answer == "ok"


# -- StopRun ---------------------------------------------------------------------------------


def test_stop_run_signature_and_defaults() -> None:
    assert documented(
        StopRun.__init__,
        ("reason", POS, StopReason.GUARDRAIL),
        ("message", POS, ""),
    )
    stop = StopRun()

    assert isinstance(stop, SpineError)
    assert stop.reason is StopReason.GUARDRAIL
    assert stop.message == ""
    assert str(stop) == "guardrail"


def test_stop_run_with_reason_and_message() -> None:
    stop = StopRun(StopReason.LOOP, "loop detected")
    assert (stop.reason, stop.message, str(stop)) == (
        StopReason.LOOP,
        "loop detected",
        "loop detected",
    )


async def test_stop_run_message_becomes_the_answer_for_non_error_reasons() -> None:
    class Block(Middleware):
        async def before_model(self, ctx: StepContext) -> None:
            raise StopRun(message="I can't help with that.")

    provider = RefProvider([])
    result = await Agent(provider, middleware=[Block()]).run("x")

    assert result.stopped_reason is StopReason.GUARDRAIL
    assert result.answer == "I can't help with that."
    assert result.error is None
    assert provider.calls == []


async def test_stop_run_with_error_reason_sets_the_error_text() -> None:
    class Abort(Middleware):
        async def after_model(self, ctx: StepContext) -> None:
            raise StopRun(StopReason.ERROR, "policy engine down")

    result = await Agent(RefProvider(["hi"]), middleware=[Abort()]).run("x")

    assert result.stopped_reason is StopReason.ERROR
    assert result.error == "policy engine down"
    assert result.answer is None
    assert result.state.status is RunStatus.ERROR


async def test_stop_run_without_message_has_no_answer() -> None:
    class Block(Middleware):
        async def before_model(self, ctx: StepContext) -> None:
            raise StopRun()

    result = await Agent(RefProvider([]), middleware=[Block()]).run("x")

    assert result.stopped_reason is StopReason.GUARDRAIL
    assert result.answer is None


async def test_stop_run_from_a_tool_hook() -> None:
    class NoSideEffects(Middleware):
        async def before_tool(self, ctx: ToolContext) -> None:
            raise StopRun(StopReason.GUARDRAIL, f"tool {ctx.call.name} is not allowed")

    agent = Agent(
        RefProvider([ask("lookup", key="k")]), tools=[lookup], middleware=[NoSideEffects()]
    )
    result = await agent.run("x")

    assert result.stopped_reason is StopReason.GUARDRAIL
    assert result.answer == "tool lookup is not allowed"
    assert executed == []


async def test_stop_run_from_after_model_loop_reason() -> None:
    class Loop(Middleware):
        async def after_model(self, ctx: StepContext) -> None:
            raise StopRun(StopReason.LOOP, "loop detected")

    result = await Agent(
        RefProvider([ask("lookup", key="k")]), tools=[lookup], middleware=[Loop()]
    ).run("x")
    assert (result.stopped_reason, result.answer) == (StopReason.LOOP, "loop detected")


# -- Middleware base class -------------------------------------------------------------------


HOOKS = {
    "on_run_start": ["state"],
    "on_run_end": ["state", "result"],
    "before_model": ["ctx"],
    "after_model": ["ctx"],
    "before_tool": ["ctx"],
    "after_tool": ["ctx"],
    "on_error": ["ctx", "err"],
}


@pytest.mark.parametrize(("hook", "params"), HOOKS.items())
def test_middleware_hook_signatures(hook: str, params: list[str]) -> None:
    assert documented(getattr(Middleware, hook), *[(p, POS, EMPTY) for p in params])


async def test_middleware_hooks_are_no_ops() -> None:
    mw = Middleware()
    state = State(session_id="s")
    call = ToolCall(id="c", name="lookup", arguments={"key": "k"})
    step = StepContext(state, state.messages, [lookup])
    tctx = ToolContext(state, lookup, call)
    result = Result(state=state)

    assert await mw.on_run_start(state) is None
    assert await mw.on_run_end(state, result) is None
    assert await mw.before_model(step) is None
    assert await mw.after_model(step) is None
    assert await mw.before_tool(tctx) is None
    assert await mw.after_tool(tctx) is None
    assert await mw.on_error(step, RuntimeError("x")) is None
    assert step.response is None and tctx.result is None and not tctx.skip


async def test_a_middleware_subclass_overriding_nothing_changes_nothing() -> None:
    class Nothing(Middleware):
        pass

    result = await Agent(
        RefProvider([ask("lookup", key="k"), "done"]), tools=[lookup], middleware=[Nothing()]
    ).run("x")
    assert result.answer == "done"


# -- StepContext / ToolContext ---------------------------------------------------------------


def test_step_context_constructor_and_attributes() -> None:
    assert documented(
        StepContext.__init__,
        ("state", POS, EMPTY),
        ("messages", POS, EMPTY),
        ("tools", POS, EMPTY),
        ("provider", POS, None),
    )
    state = State(session_id="s", messages=[Message.user("hi")])
    provider = RefProvider()

    ctx = StepContext(state, state.messages, [lookup], provider)
    bare = StepContext(state, [], [])

    assert ctx.state is state
    assert ctx.messages is state.messages
    assert ctx.tools == [lookup]
    assert ctx.provider is provider
    assert ctx.response is None
    assert ctx.attempt == 0
    assert ctx.force_continue is False
    assert ctx.extra == {}
    assert bare.provider is None
    assert StepContextFromModule is StepContext


def test_step_context_is_mutable() -> None:
    ctx = StepContext(State(session_id="s"), [], [])
    ctx.response = respond("x")
    ctx.attempt = 2
    ctx.force_continue = True
    ctx.extra["k"] = 1
    ctx.messages = [Message.user("y")]
    assert (ctx.attempt, ctx.force_continue, ctx.extra) == (2, True, {"k": 1})


def test_tool_context_constructor_and_attributes() -> None:
    assert documented(
        ToolContext.__init__,
        ("state", POS, EMPTY),
        ("tool", POS, EMPTY),
        ("call", POS, EMPTY),
    )
    state = State(session_id="s")
    call = ToolCall(id="c1", name="lookup", arguments={"key": "k"})

    ctx = ToolContext(state, lookup, call)

    assert ctx.state is state
    assert ctx.tool is lookup
    assert ctx.call is call
    assert ctx.args == {"key": "k"}
    assert ctx.result is None
    assert ctx.error is None
    assert ctx.timeout_s is None
    assert ctx.skip is False
    assert ToolContextFromModule is ToolContext


def test_tool_context_args_is_a_copy_of_the_call_arguments() -> None:
    call = ToolCall(id="c1", name="lookup", arguments={"key": "k"})
    ctx = ToolContext(State(session_id="s"), None, call)

    ctx.args["key"] = "changed"

    assert call.arguments == {"key": "k"}
    assert ctx.tool is None


def test_tool_context_tool_may_be_none_for_an_unknown_tool() -> None:
    ctx = ToolContext(State(session_id="s"), None, ToolCall(id="c", name="ghost"))
    assert ctx.tool is None
    assert ctx.args == {}


# -- ErrorAction -----------------------------------------------------------------------------


def test_error_action_members() -> None:
    assert {m.name: m.value for m in ErrorAction} == {
        "RETRY": "retry",
        "SKIP": "skip",
        "FAIL": "fail",
        "FALLBACK": "fallback",
    }
    assert ErrorAction("retry") is ErrorAction.RETRY
    assert ErrorAction.FAIL == "fail"


async def test_reference_middleware_on_error_runs_inside_a_failing_run() -> None:
    recorder = Recorder()
    result = await Agent(FlakyProvider(1, ["never"]), middleware=[recorder]).run("x")

    assert result.stopped_reason is StopReason.ERROR
    assert recorder.log == ["on_run_start", "before_model", "on_error", "on_run_end"]
    assert recorder.results == [result]
