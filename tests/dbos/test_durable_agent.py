"""`DurableAgent` in one process on SQLite: steps, idempotent run ids, approvals, answers,
cancellation, timeouts, sessions across turns and listing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from dbos import DBOS

import spine_dbos
from spine_core import (
    Agent,
    FunctionProvider,
    Interrupt,
    Message,
    ModelResponse,
    ResumeError,
    Role,
    StopReason,
    ToolCall,
    ToolContext,
    tool,
)

pytestmark = pytest.mark.anyio

executed: list[str] = []
model_calls: list[int] = []


@tool
def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first.
        b: The second.
    """
    executed.append(f"add {a}+{b}")
    return a + b


@tool(approve=True)
def wire(amount: int) -> str:
    """Wire money.

    Args:
        amount: The amount.
    """
    executed.append(f"wire {amount}")
    return f"wired {amount}"


@tool
def ask(question: str) -> str:
    """Ask the user.

    Args:
        question: The question.
    """
    raise Interrupt(question)


@tool
async def slow(seconds: float) -> str:
    """Wait.

    Args:
        seconds: How long.
    """
    await anyio.sleep(seconds)
    return "slept"


@tool
def whoami(ctx: ToolContext[Any]) -> str:
    """Say which session this is."""
    return f"session {ctx.session_id}"


def _call(name: str, **arguments: Any) -> ModelResponse:
    call = ToolCall(id=f"c-{name}", name=name, arguments=arguments)
    return ModelResponse(message=Message(role=Role.ASSISTANT, content="", tool_calls=[call]))


def scripted(first: str, **arguments: Any) -> FunctionProvider:
    """Calls tool `first` once, then answers with the last tool result (or the user text)."""

    def reply(messages: list[Message], tools: Any, settings: Any) -> Any:
        model_calls.append(1)
        since_user = messages[max(i for i, m in enumerate(messages) if m.role is Role.USER) :]
        if not any(m.role is Role.TOOL for m in since_user):
            return _call(first, **arguments)
        return f"{len(messages)} messages; last: {messages[-1].text}"

    return FunctionProvider(reply)


adder = spine_dbos.DurableAgent(
    Agent(scripted("add", a=2, b=3), tools=[add], name="t-adder"), queue=None
)
wirer = spine_dbos.DurableAgent(
    Agent(scripted("wire", amount=9), tools=[wire], name="t-wirer"), queue=None
)
asker = spine_dbos.DurableAgent(
    Agent(scripted("ask", question="Which city?"), tools=[ask], name="t-asker"), queue=None
)
greeter = spine_dbos.DurableAgent(
    Agent(scripted("whoami"), tools=[whoami], name="t-greeter"), queue=None
)
sleeper = spine_dbos.DurableAgent(
    Agent(scripted("slow", seconds=30.0), tools=[slow], name="t-sleeper"), queue=None
)


@pytest.fixture(scope="module", autouse=True)
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    path: Path = tmp_path_factory.mktemp("dbos_local") / "dbos.sqlite"
    spine_dbos.launch(f"sqlite:///{path}")
    yield
    spine_dbos.shutdown()


async def test_model_and_tool_calls_are_named_dbos_steps() -> None:
    result = await adder.run("add 2 and 3", run_id="steps-run")
    assert result.stopped_reason is StopReason.FINAL
    assert result.answer == "3 messages; last: 5"
    steps = [s["function_name"] for s in await DBOS.list_workflow_steps_async("steps-run")]
    assert steps == ["spine.load", "spine.model", "spine.tool:add", "spine.model", "spine.commit"]


async def test_a_tool_with_a_context_parameter_gets_the_runs_context() -> None:
    result = await greeter.run("who am I?", session_id="me")
    assert result.answer == "3 messages; last: session me"


async def test_a_run_id_submitted_twice_runs_once() -> None:
    executed.clear()
    first = await adder.run("add 2 and 3", run_id="once-run")
    calls = len(model_calls)
    again = await adder.run("add 2 and 3", run_id="once-run")
    assert again.answer == first.answer
    assert len(model_calls) == calls
    assert executed == ["add 2+3"]


async def test_approval_pauses_and_resume_runs_the_tool_once() -> None:
    executed.clear()
    paused = await wirer.run("wire 9", session_id="wire-1")
    assert paused.stopped_reason is StopReason.INTERRUPT
    assert paused.interrupt is not None and paused.interrupt.kind == "approval"
    assert executed == []
    assert paused.resume_token is not None
    done = await wirer.resume(paused.resume_token, "approve")
    assert done.stopped_reason is StopReason.FINAL
    assert done.answer is not None and done.answer.endswith("last: wired 9")
    assert executed == ["wire 9"]
    with pytest.raises(ResumeError, match="stale"):
        await wirer.resume(paused.resume_token, "approve")
    assert executed == ["wire 9"]


async def test_a_rejected_approval_never_runs_the_tool() -> None:
    executed.clear()
    paused = await wirer.run("wire 9", session_id="wire-2")
    assert paused.resume_token is not None
    done = await wirer.resume(paused.resume_token, "no", reason="too much")
    assert done.stopped_reason is StopReason.FINAL
    assert done.answer is not None and "rejected" in done.answer and "too much" in done.answer
    assert executed == []


async def test_a_tools_interrupt_is_answered_by_resume() -> None:
    paused = await asker.run("plan a trip", session_id="trip")
    assert paused.stopped_reason is StopReason.INTERRUPT
    assert paused.interrupt is not None and paused.interrupt.question == "Which city?"
    assert paused.resume_token is not None
    done = await asker.resume(paused.resume_token, answer="Lisbon")
    assert done.answer is not None and done.answer.endswith("last: Lisbon")


async def test_a_cancelled_pause_cannot_be_resumed() -> None:
    executed.clear()
    paused = await wirer.run("wire 9", session_id="wire-3", run_id="cancel-run")
    assert paused.resume_token is not None
    assert await wirer.cancel("cancel-run") == 1  # the waiter
    with pytest.raises(ResumeError):
        await wirer.resume(paused.resume_token, "approve")
    assert executed == []


async def test_timeout_stops_the_run_durably() -> None:
    with anyio.fail_after(20):
        result = await sleeper.run("wait", timeout_s=0.5)
    assert result.stopped_reason is StopReason.TIMEOUT


async def test_a_session_continues_across_runs_and_runs_are_listed() -> None:
    first = await adder.run("add 2 and 3", session_id="chat")
    second = await adder.run("and again", session_id="chat")
    assert first.answer == "3 messages; last: 5"
    assert second.answer == "7 messages; last: 5"  # the first turn's history is there
    runs = await adder.list_runs(session_id="chat")
    assert len(runs) == 2
    assert {r.status for r in runs} == {"SUCCESS"}
    assert {r.stopped_reason for r in runs} == {"final"}
    assert all(r.session_id == "chat" and r.agent == "t-adder" for r in runs)
