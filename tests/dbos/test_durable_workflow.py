"""`DurableWorkflow` in one process on SQLite: sequential, parallel and graph runs as DBOS
workflows with the same results as without DBOS, named steps in a replay-stable order,
replay from a recorded step, approvals inside a pattern, cancellation and listing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
import pytest
from dbos import DBOS
from pydantic import BaseModel

import spine_dbos
from spine_core import (
    Agent,
    FunctionProvider,
    Message,
    ModelResponse,
    ResumeError,
    Role,
    StopReason,
    ToolCall,
    tool,
)
from spine_orchestration import (
    END,
    START,
    Graph,
    Handoff,
    NodeContext,
    Parallel,
    Sequential,
    append,
)

pytestmark = pytest.mark.anyio

executed: list[str] = []
node_calls: list[str] = []


@tool
def shout(text: str) -> str:
    """Upper-case a text.

    Args:
        text: The text.
    """
    executed.append(f"shout {text}")
    return text.upper()


@tool(approve=True)
def publish(text: str) -> str:
    """Publish a text (needs a human's approval).

    Args:
        text: The text.
    """
    executed.append(f"publish {text}")
    return f"published {text}"


def member(name: str, tool_name: str) -> Agent:
    """An agent that calls `tool_name` on its task once, then answers `<name>: <result>`."""

    def reply(messages: list[Message], tools: Any, settings: Any) -> Any:
        task = next(m.text for m in messages if m.role is Role.USER)
        if not any(m.role is Role.TOOL for m in messages):
            call = ToolCall(id=f"{name}-1", name=tool_name, arguments={"text": task[-24:]})
            return ModelResponse(
                message=Message(role=Role.ASSISTANT, content="", tool_calls=[call])
            )
        return f"{name}: {messages[-1].text}"

    tools = {"shout": shout, "publish": publish}
    return Agent(FunctionProvider(reply), tools=[tools[tool_name]], name=name)


@tool
async def slow(text: str) -> str:
    """Wait a long time.

    Args:
        text: Ignored.
    """
    await anyio.sleep(30)
    return text


def triage_model(messages: list[Message], tools: Any, settings: Any) -> Any:
    call = ToolCall(id="t-1", name="transfer_to_billing", arguments={"reason": "money"})
    return ModelResponse(message=Message(role=Role.ASSISTANT, content="", tool_calls=[call]))


def slow_model(messages: list[Message], tools: Any, settings: Any) -> Any:
    call = ToolCall(id="s-1", name="slow", arguments={"text": "x"})
    return ModelResponse(message=Message(role=Role.ASSISTANT, content="", tool_calls=[call]))


chain = Sequential(member("first", "shout"), member("second", "shout"), name="t-chain")
fan = Parallel(
    member("left", "shout"), member("middle", "shout"), member("right", "shout"), name="t-fan"
)
gated = Sequential(member("drafter", "shout"), member("publisher", "publish"), name="t-gated")


class Essay(TypedDict):
    topic: str
    draft: str
    notes: Annotated[list[str], append]
    verdict: str


def polish(state: Essay) -> dict[str, Any]:
    node_calls.append("polish")
    return {"draft": state["draft"] + "!", "notes": ["polished"]}


def review(state: Essay, ctx: NodeContext) -> dict[str, Any]:
    node_calls.append("review")
    verdict = ctx.interrupt(f"accept '{state['draft']}'?") if "?" in state["topic"] else "auto"
    return {"verdict": str(verdict), "notes": ["reviewed"]}


def essay_graph(name: str) -> Any:
    graph = Graph(Essay, name=name)
    graph.add_node("writer", member("writer", "shout"), input="topic", output="draft")
    graph.add_node("polish", polish, writes=["draft"])
    graph.add_node("review", review)
    graph.add_edge(START, "writer").add_edge("writer", "polish").add_edge("polish", "review")
    graph.add_edge("review", END)
    return graph.compile()


essay = essay_graph("t-essay")


class Counter(BaseModel):
    n: int = 0
    seen: Annotated[list[int], append] = []


def bump(state: Counter) -> dict[str, Any]:
    node_calls.append(f"bump {state.n}")
    return {"n": state.n + 1, "seen": [state.n]}


counting = Graph(Counter, name="t-count").add_node("bump", bump)
counting.add_edge(START, "bump")
counting.add_conditional_edges("bump", lambda s: END if s.n >= 3 else "bump", ["bump", END])
durable_counting = spine_dbos.durable(counting.compile(), queue=None)
desk = Handoff(
    {
        "triage": Agent(FunctionProvider(triage_model), name="triage"),
        "billing": member("billing", "shout"),
    },
    start="triage",
    name="t-desk",
)
stalled = Sequential(
    Agent(FunctionProvider(slow_model), tools=[slow], name="staller"), name="t-stall"
)

durable_chain = spine_dbos.DurableWorkflow(chain, queue=None)
durable_fan = spine_dbos.DurableWorkflow(fan, queue=None)
durable_gated = spine_dbos.DurableWorkflow(gated, queue=None)
twice = Sequential(member("asker", "publish"), member("again", "publish"), name="t-twice")
durable_twice = spine_dbos.DurableWorkflow(twice, queue=None)
durable_essay = spine_dbos.durable(essay, queue=None)
durable_desk = spine_dbos.DurableWorkflow(desk, queue=None)
durable_stalled = spine_dbos.DurableWorkflow(stalled, queue=None)


@pytest.fixture(scope="module", autouse=True)
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    path: Path = tmp_path_factory.mktemp("dbos_patterns") / "dbos.sqlite"
    spine_dbos.launch(f"sqlite:///{path}")
    yield
    spine_dbos.shutdown()


async def step_names(workflow_id: str) -> list[str]:
    return [s["function_name"] for s in await DBOS.list_workflow_steps_async(workflow_id)]


async def test_a_sequential_run_is_one_workflow_with_the_plain_runs_result() -> None:
    plain = await chain.run("make it loud", session_id="plain-chain")
    executed.clear()
    result = await durable_chain.run("make it loud", run_id="chain-run")
    assert result.stopped_reason is StopReason.FINAL
    assert result.answer == plain.answer == "second: FIRST: MAKE IT LOUD"
    assert [m.answer for m in result.members] == [m.answer for m in plain.members]
    assert result.path == ["first", "second"]
    assert executed == ["shout make it loud", "shout first: MAKE IT LOUD"]
    assert await step_names("chain-run") == [
        "spine.model",
        "spine.tool:shout",
        "spine.model",
        "spine.model",
        "spine.tool:shout",
        "spine.model",
    ]


async def test_a_graph_run_is_one_workflow_with_the_plain_runs_values() -> None:
    plain = await essay.run({"topic": "dbos"}, session_id="plain-essay")
    node_calls.clear()
    result = await durable_essay.run({"topic": "dbos"}, run_id="essay-run")
    assert result.stopped_reason is StopReason.FINAL
    assert result.values == plain.values
    assert result.values["draft"] == "writer: DBOS!"
    assert result.values["notes"] == ["polished", "reviewed"]
    assert result.step == plain.step
    assert node_calls == ["polish", "review"]
    assert await step_names("essay-run") == [
        "spine.model",
        "spine.tool:shout",
        "spine.model",
        "spine.node:polish",
        "spine.node:review",
    ]


async def test_a_graph_on_a_pydantic_state_returns_an_instance_of_it() -> None:
    node_calls.clear()
    result = await durable_counting.run(Counter(n=1), run_id="count-run")
    assert result.stopped_reason is StopReason.FINAL
    assert isinstance(result.values, Counter)
    assert (result.values.n, result.values.seen) == (3, [1, 2])
    assert node_calls == ["bump 1", "bump 2"]
    assert await step_names("count-run") == ["spine.node:bump", "spine.node:bump"]


async def test_parallel_branches_run_in_agent_order_inside_the_workflow() -> None:
    plain = await fan.run("spread", session_id="plain-fan")
    executed.clear()
    result = await durable_fan.run("spread", run_id="fan-run")
    assert result.stopped_reason is StopReason.FINAL
    assert result.answer == plain.answer
    assert (
        result.answer
        == "[left]\nleft: SPREAD\n\n[middle]\nmiddle: SPREAD\n\n[right]\nright: SPREAD"
    )
    steps = await DBOS.list_workflow_steps_async("fan-run")
    assert [s["function_name"] for s in steps] == [
        "spine.model",
        "spine.tool:shout",
        "spine.model",
    ] * 3
    assert [s["output"]["response"]["message"]["content"] for s in steps[2::3]] == [
        "left: SPREAD",
        "middle: SPREAD",
        "right: SPREAD",
    ]


async def test_a_replay_from_a_recorded_step_reruns_only_the_later_calls() -> None:
    executed.clear()
    await durable_fan.run("again", run_id="fan-replayed")
    assert len(executed) == 3
    executed.clear()
    # A fork re-executes the workflow: steps before 4 (the first branch) come from the
    # record, the rest run again, which is what a recovery after a crash at step 4 does.
    handle = await DBOS.fork_workflow_async("fan-replayed", 4)
    replayed = await durable_fan.result(handle.workflow_id)
    assert replayed.answer == (
        "[left]\nleft: AGAIN\n\n[middle]\nmiddle: AGAIN\n\n[right]\nright: AGAIN"
    )
    assert executed == ["shout again", "shout again"]  # middle's and right's, not left's
    assert await step_names(handle.workflow_id) == await step_names("fan-replayed")


async def test_a_handoff_run_transfers_durably_like_the_plain_run() -> None:
    plain = await desk.run("refund me", session_id="plain-desk")
    result = await durable_desk.run("refund me", run_id="desk-run")
    assert result.stopped_reason is StopReason.FINAL
    assert result.answer == plain.answer == "billing: REFUND ME"
    assert result.path == plain.path == ["triage", "billing"]
    assert await step_names("desk-run") == [
        "spine.model",
        "spine.tool:transfer_to_billing",
        "spine.model",
        "spine.tool:shout",
        "spine.model",
    ]


async def test_a_pattern_runs_timeout_stops_it_durably() -> None:
    with anyio.fail_after(20):
        result = await durable_stalled.run("wait", timeout_s=0.5)
    assert result.stopped_reason is StopReason.TIMEOUT


async def test_an_approval_in_a_member_waits_and_resume_runs_the_tool_once() -> None:
    executed.clear()
    paused = await durable_gated.run("ship it", run_id="gated-run")
    assert paused.stopped_reason is StopReason.INTERRUPT
    assert paused.interrupt is not None and paused.interrupt.kind == "approval"
    assert paused.interrupt.data["agent"] == "publisher"
    assert paused.resume_token == "gated-run#1"
    assert executed == ["shout ship it"]
    assert (await durable_gated.result("gated-run")).resume_token == "gated-run#1"
    done = await durable_gated.resume(paused.resume_token, "approve")
    assert done.stopped_reason is StopReason.FINAL
    assert done.answer == "publisher: published drafter: SHIP IT"
    assert executed == ["shout ship it", "publish drafter: SHIP IT"]
    with pytest.raises(ResumeError, match="stale"):
        await durable_gated.resume(paused.resume_token, "approve")
    assert executed == ["shout ship it", "publish drafter: SHIP IT"]


async def test_a_late_decision_for_an_earlier_pause_never_answers_the_next_one() -> None:
    executed.clear()
    first = await durable_twice.run("twice", run_id="twice-run")
    assert first.resume_token == "twice-run#1"
    second = await durable_twice.resume(first.resume_token, "approve")
    assert second.resume_token == "twice-run#2"
    assert executed == ["publish twice"]
    stray = {"pause": 1, "decision": "approve", "answer": None, "reason": None}
    await DBOS.send_async("twice-run", stray, spine_dbos.DECISION_TOPIC)  # arrives first
    with pytest.raises(ResumeError, match="stale"):
        await durable_twice.resume(first.resume_token, "approve")
    done = await durable_twice.resume(second.resume_token, "no", reason="once is enough")
    assert done.stopped_reason is StopReason.FINAL
    assert done.answer is not None and "once is enough" in done.answer
    assert executed == ["publish twice"]


async def test_of_two_decisions_for_one_pause_one_wins() -> None:
    executed.clear()
    paused = await durable_gated.run("race", run_id="gated-race")
    assert paused.resume_token is not None
    token = paused.resume_token
    outcomes: list[object] = []

    async def decide(decision: str) -> None:
        try:
            outcomes.append(await durable_gated.resume(token, decision, reason=decision))
        except ResumeError as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as group:
        group.start_soon(decide, "approve")
        group.start_soon(decide, "veto")
    assert sorted(type(o).__name__ for o in outcomes) == ["ResumeError", "TeamResult"]
    winner = next(o for o in outcomes if not isinstance(o, ResumeError))
    approved = "published" in str(getattr(winner, "answer", ""))
    published = [e for e in executed if e.startswith("publish")]
    assert published == (["publish drafter: RACE"] if approved else [])


async def test_a_rejected_approval_in_a_member_never_runs_the_tool() -> None:
    executed.clear()
    paused = await durable_gated.run("hold it", run_id="gated-rejected")
    assert paused.resume_token is not None
    done = await durable_gated.resume(paused.resume_token, "no", reason="not today")
    assert done.stopped_reason is StopReason.FINAL
    assert done.answer is not None and "not today" in done.answer
    assert executed == ["shout hold it"]


async def test_a_graph_nodes_interrupt_is_answered_by_resume() -> None:
    node_calls.clear()
    paused = await durable_essay.run({"topic": "why?"}, run_id="essay-asks")
    assert paused.stopped_reason is StopReason.INTERRUPT
    assert paused.interrupt is not None and paused.interrupt.question == "accept 'writer: WHY?!'?"
    assert paused.resume_token is not None
    done = await durable_essay.resume(paused.resume_token, answer="yes, ship")
    assert done.stopped_reason is StopReason.FINAL
    assert done.values["verdict"] == "yes, ship"
    assert node_calls == ["polish", "review", "review"]  # the node runs again with its answer


async def test_a_cancelled_paused_run_cannot_be_resumed() -> None:
    executed.clear()
    paused = await durable_gated.run("drop it", run_id="gated-cancelled")
    assert paused.resume_token is not None
    assert await durable_gated.cancel("gated-cancelled") == 1
    assert (await durable_gated.result("gated-cancelled")).stopped_reason is StopReason.CANCELLED
    with pytest.raises(ResumeError):
        await durable_gated.resume(paused.resume_token, "approve")
    assert executed == ["shout drop it"]


async def test_runs_are_listed_by_pattern_and_session() -> None:
    await durable_chain.run("list me", session_id="listed")
    runs = await durable_chain.list_runs(session_id="listed")
    assert len(runs) == 1
    assert runs[0].agent == "t-chain" and runs[0].status == "SUCCESS"
    assert runs[0].stopped_reason == "final"
    assert all(r.agent == "t-chain" for r in await durable_chain.list_runs())


def test_durable_picks_the_wrapper_and_rejects_what_it_cannot_run() -> None:
    assert isinstance(
        spine_dbos.durable(member("solo", "shout"), queue=None), spine_dbos.DurableAgent
    )
    assert isinstance(durable_essay, spine_dbos.DurableWorkflow)
    with pytest.raises(TypeError, match="DurableAgent"):
        spine_dbos.DurableWorkflow(member("solo", "shout"))
    with pytest.raises(TypeError, match="compile"):
        spine_dbos.DurableWorkflow(Graph(Essay))
