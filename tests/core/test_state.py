"""State: the versioned format, migrate() of old states, pending tool calls."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from spine_core import (
    STATE_VERSION,
    Agent,
    InMemoryCheckpointStore,
    Message,
    Role,
    RunStatus,
    ScriptedProvider,
    State,
    StopReason,
    migrate,
    tool,
)

from .helpers import asks, call, tool_messages

V1 = Path(__file__).parent / "fixtures" / "state_v1.json"


def v1() -> dict[str, Any]:
    return json.loads(V1.read_text())


def test_migrate_v1_upgrades_every_field() -> None:
    data = migrate(v1())

    assert data["version"] == STATE_VERSION == 3
    assert data["revision"] == 4 and "rev" not in data
    assert data["depth"] == 0
    assert data["usage"] == {"input_tokens": 120, "output_tokens": 30, "cost_usd": 0.0021}
    assert "history" not in data
    assert data["messages"][1]["tool_calls"] == [
        {"id": "call_1", "name": "weather", "arguments": {"city": "Oslo"}},
        {"id": "call_2", "name": "weather", "arguments": {"city": "Paris", "unit": "C"}},
    ]
    for key in ("session_id", "agent", "tenant_id", "stopped_reason", "step"):
        assert data[key] == v1()[key]
    assert data["status"] == "done"  # v1/v2 "stopped" and "completed" are RunStatus.DONE
    assert data["scratch"] == v1()["metadata"] and data["pending"] is None


def test_migrate_does_not_modify_its_input() -> None:
    original = v1()
    before = copy.deepcopy(original)

    migrate(original)

    assert original == before


def test_state_load_validates_a_v1_state() -> None:
    state = State.load(v1())

    assert (state.session_id, state.agent, state.tenant_id) == ("legacy-7f3a", "travel", "acme")
    assert state.status is RunStatus.DONE
    assert state.stopped_reason is StopReason.TIMEOUT
    assert (state.revision, state.step, state.depth) == (4, 2, 0)
    assert (state.usage.input_tokens, state.usage.output_tokens) == (120, 30)
    assert [m.role for m in state.messages] == [Role.USER, Role.ASSISTANT, Role.TOOL]
    assert state.scratch == {"channel": "web"}
    assert state.pending_tool_calls() == [call("weather", "call_2", city="Paris", unit="C")]


def test_current_version_passes_through_unchanged() -> None:
    data = State(session_id="s").model_dump(mode="json")

    assert migrate(dict(data)) == data


def test_newer_version_is_refused() -> None:
    with pytest.raises(ValueError, match="newer"):
        migrate({"version": STATE_VERSION + 1, "session_id": "s"})


def test_state_round_trips_through_json() -> None:
    state = State(session_id="s", messages=[Message.user("hi"), asks(call("f", x=1))])

    assert State.load(json.loads(state.model_dump_json())) == state


@pytest.mark.anyio
async def test_v1_session_continues_in_a_current_agent() -> None:
    seen: list[dict[str, Any]] = []

    @tool
    async def weather(city: str, unit: str = "C") -> str:
        """Weather for a city."""
        seen.append({"city": city, "unit": unit})
        return f"{city}: 11 {unit}"

    legacy = State.load(v1())
    store = InMemoryCheckpointStore()
    await store.put(legacy.model_copy(update={"revision": 0}))  # seed a fresh store
    provider = ScriptedProvider(["Oslo 4 C, Paris 11 C"])
    agent = Agent(provider, tools=[weather], checkpoint=store, name="travel")

    result = await agent.run(None, session_id="legacy-7f3a")

    assert result.ok and result.answer == "Oslo 4 C, Paris 11 C"
    assert seen == [{"city": "Paris", "unit": "C"}]
    assert tool_messages(provider.prompts[0]) == [
        ("weather", "Oslo: 4 C", False),
        ("weather", "Paris: 11 C", False),
    ]
    stored = await store.get("legacy-7f3a")
    assert stored is not None and stored.version == STATE_VERSION
    assert stored.status is RunStatus.DONE


def test_pending_tool_calls_are_the_unanswered_calls_of_the_last_assistant_message() -> None:
    state = State(
        session_id="s",
        messages=[
            Message.user("go"),
            asks(call("a"), call("b"), call("c")),
            Message.tool("done", call("b").id, call("b").name),
        ],
    )

    assert state.pending_tool_calls() == [call("a"), call("c")]


def test_no_pending_calls_after_a_final_answer_or_in_an_empty_session() -> None:
    answered = State(
        session_id="s",
        messages=[
            Message.user("go"),
            asks(call("a")),
            Message.tool("x", call("a").id, call("a").name),
            Message.assistant("ok"),
        ],
    )

    assert answered.pending_tool_calls() == []
    assert State(session_id="e").pending_tool_calls() == []


def test_header_excludes_messages() -> None:
    header = State(session_id="s", messages=[Message.user("hi")]).header()

    assert "messages" not in header and header["session_id"] == "s"
