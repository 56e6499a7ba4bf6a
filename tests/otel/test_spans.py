"""Spans of real agent runs: names, kinds, nesting and the GenAI attributes."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from spine_core import (
    Agent,
    FunctionProvider,
    Interrupt,
    Message,
    ModelResponse,
    ProviderError,
    ScriptedProvider,
    StopReason,
    TestProvider,
    ToolCall,
    Usage,
    tool,
)
from spine_core.registry import MIDDLEWARE, resolve
from spine_middleware import ModelFallback, Retry
from spine_otel import OTelMiddleware

from .conftest import Telemetry

pytestmark = pytest.mark.anyio


@tool
def weather(city: str) -> str:
    """Current weather.

    Args:
        city: The city.
    """
    return f"sunny in {city}"


@tool
def broken(city: str) -> str:
    """Always fails.

    Args:
        city: The city.
    """
    raise ValueError("no such city")


def _call(name: str, call_id: str = "call_1", **arguments: Any) -> Message:
    return Message.assistant(tool_calls=[ToolCall(id=call_id, name=name, arguments=arguments)])


async def test_tool_calling_run_emits_agent_chat_and_tool_spans(telemetry: Telemetry) -> None:
    usage = Usage(input_tokens=120, output_tokens=30, cache_read_tokens=80, cache_write_tokens=7)
    provider = ScriptedProvider(
        [
            ModelResponse(
                message=_call("weather", city="Oslo"),
                usage=usage,
                finish_reason="tool_use",
                model="claude-x-1",
            ),
            ModelResponse(message=Message.assistant("It is sunny."), usage=Usage(input_tokens=9)),
        ],
        name="anthropic",
        model="claude-x",
    )
    agent = Agent(
        provider,
        name="forecaster",
        tools=[weather],
        middleware=[telemetry.middleware()],
        settings={"temperature": 0.2, "max_tokens": 256},
    )
    result = await agent.run("weather in Oslo?", session_id="s1")
    assert result.answer == "It is sunny."

    root = telemetry.one("invoke_agent forecaster")
    chats = telemetry.named("chat claude-x")
    tool_span = telemetry.one("execute_tool weather")
    assert root.kind is SpanKind.INTERNAL and root.parent is None
    assert len(chats) == 2 and all(c.kind is SpanKind.CLIENT for c in chats)
    assert tool_span.kind is SpanKind.INTERNAL
    for child in (*chats, tool_span):
        assert child.parent is not None and child.parent.span_id == root.context.span_id
        assert child.context.trace_id == root.context.trace_id
    assert root.attributes is not None
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gen_ai.agent.name"] == "forecaster"
    assert root.attributes["gen_ai.conversation.id"] == "s1"
    assert root.attributes["spine.stop_reason"] == "final"
    assert root.attributes["gen_ai.usage.input_tokens"] == 129
    assert root.status.status_code is StatusCode.UNSET

    first = chats[0].attributes
    assert first is not None
    assert first["gen_ai.operation.name"] == "chat"
    assert first["gen_ai.provider.name"] == "anthropic"
    assert first["gen_ai.request.model"] == "claude-x"
    assert first["gen_ai.response.model"] == "claude-x-1"
    assert first["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert first["gen_ai.usage.input_tokens"] == 120
    assert first["gen_ai.usage.output_tokens"] == 30
    assert first["gen_ai.usage.cache_read.input_tokens"] == 80
    assert first["gen_ai.usage.cache_creation.input_tokens"] == 7
    assert first["gen_ai.request.temperature"] == 0.2
    assert first["gen_ai.request.max_tokens"] == 256
    assert chats[1].attributes is not None
    assert chats[1].attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert chats[1].attributes["gen_ai.response.model"] == "claude-x"  # none in the response

    assert tool_span.attributes is not None
    assert tool_span.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool_span.attributes["gen_ai.tool.name"] == "weather"
    assert tool_span.attributes["gen_ai.tool.call.id"] == "call_1"
    assert tool_span.attributes["gen_ai.tool.type"] == "function"
    # Spans follow the run: chat, then the tool, then the second chat.
    assert chats[0].end_time <= tool_span.start_time <= tool_span.end_time <= chats[1].start_time


async def test_streamed_run_emits_the_same_spans(telemetry: Telemetry) -> None:
    agent = Agent(TestProvider("m"), name="s", tools=[weather], middleware=[telemetry.middleware()])
    stream = agent.stream("hi")
    async for _ in stream:
        pass
    assert stream.result is not None and stream.result.ok
    root = telemetry.one("invoke_agent s")
    names = sorted(s.name for s in telemetry.spans() if s is not root)
    assert names == ["chat m", "chat m", "execute_tool weather"]
    assert all(
        s.parent is not None and s.parent.span_id == root.context.span_id
        for s in telemetry.spans()
        if s is not root
    )


async def test_reference_example_works_unchanged_with_the_global_provider() -> None:
    # The reference's `OTelMiddleware(tracer=None)`: no SDK configured, spans are no-ops.
    agent = Agent(TestProvider(), tools=[weather], middleware=[OTelMiddleware()])
    result = await agent.run("hi")
    assert result.ok
    assert trace.get_current_span() is trace.INVALID_SPAN  # the run's context was detached


async def test_a_given_tracer_is_used(telemetry: Telemetry) -> None:
    tracer = telemetry.tracer_provider.get_tracer("my-app")
    agent = Agent(TestProvider(), name="a", middleware=[OTelMiddleware(tracer)])
    await agent.run("hi")
    assert telemetry.one("invoke_agent a").instrumentation_scope is not None
    assert telemetry.one("invoke_agent a").instrumentation_scope.name == "my-app"  # type: ignore[union-attr]


async def test_otel_is_registered_as_a_middleware_entry_point(telemetry: Telemetry) -> None:
    middleware = resolve(MIDDLEWARE, "otel", tracer_provider=telemetry.tracer_provider)
    assert isinstance(middleware, OTelMiddleware)
    await Agent(TestProvider(), name="ep", middleware=[middleware]).run("hi")
    assert telemetry.one("invoke_agent ep")


async def test_terminal_provider_error_sets_error_type_and_status(telemetry: Telemetry) -> None:
    failing = ScriptedProvider([ProviderError("bad key", kind="auth", status=401)], model="m")
    agent = Agent(failing, name="a", middleware=[telemetry.middleware()])
    result = await agent.run("hi")
    assert result.stopped_reason is StopReason.ERROR
    chat, root = telemetry.one("chat m"), telemetry.one("invoke_agent a")
    for span in (chat, root):
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes is not None and span.attributes["error.type"] == "auth"
    assert chat.status.description == "bad key"
    assert chat.end_time is not None and chat.end_time <= root.end_time  # type: ignore[operator]
    assert not chat.events  # no retry happened


async def test_retry_and_fallback_are_events_on_one_chat_span(telemetry: Telemetry) -> None:
    primary = ScriptedProvider(
        [ProviderError("slow down", kind="rate_limit"), ProviderError("busy", kind="overloaded")],
        name="openai",
        model="gpt-a",
    )
    backup = ScriptedProvider(["from backup"], name="google", model="gemini-b")
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    agent = Agent(
        primary,
        name="a",
        middleware=[
            telemetry.middleware(),
            ModelFallback(backup),
            Retry(max_attempts=2, sleep=no_sleep),  # innermost: decides first
        ],
    )
    result = await agent.run("hi")
    assert result.answer == "from backup" and len(waits) == 1
    chat = telemetry.one("chat gpt-a")  # one span per model call; attempts are events
    assert [e.name for e in chat.events] == ["spine.retry", "spine.fallback"]
    retry, fallback = chat.events
    assert retry.attributes is not None and fallback.attributes is not None
    assert retry.attributes["error.type"] == "rate_limit"
    assert retry.attributes["gen_ai.request.model"] == "gpt-a"
    assert fallback.attributes["error.type"] == "overloaded"
    assert fallback.attributes["gen_ai.provider.name"] == "gcp.gemini"
    assert fallback.attributes["gen_ai.request.model"] == "gemini-b"
    assert chat.status.status_code is StatusCode.UNSET  # the call succeeded in the end
    assert chat.attributes is not None
    assert chat.attributes["gen_ai.response.model"] == "gemini-b"
    assert chat.attributes["spine.attempts"] == 2


async def test_failing_tool_marks_its_span_and_the_run_goes_on(telemetry: Telemetry) -> None:
    provider = ScriptedProvider([_call("broken", city="X"), "sorry"], model="m")
    agent = Agent(provider, name="a", tools=[broken], middleware=[telemetry.middleware()])
    result = await agent.run("hi")
    assert result.ok and result.answer == "sorry"
    span = telemetry.one("execute_tool broken")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == "ValueError"
    assert [e.name for e in span.events] == ["exception"]
    assert telemetry.one("invoke_agent a").status.status_code is StatusCode.UNSET


async def test_unknown_tool_still_gets_an_error_span(telemetry: Telemetry) -> None:
    provider = ScriptedProvider([_call("nope"), "ok"], model="m")
    agent = Agent(provider, name="a", tools=[weather], middleware=[telemetry.middleware()])
    await agent.run("hi")
    span = telemetry.one("execute_tool nope")
    assert span.attributes is not None and span.attributes["error.type"] == "tool_error"
    assert span.parent is not None
    assert span.parent.span_id == telemetry.one("invoke_agent a").context.span_id


async def test_sub_agent_nests_under_the_calling_tool_span(telemetry: Telemetry) -> None:
    otel = telemetry.middleware()  # one instance on both agents
    child = Agent(TestProvider("child-m"), name="researcher", tools=[weather], middleware=[otel])
    parent_provider = ScriptedProvider(
        [_call("researcher", "call_r", input="find the weather"), "done"], model="parent-m"
    )
    parent = Agent(parent_provider, name="boss", tools=[child.as_tool()], middleware=[otel])
    result = await parent.run("go")
    assert result.answer == "done"
    boss = telemetry.one("invoke_agent boss")
    delegation = telemetry.one("execute_tool researcher")
    sub = telemetry.one("invoke_agent researcher")
    assert delegation.parent is not None and delegation.parent.span_id == boss.context.span_id
    assert sub.parent is not None and sub.parent.span_id == delegation.context.span_id
    assert sub.attributes is not None and sub.attributes["spine.depth"] == 1
    for span in telemetry.named("chat child-m") + telemetry.named("execute_tool weather"):
        assert span.parent is not None and span.parent.span_id == sub.context.span_id
    assert {s.context.trace_id for s in telemetry.spans()} == {boss.context.trace_id}
    assert len(telemetry.spans()) == 8  # each agent: its agent span, 2 chats, 1 tool


async def test_run_nests_under_the_callers_current_span(telemetry: Telemetry) -> None:
    tracer = telemetry.tracer_provider.get_tracer("app")
    agent = Agent(TestProvider(), name="a", middleware=[telemetry.middleware()])
    with tracer.start_as_current_span("request") as outer:
        await agent.run("hi")
        assert trace.get_current_span() is outer  # the run restored the caller's context
    root = telemetry.one("invoke_agent a")
    assert root.parent is not None and root.parent.span_id == outer.get_span_context().span_id


async def test_concurrent_runs_on_one_instance_do_not_cross(telemetry: Telemetry) -> None:
    runs = 12
    arrived = 0
    everyone_in = anyio.Event()

    async def model(messages: list[Message], tools: Any, settings: Any) -> Message:
        nonlocal arrived
        if messages[-1].role.value == "user":  # first call of each run: wait for all runs
            arrived += 1
            if arrived == runs:
                everyone_in.set()
            await everyone_in.wait()
            return _call("weather", f"call_{messages[-1].text}", city=messages[-1].text)
        return Message.assistant(f"answer {messages[-1].text}")

    agent = Agent(
        FunctionProvider(model, model="m"),
        name="a",
        tools=[weather],
        middleware=[telemetry.middleware()],
    )
    async with anyio.create_task_group() as tg:
        for i in range(runs):
            tg.start_soon(lambda i=i: agent.run(f"c{i}", session_id=f"s{i}"))

    roots = telemetry.named("invoke_agent a")
    assert len(roots) == runs
    by_trace = {r.context.trace_id: r for r in roots}
    assert len(by_trace) == runs  # one trace per run
    for span in telemetry.spans():
        root = by_trace[span.context.trace_id]
        assert root.attributes is not None
        session = root.attributes["gen_ai.conversation.id"]
        if span is root:
            assert span.parent is None
            continue
        assert span.parent is not None and span.parent.span_id == root.context.span_id
        assert span.attributes is not None
        if span.name == "execute_tool weather":  # the call id names the run's city
            assert span.attributes["gen_ai.tool.call.id"] == f"call_c{str(session)[1:]}"
        else:
            assert span.attributes["gen_ai.conversation.id"] == session
    assert len(telemetry.named("execute_tool weather")) == runs


async def test_resumed_run_is_a_new_trace_linked_to_the_paused_one(
    telemetry: Telemetry,
) -> None:
    @tool
    def ask(question: str) -> str:
        """Ask the user.

        Args:
            question: The question.
        """
        raise Interrupt(question)

    provider = ScriptedProvider([_call("ask", question="colour?"), "blue it is"], model="m")
    agent = Agent(provider, name="a", tools=[ask], middleware=[telemetry.middleware()])
    paused = await agent.run("pick", session_id="p")
    assert paused.stopped_reason is StopReason.INTERRUPT and paused.resume_token
    first = telemetry.one("invoke_agent a")
    asked = telemetry.one("execute_tool ask")  # the paused call's span is closed at the pause
    assert asked.attributes is not None and asked.attributes["spine.stop_reason"] == "interrupt"
    assert first.attributes is not None and first.attributes["spine.stop_reason"] == "interrupt"
    telemetry.exporter.clear()

    resumed = await agent.resume(paused.resume_token, answer="blue")
    assert resumed.answer == "blue it is"
    second = telemetry.one("invoke_agent a")
    assert second.context.trace_id != first.context.trace_id
    assert [link.context.span_id for link in second.links] == [first.context.span_id]
    assert second.links[0].context.trace_id == first.context.trace_id
    assert second.links[0].attributes == {"spine.previous_run": True}
    answered = telemetry.one("execute_tool ask")  # the answered call, in the resumed trace
    assert answered.context.trace_id == second.context.trace_id


async def test_parallel_tool_calls_each_get_a_span_under_the_agent(telemetry: Telemetry) -> None:
    @tool
    async def other(city: str) -> str:
        """Another lookup.

        Args:
            city: The city.
        """
        return city

    agent = Agent(
        TestProvider("m"),
        name="p",
        tools=[weather, other],
        parallel_tools=True,
        middleware=[telemetry.middleware()],
    )
    assert (await agent.run("hi")).ok
    root = telemetry.one("invoke_agent p")
    tools = telemetry.named("execute_tool weather") + telemetry.named("execute_tool other")
    assert len(tools) == 2
    assert {t.attributes["gen_ai.tool.call.id"] for t in tools if t.attributes} == {
        "call_0_0",
        "call_0_1",
    }
    assert all(t.parent is not None and t.parent.span_id == root.context.span_id for t in tools)
    assert trace.get_current_span() is trace.INVALID_SPAN
