"""`State`: fields, add_message, add_usage, pending, scratch, status; and the reference's
persisted State format loading through `spine_core.migrate` (and resuming from it)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import BaseModel

from spine_core import (
    STATE_VERSION,
    Agent,
    CheckpointConflict,
    InMemoryCheckpointStore,
    Interrupt,
    Message,
    Middleware,
    Role,
    RunStatus,
    State,
    StopReason,
    ToolCall,
    Usage,
    migrate,
    tool,
)

from .refkit import RefProvider, ask, tool_results

pytestmark = pytest.mark.anyio

executed: list[str] = []


@pytest.fixture(autouse=True)
def _reset() -> None:
    executed.clear()


# -- the State model -------------------------------------------------------------------------


def test_state_fields_and_defaults() -> None:
    state = State(session_id="s1")

    assert isinstance(state, BaseModel)
    assert state.version == STATE_VERSION
    assert state.session_id == "s1"
    assert state.tenant_id is None
    assert state.messages == []
    assert state.step == 0
    assert state.usage == Usage()
    assert state.status is RunStatus.RUNNING
    assert state.depth == 0
    assert state.pending is None
    assert state.scratch == {}


def test_state_documented_field_names() -> None:
    assert {
        "version",
        "session_id",
        "tenant_id",
        "messages",
        "step",
        "usage",
        "status",
        "depth",
        "pending",
        "scratch",
    } <= set(State.model_fields)


def test_run_status_members() -> None:
    assert RunStatus.RUNNING == "running"
    assert RunStatus.INTERRUPTED == "interrupted"
    assert RunStatus.DONE == "done"
    assert RunStatus.ERROR == "error"


def test_add_message_appends() -> None:
    state = State(session_id="s")
    state.add_message(Message.system("sys"))
    state.add_message(Message.user("hi"))

    assert [(m.role, m.content) for m in state.messages] == [
        (Role.SYSTEM, "sys"),
        (Role.USER, "hi"),
    ]


def test_add_usage_adds() -> None:
    state = State(session_id="s")
    state.add_usage(Usage(input_tokens=3, output_tokens=1, cost_usd=0.5))
    state.add_usage(Usage(input_tokens=2, output_tokens=4, cost_usd=0.25))

    assert (state.usage.input_tokens, state.usage.output_tokens) == (5, 5)
    assert state.usage.cost_usd == pytest.approx(0.75)
    assert state.usage.total_tokens == 10


def test_state_scratch_and_status_are_mutable() -> None:
    state = State(session_id="s")
    state.scratch["seen"] = ["a"]
    state.status = RunStatus.DONE
    state.depth = 2
    assert (state.scratch, state.status, state.depth) == ({"seen": ["a"]}, RunStatus.DONE, 2)


def test_state_round_trips_through_model_dump() -> None:
    state = State(session_id="s", tenant_id="t", messages=[Message.user("hi")], step=3)
    again = State.model_validate(state.model_dump(mode="json"))
    assert again.messages == state.messages
    assert (again.session_id, again.tenant_id, again.step) == ("s", "t", 3)


async def test_status_follows_the_run() -> None:
    @tool(approve=True)
    async def gated() -> str:
        """Needs approval."""
        return "ok"

    done = await Agent(RefProvider(["hi"])).run("x")
    paused = await Agent(RefProvider([ask("gated")]), tools=[gated]).run("x")

    class Boom:
        async def complete(self, messages: Any, tools: Any = None, **kwargs: Any) -> Any:
            raise RuntimeError("down")

    failed = await Agent(Boom()).run("x")

    assert done.state.status is RunStatus.DONE
    assert paused.state.status is RunStatus.INTERRUPTED
    assert paused.state.pending is not None
    assert failed.state.status is RunStatus.ERROR


async def test_state_scratch_persists_across_runs_of_a_session() -> None:
    seen: list[int] = []

    class CountTurns(Middleware):
        async def on_run_start(self, state: State) -> None:
            state.scratch["turns"] = state.scratch.get("turns", 0) + 1
            seen.append(state.scratch["turns"])

    store = InMemoryCheckpointStore()
    agent = Agent(RefProvider(["a", "b", "c"]), middleware=[CountTurns()], checkpoint=store)
    for text in ("one", "two", "three"):
        await agent.run(text, session_id="s")

    saved = await store.get("s")
    assert seen == [1, 2, 3]
    assert saved is not None and saved.scratch["turns"] == 3


async def test_a_stale_revision_is_not_written() -> None:
    # reference bug (DESIGN §6): State.revision was bumped but never compared
    store = InMemoryCheckpointStore()
    await store.put(State(session_id="s"))
    mine, theirs = await store.get("s"), await store.get("s")
    assert mine is not None and theirs is not None

    mine.scratch["writer"] = "me"
    await store.put(mine)
    theirs.scratch["writer"] = "them"
    with pytest.raises(CheckpointConflict):
        await store.put(theirs)

    saved = await store.get("s")
    assert saved is not None and saved.scratch == {"writer": "me"}


# -- the reference's persisted format --------------------------------------------------------


def ref_message(role: str, content: str | None = None, **extra: Any) -> dict[str, Any]:
    """A message as the reference's `Message.model_dump()` writes it."""
    base: dict[str, Any] = {
        "role": role,
        "content": content,
        "parts": None,
        "tool_calls": [],
        "tool_call_id": None,
        "name": None,
    }
    return {**base, **extra}


