"""`invoke_workflow {name}` spans for the orchestration patterns and graphs: names, kinds,
attributes and the nesting of their members' spans."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import anyio
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

from spine_core import (
    Agent,
    Interrupt,
    Message,
    ProviderError,
    ScriptedProvider,
    StopReason,
    TestProvider,
    ToolCall,
    tool,
)
from spine_orchestration import (
    END,
    START,
    Graph,
    Handoff,
    Parallel,
    Sequential,
    add_observer,
    append,
    supervisor,
)
from spine_otel import OTelMiddleware

from .conftest import Telemetry

pytestmark = pytest.mark.anyio


@pytest.fixture
def otel(telemetry: Telemetry) -> Iterator[OTelMiddleware]:
    """One middleware, on the agents and registered as the workflow observer."""
    middleware = telemetry.middleware()
    remove = add_observer(middleware)
    yield middleware
    remove()


def _call(name: str, call_id: str = "call_1", **arguments: Any) -> Message:
    return Message.assistant(tool_calls=[ToolCall(id=call_id, name=name, arguments=arguments)])


def _agent(name: str, otel: OTelMiddleware, *answers: str) -> Agent:
    provider = ScriptedProvider(list(answers) or [f"{name} done"], model=f"{name}-m")
    return Agent(provider, name=name, middleware=[otel])


def _child_of(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return (
        span.parent is not None
        and span.parent.span_id == parent.context.span_id
        and span.context.trace_id == parent.context.trace_id
    )


async def test_sequential_members_nest_under_the_workflow_span(
    telemetry: Telemetry, otel: OTelMiddleware
) -> None:
    chain = Sequential(_agent("draft", otel), _agent("edit", otel), name="pipeline")
    result = await chain.run("write", session_id="w1")
    assert result.ok and result.answer == "edit done"

    workflow = telemetry.one("invoke_workflow pipeline")
    assert workflow.kind is SpanKind.INTERNAL and workflow.parent is None
    assert workflow.attributes is not None
    assert workflow.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert workflow.attributes["gen_ai.workflow.name"] == "pipeline"
    assert workflow.attributes["gen_ai.conversation.id"] == "w1"
    assert workflow.attributes["spine.workflow.kind"] == "sequential"
    assert workflow.attributes["spine.stop_reason"] == "final"
    assert workflow.status.status_code is StatusCode.UNSET
    draft, edit = telemetry.one("invoke_agent draft"), telemetry.one("invoke_agent edit")
    assert _child_of(draft, workflow) and _child_of(edit, workflow)
    assert draft.end_time is not None and edit.start_time is not None
    assert draft.end_time <= edit.start_time  # in order
    assert _child_of(telemetry.one("chat draft-m"), draft)
    assert {s.context.trace_id for s in telemetry.spans()} == {workflow.context.trace_id}
    assert len(telemetry.spans()) == 5  # the workflow, and an agent + a chat per member


async def test_parallel_branches_are_siblings_under_the_workflow_span(
    telemetry: Telemetry, otel: OTelMiddleware
) -> None:
    fan = Parallel(_agent("left", otel), _agent("right", otel))
    result = await fan.run("go")
    assert result.ok
    workflow = telemetry.one("invoke_workflow parallel")
    assert workflow.attributes is not None
    assert workflow.attributes["spine.workflow.kind"] == "parallel"
    for name in ("left", "right"):
        assert _child_of(telemetry.one(f"invoke_agent {name}"), workflow)


async def test_a_failed_workflow_marks_its_span(telemetry: Telemetry, otel: OTelMiddleware) -> None:
    broken = Agent(
        ScriptedProvider([ProviderError("down", kind="server", status=500)], model="m"),
        name="broken",
        middleware=[otel],
    )
    result = await Sequential(broken, name="fragile").run("go")
    assert result.stopped_reason is StopReason.ERROR
    workflow = telemetry.one("invoke_workflow fragile")
    assert workflow.status.status_code is StatusCode.ERROR
    assert workflow.status.description is not None and "broken" in workflow.status.description
    assert workflow.attributes is not None
    assert workflow.attributes["error.type"] == "workflow_error"
    assert workflow.attributes["spine.stop_reason"] == "error"
    member = telemetry.one("invoke_agent broken")
    assert _child_of(member, workflow)
    assert member.attributes is not None and member.attributes["error.type"] == "server"


async def test_handoff_visits_nest_under_the_workflow_span(
    telemetry: Telemetry, otel: OTelMiddleware
) -> None:
    triage = Agent(
        ScriptedProvider([_call("transfer_to_billing", reason="a refund")], model="t-m"),
        name="triage",
        middleware=[otel],
    )
    team = Handoff({"triage": triage, "billing": _agent("billing", otel)}, start="triage")
    result = await team.run("refund me")
    assert result.ok and result.path == ["triage", "billing"]
    workflow = telemetry.one("invoke_workflow handoff")
    assert workflow.attributes is not None
    assert workflow.attributes["spine.workflow.kind"] == "handoff"
    first, second = telemetry.one("invoke_agent triage"), telemetry.one("invoke_agent billing")
    assert _child_of(first, workflow) and _child_of(second, workflow)
    assert _child_of(telemetry.one("execute_tool transfer_to_billing"), first)


class Outer(BaseModel):
    input: str = ""
    output: str = ""
    log: Annotated[list[str], append] = []


class Inner(BaseModel):
    log: Annotated[list[str], append] = []


async def test_graph_agent_nodes_and_sub_graphs_nest(
    telemetry: Telemetry, otel: OTelMiddleware
) -> None:
    async def note(state: Inner) -> dict[str, Any]:
        return {"log": ["inner ran"]}

    inner = Graph(Inner, name="inner").add_node("note", note)
    inner.add_edge(START, "note").add_edge("note", END)
    outer = (
        Graph(Outer, name="outer")
        .add_node("writer", _agent("writer", otel, "an essay"))
        .add_node("sub", inner)
        .add_edge(START, "writer")
        .add_edge("writer", "sub")
        .add_edge("sub", END)
    )
    result = await outer.compile().run({"input": "tea"}, session_id="g1")
    assert result.ok
    assert isinstance(result.values, Outer)
    assert result.values.output == "an essay" and result.values.log == ["inner ran"]

    top, sub = telemetry.one("invoke_workflow outer"), telemetry.one("invoke_workflow inner")
    assert top.parent is None and top.kind is SpanKind.INTERNAL
    assert top.attributes is not None and top.attributes["spine.workflow.kind"] == "graph"
    assert top.attributes["gen_ai.conversation.id"] == "g1"
    assert _child_of(sub, top)
    assert sub.attributes is not None and sub.attributes["gen_ai.workflow.name"] == "inner"
    assert _child_of(telemetry.one("invoke_agent writer"), top)


async def test_supervisor_workers_nest_under_the_delegating_tool_span(
    telemetry: Telemetry, otel: OTelMiddleware
) -> None:
    worker = Agent(TestProvider("w-m"), name="researcher", middleware=[otel])
    boss = supervisor(
        ScriptedProvider([_call("research", "call_r", input="dig"), "found it"], model="b-m"),
        {"research": worker},
        name="boss",
        middleware=[otel],
    )
    result = await boss.run("find out")
    assert result.answer == "found it"
    root = telemetry.one("invoke_agent boss")
    delegation = telemetry.one("execute_tool research")
    sub = telemetry.one("invoke_agent researcher")
    assert root.parent is None  # a supervisor is an agent: no workflow span of its own
    assert _child_of(delegation, root) and _child_of(sub, delegation)
    assert not telemetry.named("invoke_workflow boss")


async def test_resumed_workflow_is_a_new_trace_linked_to_the_paused_one(
    telemetry: Telemetry, otel: OTelMiddleware
) -> None:
    @tool
    def ask(question: str) -> str:
        """Ask the user.

        Args:
            question: The question.
        """
        raise Interrupt(question)

    asker = Agent(
        ScriptedProvider([_call("ask", question="colour?"), "blue it is"], model="m"),
        name="asker",
        tools=[ask],
        middleware=[otel],
    )
    chain = Sequential(_agent("intro", otel), asker, name="survey")
    paused = await chain.run("start", session_id="p1")
    assert paused.interrupted and paused.resume_token is not None
    first = telemetry.one("invoke_workflow survey")
    assert first.attributes is not None and first.attributes["spine.stop_reason"] == "interrupt"
    assert _child_of(telemetry.one("invoke_agent asker"), first)
    telemetry.exporter.clear()

    done = await chain.resume(paused.resume_token, answer="blue")
    assert done.ok and done.answer == "blue it is"
    second = telemetry.one("invoke_workflow survey")
    assert second.context.trace_id != first.context.trace_id
    assert [link.context.span_id for link in second.links] == [first.context.span_id]
    assert second.links[0].attributes == {"spine.previous_run": True}
    resumed_member = telemetry.one("invoke_agent asker")  # the member's resume
    assert _child_of(resumed_member, second)
    assert not telemetry.named("invoke_agent intro")  # finished before the pause: not re-run


async def test_without_the_observer_no_workflow_span_is_made(telemetry: Telemetry) -> None:
    otel = telemetry.middleware()
    remove = add_observer(otel)
    remove()
    await Sequential(_agent("solo", otel), name="quiet").run("go")
    assert not telemetry.named("invoke_workflow quiet")
    assert telemetry.one("invoke_agent solo").parent is None


async def test_concurrent_workflow_runs_keep_to_their_own_traces(
    telemetry: Telemetry, otel: OTelMiddleware
) -> None:
    chain = Sequential(
        Agent(TestProvider("m"), name="one", middleware=[otel]),
        Agent(TestProvider("m"), name="two", middleware=[otel]),
        name="pair",
    )
    runs = 8
    async with anyio.create_task_group() as group:
        for i in range(runs):
            group.start_soon(lambda i=i: chain.run(f"task {i}", session_id=f"c{i}"))
    roots = telemetry.named("invoke_workflow pair")
    by_trace = {root.context.trace_id: root for root in roots}
    assert len(roots) == len(by_trace) == runs  # one trace per run
    for span in telemetry.spans():
        root = by_trace[span.context.trace_id]
        assert root.attributes is not None
        session = str(root.attributes["gen_ai.conversation.id"])
        if span.name.startswith("invoke_agent"):
            assert _child_of(span, root)
            assert span.attributes is not None
            assert str(span.attributes["gen_ai.conversation.id"]).startswith(f"{session}/")
    assert len(telemetry.spans()) == runs * (1 + 2 * 2)  # the workflow, 2 agents + 2 chats
