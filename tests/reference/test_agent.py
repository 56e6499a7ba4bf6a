"""`Agent`: constructor, attributes, run / stream / run_sync / resume_sync / as_tool."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from spine_core import (
    Agent,
    EventType,
    Guards,
    InMemoryCheckpointStore,
    Message,
    Middleware,
    MiddlewareChain,
    Result,
    Role,
    RunStatus,
    State,
    StopReason,
    StreamChunk,
    TestProvider,
    Tool,
    ToolCall,
    ToolContext,
    TraceEvent,
    tool,
)

from .refkit import (
    EMPTY,
    KEEP,
    KW,
    POS,
    RefProvider,
    RefStreamingProvider,
    ask,
    ask_many,
    costly,
    documented,
    respond,
    tool_results,
)

pytestmark = pytest.mark.anyio


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def echo(text: str) -> str:
    """Echo text."""
    return text


# -- constructor -----------------------------------------------------------------------------


def test_init_signature() -> None:
    assert documented(
        Agent.__init__,
        ("model", POS, KEEP),
        ("tools", KW, None),
        ("guards", KW, None),
        ("middleware", KW, None),
        ("checkpoint", KW, None),
        ("provider", KW, None),
        ("system", KW, None),
        ("name", KW, None),
        ("parallel_tools", KW, False),
        ("tenant_id", KW, None),
    )


def test_init_defaults_and_attributes() -> None:
    provider = RefProvider()
    agent = Agent(provider)

    assert agent.provider is provider
    assert agent.tools == {}
    assert isinstance(agent.guards, Guards)
    assert agent.guards == Guards()
    assert isinstance(agent.chain, MiddlewareChain)
    assert tuple(agent.chain.middleware) == ()
    assert isinstance(agent.checkpoint, InMemoryCheckpointStore)
    assert agent.system is None
    assert agent.name is None
    assert agent.parallel_tools is False
    assert agent.tenant_id is None
    assert agent.last_result is None


def test_init_keeps_every_argument() -> None:
    provider = RefProvider()
    guards = Guards(max_steps=3)
    store = InMemoryCheckpointStore()
    mw = Middleware()

    agent = Agent(
        provider,
        tools=[add, echo],
        guards=guards,
        middleware=[mw],
        checkpoint=store,
        system="Be brief.",
        name="helper",
        parallel_tools=True,
        tenant_id="acme",
    )

    assert agent.guards is guards
    assert agent.checkpoint is store
    assert tuple(agent.chain.middleware) == (mw,)
    assert (agent.system, agent.name, agent.parallel_tools, agent.tenant_id) == (
        "Be brief.",
        "helper",
        True,
        "acme",
    )


def test_model_string_resolves_through_the_provider_registry() -> None:
    assert isinstance(Agent("test").provider, TestProvider)
    assert isinstance(Agent("test:some-model").provider, TestProvider)


def test_provider_argument_wins_over_model() -> None:
    provider = RefProvider()
    assert Agent("test", provider=provider).provider is provider


def test_name_none_works() -> None:
    agent = Agent(RefProvider(["hi"]), name=None)
    assert agent.name is None
    assert agent.run_sync("hello").answer == "hi"


# -- tools dict ------------------------------------------------------------------------------


def test_tools_is_a_dict_by_name() -> None:
    agent = Agent(RefProvider(), tools=[add, echo])

    assert isinstance(agent.tools, dict)
    assert list(agent.tools) == ["add", "echo"]
    assert agent.tools["add"] is add
    assert all(isinstance(t, Tool) for t in agent.tools.values())


async def test_tools_dict_can_be_extended_by_name() -> None:
    provider = RefProvider([ask("echo", text="late"), "done"])
    agent = Agent(provider, tools=[add])
    agent.tools["echo"] = echo

    result = await agent.run("go")

    assert [t["name"] for t in provider.calls[0]["tools"]] == ["add", "echo"]
    assert tool_results(result.state.messages) == [("echo", "late")]


async def test_tools_removed_from_the_dict_are_not_offered() -> None:
    provider = RefProvider(["ok"])
    agent = Agent(provider, tools=[add, echo])
    del agent.tools["add"]

    await agent.run("go")

    assert [t["name"] for t in provider.calls[0]["tools"]] == ["echo"]


# -- chain -----------------------------------------------------------------------------------


async def test_chain_is_the_middleware_chain() -> None:
    seen: list[str] = []

    class Tag(Middleware):
        def __init__(self, label: str) -> None:
            self.label = label

        async def on_run_start(self, state: State) -> None:
            seen.append(self.label)

    first, second = Tag("first"), Tag("second")
    agent = Agent(RefProvider(["a", "b"]), middleware=[first])
    assert tuple(agent.chain.middleware) == (first,)

    await agent.run("one")
    agent.chain.add(second)
    await agent.run("two")

    assert tuple(agent.chain.middleware) == (first, second)
    assert seen == ["first", "first", "second"]


# -- system prompt ---------------------------------------------------------------------------


async def test_system_prompt_is_stored_as_the_first_message() -> None:
    provider = RefProvider(["hello", "again"])
    agent = Agent(provider, system="You are terse.")

    first = await agent.run("hi")
    second = await agent.run("more", session_id=first.state.session_id)

    assert first.state.messages[0].role is Role.SYSTEM
    assert first.state.messages[0].content == "You are terse."
    assert provider.prompts[0][0].content == "You are terse."
    assert [m.role for m in provider.prompts[0]] == [Role.SYSTEM, Role.USER]
    # one system message per session, not one per run
    assert [m.role for m in second.state.messages].count(Role.SYSTEM) == 1
    assert [m.content for m in second.state.messages] == [
        "You are terse.",
        "hi",
        "hello",
        "more",
        "again",
    ]


async def test_no_system_prompt_no_system_message() -> None:
    result = await Agent(RefProvider(["hi"])).run("hello")
    assert [m.role for m in result.state.messages] == [Role.USER, Role.ASSISTANT]


# -- run -------------------------------------------------------------------------------------


def test_run_signature() -> None:
    assert documented(
        Agent.run,
        ("input", POS, EMPTY),
        ("session_id", KW, None),
        ("should_cancel", KW, None),
    )


async def test_run_returns_a_final_result() -> None:
    provider = RefProvider([ask("add", a=2, b=3), "5"])
    agent = Agent(provider, tools=[add])

    result = await agent.run("2+3?")

    assert isinstance(result, Result)
    assert result.answer == "5"
    assert result.ok and not result.interrupted
    assert result.stopped_reason is StopReason.FINAL
    assert result.error is None and result.resume_token is None
    assert result.state.status is RunStatus.DONE
    assert result.usage.input_tokens == 2 and result.usage.output_tokens == 2
    assert tool_results(result.state.messages) == [("add", "5")]
    assert all(isinstance(e, TraceEvent) for e in result.trace)
    assert EventType.FINAL in [e.type for e in result.trace]
    assert agent.last_result is result


async def test_run_tool_results_link_back_to_their_calls() -> None:
    provider = RefProvider([ask("add", "call_42", a=1, b=1), "2"])
    result = await Agent(provider, tools=[add]).run("1+1")

    tool_message = next(m for m in result.state.messages if m.role is Role.TOOL)
    assert tool_message.tool_call_id == "call_42"
    assert tool_message.name == "add"
    # the model's next call sees the assistant call, then its result
    assert [m.role for m in provider.prompts[1]] == [Role.USER, Role.ASSISTANT, Role.TOOL]


async def test_run_with_session_id_continues_the_session() -> None:
    provider = RefProvider(["Hello Ada", "Your name is Ada"])
    agent = Agent(provider)

    first = await agent.run("I am Ada", session_id="chat-1")
    second = await agent.run("Who am I?", session_id="chat-1")

    assert first.state.session_id == second.state.session_id == "chat-1"
    assert [m.content for m in provider.prompts[1]] == ["I am Ada", "Hello Ada", "Who am I?"]
    assert second.answer == "Your name is Ada"


async def test_run_without_session_id_starts_a_new_session() -> None:
    agent = Agent(RefProvider(["a", "b"]))
    one, two = await agent.run("x"), await agent.run("y")
    assert one.state.session_id != two.state.session_id
    assert len(two.state.messages) == 2


async def test_run_should_cancel_stops_before_the_next_step() -> None:
    provider = RefProvider(["never"])
    result = await Agent(provider).run("hi", should_cancel=lambda: True)

    assert result.stopped_reason is StopReason.CANCELLED
    assert provider.calls == []


async def test_run_should_cancel_between_steps_keeps_the_last_text() -> None:
    provider = RefProvider([ask("echo", say="thinking", text="x")])
    answered: list[bool] = []

    class Mark(Middleware):
        async def after_tool(self, ctx: ToolContext) -> None:
            answered.append(True)

    agent = Agent(provider, tools=[echo], middleware=[Mark()])
    result = await agent.run("go", should_cancel=lambda: bool(answered))

    assert result.stopped_reason is StopReason.CANCELLED
    assert result.answer == "thinking"
    assert len(provider.calls) == 1


async def test_tenant_id_is_recorded_on_the_state() -> None:
    result = await Agent(RefProvider(["hi"]), tenant_id="acme").run("hello")
    assert result.state.tenant_id == "acme"


async def test_checkpoint_store_keeps_the_session() -> None:
    store = InMemoryCheckpointStore()
    result = await Agent(RefProvider(["hi"]), checkpoint=store).run("hello")

    saved = await store.get(result.state.session_id)

    assert saved is not None
    assert [m.content for m in saved.messages] == ["hello", "hi"]
    assert saved.status is RunStatus.DONE


async def test_unknown_tool_is_reported_to_the_model() -> None:
    provider = RefProvider([ask("nope"), "ok"])
    result = await Agent(provider, tools=[add]).run("go")

    assert result.ok
    [(name, text)] = tool_results(result.state.messages)
    assert name == "nope" and text is not None and "nope" in text


async def test_parallel_tools_run_concurrently_and_keep_call_order() -> None:
    arrived = {"left": anyio.Event(), "right": anyio.Event()}

    @tool
    async def left() -> str:
        """Left."""
        arrived["left"].set()
        await arrived["right"].wait()  # deadlocks unless both calls run at once
        return "L"

    @tool
    async def right() -> str:
        """Right."""
        arrived["right"].set()
        await arrived["left"].wait()
        return "R"

    calls = [ToolCall(id="1", name="left"), ToolCall(id="2", name="right")]
    provider = RefProvider([ask_many(*calls), "both"])
    agent = Agent(provider, tools=[left, right], parallel_tools=True)

    with anyio.fail_after(10):
        result = await agent.run("go")

    assert result.answer == "both"
    assert tool_results(result.state.messages) == [("left", "L"), ("right", "R")]


async def test_sequential_tools_by_default() -> None:
    order: list[str] = []

    @tool
    def first() -> str:
        """First."""
        order.append("first")
        return "1"

    @tool
    def second() -> str:
        """Second."""
        order.append("second")
        return "2"

    calls = [ToolCall(id="1", name="first"), ToolCall(id="2", name="second")]
    result = await Agent(RefProvider([ask_many(*calls), "ok"]), tools=[first, second]).run("x")

    assert order == ["first", "second"]
    assert tool_results(result.state.messages) == [("first", "1"), ("second", "2")]


# -- stream ----------------------------------------------------------------------------------


def test_stream_signature() -> None:
    assert documented(Agent.stream, ("input", POS, EMPTY), ("session_id", KW, None))


async def test_stream_yields_trace_events_live_and_sets_last_result() -> None:
    provider = RefStreamingProvider(["Hello there friend"])
    agent = Agent(provider)

    events = [event async for event in agent.stream("hi")]

    assert all(isinstance(e, TraceEvent) for e in events)
    tokens = [e.data["text"] for e in events if e.type is EventType.TOKEN]
    assert "".join(tokens) == "Hello there friend"
    assert len(tokens) == 3
    assert events[-1].type is EventType.FINAL
    assert provider.streamed == 1
    assert agent.last_result is not None
    assert agent.last_result.answer == "Hello there friend"
    assert agent.last_result.ok


async def test_stream_runs_tools_and_continues_a_session() -> None:
    provider = RefStreamingProvider([ask("add", a=1, b=2), "three", "still three"])
    agent = Agent(provider, tools=[add])

    events = [e async for e in agent.stream("1+2?", session_id="s-stream")]
    types = [e.type for e in events]
    assert EventType.TOOL_CALL in types and EventType.TOOL_RESULT in types
    assert agent.last_result is not None and agent.last_result.answer == "three"

    [e async for e in agent.stream("again?", session_id="s-stream")]
    assert agent.last_result.answer == "still three"
    assert agent.last_result.state.session_id == "s-stream"
    assert [m.content for m in provider.prompts[-1]][-1] == "again?"


# -- run_sync / resume_sync ------------------------------------------------------------------


def test_run_sync_signature() -> None:
    assert documented(Agent.run_sync, ("input", POS, EMPTY), ("session_id", KW, None))


def test_resume_sync_signature() -> None:
    assert documented(Agent.resume_sync, ("token", POS, EMPTY), ("decision", POS, "approve"))


def test_run_sync_runs_outside_an_event_loop() -> None:
    agent = Agent(RefProvider(["one", "two"]))

    first = agent.run_sync("hi", session_id="sync-1")
    second = agent.run_sync("again", session_id="sync-1")

    assert (first.answer, second.answer) == ("one", "two")
    assert len(second.state.messages) == 4
    assert agent.last_result is second


def test_resume_sync_continues_a_pause() -> None:
    executed: list[int] = []

    @tool(approve=True)
    async def pay(amount: int) -> str:
        """Pay."""
        executed.append(amount)
        return "paid"

    agent = Agent(RefProvider([ask("pay", amount=3), "done"]), tools=[pay])
    paused = agent.run_sync("pay 3")
    assert paused.interrupted and executed == []

    result = agent.resume_sync(paused.state.session_id, "approve")

    assert result.answer == "done"
    assert executed == [3]


# -- resume signature (behaviour in test_resume.py) ------------------------------------------


def test_resume_signature() -> None:
    assert documented(Agent.resume, ("token", POS, EMPTY), ("decision", POS, "approve"))


# -- as_tool ---------------------------------------------------------------------------------


def test_as_tool_signature() -> None:
    assert documented(
        Agent.as_tool,
        ("name", KW, None),
        ("description", KW, None),
        ("max_depth", KW, 8),
    )


def test_as_tool_builds_a_tool_taking_input() -> None:
    child = Agent(RefProvider(), name="researcher")

    named = child.as_tool()
    renamed = child.as_tool(name="expert", description="Ask the expert.")
    anonymous = Agent(RefProvider()).as_tool()

    assert isinstance(named, Tool)
    assert named.name == "researcher"
    assert renamed.name == "expert" and renamed.description == "Ask the expert."
    assert anonymous.name == "subagent"
    assert named.parameters["properties"]["input"]["type"] == "string"
    assert named.parameters["required"] == ["input"]
    assert named.description


async def test_as_tool_runs_the_sub_agent_and_returns_its_answer() -> None:
    child_provider = RefProvider(["Paris"])
    child = Agent(child_provider, name="geo")
    parent_provider = RefProvider([ask("geo", input="capital of France?"), "It is Paris."])
    parent = Agent(parent_provider, tools=[child.as_tool()])

    result = await parent.run("Where?")

    assert result.answer == "It is Paris."
    assert tool_results(result.state.messages) == [("geo", "Paris")]
    assert child_provider.prompts[0][-1].content == "capital of France?"


async def test_as_tool_child_usage_counts_for_the_parent() -> None:
    child = Agent(RefProvider([costly("child says hi", 0.25)]), name="child")
    parent = Agent(
        RefProvider([ask("child", input="go"), costly("ok", 0.5)]),
        tools=[child.as_tool()],
    )

    result = await parent.run("x")

    assert result.usage.cost_usd == pytest.approx(0.75)


class DepthProbe(Middleware):
    """Records the delegation depth of every run it sees."""

    def __init__(self) -> None:
        self.depths: list[int] = []

    async def on_run_start(self, state: State) -> None:
        self.depths.append(state.depth)


async def test_as_tool_records_the_delegation_depth_on_the_child_state() -> None:
    # reference bug (DESIGN §6): State.depth was never set, so max_depth never tripped
    probe = DepthProbe()
    grandchild = Agent(RefProvider(["leaf"]), name="leaf", middleware=[probe])
    child = Agent(
        RefProvider([ask("leaf", input="down"), "mid"]),
        name="mid",
        tools=[grandchild.as_tool()],
        middleware=[probe],
    )
    parent = Agent(
        RefProvider([ask("mid", input="down"), "top"]),
        tools=[child.as_tool()],
        middleware=[probe],
    )

    result = await parent.run("go")

    assert result.answer == "top"
    assert probe.depths == [0, 1, 2]


async def test_guards_max_depth_trips_through_as_tool() -> None:
    leaf_provider = RefProvider(["never called"])
    leaf = Agent(leaf_provider, name="leaf", guards=Guards(max_depth=1))
    child = Agent(
        RefProvider([ask("leaf", input="down"), "mid gave up"]),
        name="mid",
        tools=[leaf.as_tool()],
    )
    parent = Agent(RefProvider([ask("mid", input="down"), "top"]), tools=[child.as_tool()])

    result = await parent.run("go")

    assert result.ok
    assert leaf_provider.calls == []  # depth 2 > max_depth 1: stopped before its first step
    assert isinstance(child.provider, RefProvider)
    [(name, text)] = tool_results(child.provider.prompts[-1])
    assert name == "leaf" and text is not None and "max_depth" in text


async def test_as_tool_max_depth_bounds_a_delegation_cycle() -> None:
    probe = DepthProbe()

    def delegate_to(name: str):
        def reply(messages: list[Message], tools: object) -> object:
            if messages[-1].role is Role.TOOL:
                return f"done ({messages[-1].content})"
            return ask(name, "d1", input="again")

        return reply

    a = Agent(RefProvider([delegate_to("b")] * 10), name="a", middleware=[probe])
    b = Agent(RefProvider([delegate_to("a")] * 10), name="b", middleware=[probe])
    a.tools["b"] = b.as_tool(max_depth=3)
    b.tools["a"] = a.as_tool(max_depth=3)

    with anyio.fail_after(10):
        result = await a.run("start the cycle")

    assert result.ok
    assert probe.depths == [0, 1, 2, 3, 4]  # depth 4 > 3 stops before calling its model
    assert isinstance(a.provider, RefProvider) and isinstance(b.provider, RefProvider)
    assert len(a.provider.calls) + len(b.provider.calls) == 8  # 4 runs x (delegate + answer)


async def test_stream_events_arrive_while_the_run_is_still_going() -> None:
    received_first_token = anyio.Event()

    class Live:
        async def complete(self, messages: object, tools: object = None, **kw: object) -> object:
            raise AssertionError("stream() should be used")

        async def stream(
            self, messages: list[Message], tools: object = None, **kwargs: object
        ) -> AsyncIterator[StreamChunk]:
            yield StreamChunk(delta="first")
            await received_first_token.wait()  # only the consumer can release this
            yield StreamChunk(delta=" second")
            yield StreamChunk(response=respond("first second"))

    agent = Agent(Live())
    tokens: list[str] = []
    with anyio.fail_after(10):
        async for event in agent.stream("x"):
            if event.type is EventType.TOKEN:
                tokens.append(event.data["text"])
                received_first_token.set()

    assert tokens == ["first", " second"]
    assert agent.last_result is not None and agent.last_result.answer == "first second"