TRANSFER_CALL = {"id": "c1", "name": "transfer", "arguments": {"amount": 5}}
BALANCE_CALL = {"id": "c2", "name": "balance", "arguments": {}}


def ref_state(
    *,
    version: int = 1,
    status: str = "done",
    messages: list[dict[str, Any]] | None = None,
    pending: dict[str, Any] | None = None,
    scratch: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A state as the reference's `State.model_dump()` writes it."""
    return {
        "version": version,
        "session_id": "ref-1",
        "tenant_id": "acme",
        "messages": messages
        if messages is not None
        else [
            ref_message("system", "Be brief."),
            ref_message("user", "hi"),
            ref_message("assistant", "hello"),
        ],
        "step": 1,
        "usage": {"input_tokens": 10, "output_tokens": 4, "cost_usd": 0.02},
        "status": status,
        "depth": 0,
        "pending": pending,
        "scratch": scratch if scratch is not None else {},
    }


def approval_pending(calls: list[dict[str, Any]] | None = None, **scratch: Any) -> dict[str, Any]:
    calls = calls or [TRANSFER_CALL]
    return ref_state(
        status="interrupted",
        messages=[
            ref_message("user", "send 5"),
            ref_message("assistant", None, tool_calls=calls),
        ],
        pending={
            "call": TRANSFER_CALL,
            "mode": "approve",
            "payload": {"tool": "transfer", "arguments": {"amount": 5}},
        },
        scratch=scratch,
    )


VERSIONS = [1, 2, 3]


@pytest.mark.parametrize("version", VERSIONS)
def test_migrate_upgrades_a_reference_done_state(version: int) -> None:
    data = ref_state(version=version, scratch={"loop_guard": ["sig"]})
    original = copy.deepcopy(data)

    upgraded = migrate(data)
    state = State.model_validate(upgraded)

    assert upgraded["version"] == STATE_VERSION
    assert data == original  # the input is not modified
    assert state.session_id == "ref-1"
    assert state.tenant_id == "acme"
    assert [(m.role, m.content) for m in state.messages] == [
        (Role.SYSTEM, "Be brief."),
        (Role.USER, "hi"),
        (Role.ASSISTANT, "hello"),
    ]
    assert state.step == 1
    assert (state.usage.input_tokens, state.usage.output_tokens) == (10, 4)
    assert state.usage.cost_usd == pytest.approx(0.02)
    assert state.status is RunStatus.DONE
    assert state.depth == 0
    assert state.pending is None
    assert state.scratch == {"loop_guard": ["sig"]}


@pytest.mark.parametrize("version", VERSIONS)
def test_state_load_reads_a_reference_interrupted_state(version: int) -> None:
    data = approval_pending()
    data["version"] = version

    state = State.load(data)

    assert state.status is RunStatus.INTERRUPTED
    assert state.pending is not None
    assert state.pending.tool_call == ToolCall(**TRANSFER_CALL)
    assert state.pending.kind == "approval"
    assert state.messages[-1].tool_calls == [ToolCall(**TRANSFER_CALL)]


def test_reference_tool_messages_load() -> None:
    data = ref_state(
        messages=[
            ref_message("user", "add"),
            ref_message("assistant", None, tool_calls=[TRANSFER_CALL]),
            ref_message("tool", "sent 5", tool_call_id="c1", name="transfer"),
            ref_message("assistant", "done"),
        ]
    )
    state = State.load(data)

    tool_message = state.messages[2]
    assert (tool_message.role, tool_message.content) == (Role.TOOL, "sent 5")
    assert (tool_message.tool_call_id, tool_message.name) == ("c1", "transfer")


def test_reference_error_status_loads() -> None:
    assert State.load(ref_state(status="error")).status is RunStatus.ERROR
    assert State.load(ref_state(status="running")).status is RunStatus.RUNNING


@tool(approve=True)
async def transfer(amount: int) -> str:
    """Move money."""
    executed.append(f"transfer {amount}")
    return f"sent {amount}"


@tool
async def balance() -> str:
    """Read the balance."""
    executed.append("balance")
    return "100"


@tool
async def ask_colour() -> str:
    """Ask for a colour."""
    raise Interrupt("Which colour?")


async def store_with(data: dict[str, Any]) -> InMemoryCheckpointStore:
    store = InMemoryCheckpointStore()
    await store.put(State.load(data))
    return store


async def test_resume_a_reference_approval_pause() -> None:
    store = await store_with(approval_pending())
    provider = RefProvider(["sent it"])
    agent = Agent(provider, tools=[transfer, balance], checkpoint=store)

    result = await agent.resume("ref-1", "approve")

    assert result.answer == "sent it"
    assert executed == ["transfer 5"]
    assert tool_results(provider.prompts[0]) == [("transfer", "sent 5")]


async def test_reject_a_reference_approval_pause() -> None:
    store = await store_with(approval_pending())
    provider = RefProvider(["not sent"])
    agent = Agent(provider, tools=[transfer, balance], checkpoint=store)

    result = await agent.resume("ref-1", "no")

    assert result.answer == "not sent"
    assert executed == []
    [(name, text)] = tool_results(provider.prompts[0])
    assert name == "transfer" and text is not None and "no" in text


async def test_resume_a_reference_pause_with_deferred_calls() -> None:
    data = approval_pending(
        [TRANSFER_CALL, BALANCE_CALL], deferred_calls=[BALANCE_CALL], note="kept"
    )
    store = await store_with(data)
    provider = RefProvider(["both done"])
    agent = Agent(provider, tools=[transfer, balance], checkpoint=store)

    result = await agent.resume("ref-1", "approve")

    assert result.answer == "both done"
    assert executed == ["transfer 5", "balance"]  # each exactly once
    assert tool_results(provider.prompts[0]) == [("transfer", "sent 5"), ("balance", "100")]
    assert result.state.scratch.get("note") == "kept"


async def test_resume_a_reference_manual_interrupt() -> None:
    colour_call = {"id": "q1", "name": "ask_colour", "arguments": {}}
    data = ref_state(
        status="interrupted",
        messages=[
            ref_message("user", "pick"),
            ref_message("assistant", None, tool_calls=[colour_call]),
        ],
        pending={"call": colour_call, "mode": "manual", "payload": {"question": "Which colour?"}},
    )
    store = await store_with(data)
    provider = RefProvider(["green it is"])
    agent = Agent(provider, tools=[ask_colour], checkpoint=store)

    result = await agent.resume("ref-1", "green")

    assert result.answer == "green it is"
    assert tool_results(provider.prompts[0]) == [("ask_colour", "green")]


async def test_continue_a_reference_done_session() -> None:
    store = await store_with(ref_state())
    provider = RefProvider(["hello again"])
    agent = Agent(provider, checkpoint=store, system="Be brief.")

    result = await agent.run("still there?", session_id="ref-1")

    assert result.answer == "hello again"
    assert [m.content for m in provider.prompts[0]] == [
        "Be brief.",
        "hi",
        "hello",
        "still there?",
    ]
    assert result.stopped_reason is StopReason.FINAL
