"""Conformance kit for `CheckpointStore` implementations.

Subclass `CheckpointStoreContract` in a test module and provide a `store` fixture; pytest
then runs every contract test against your store:

    import pytest
    from spine_core.testing import CheckpointStoreContract

    class TestMyStore(CheckpointStoreContract):
        @pytest.fixture
        async def store(self):
            async with MyStore(...) as store:
                yield store

        # optional: exercise migration of data written by an older Spine
        async def write_raw_state(self, store, data):
            ...  # persist `data` (a version-1 dict) the way your store lays it out

Tests use fresh random session and tenant ids, so a store shared between tests is fine.
"""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import pytest

from ..checkpoint import CheckpointStore
from ..errors import CheckpointConflict
from ..messages import ImagePart, Message, Role, TextPart, Thinking, ToolCall, Usage
from ..state import STATE_VERSION, InterruptRequest, RunStatus, State
from ..stop import StopReason

__all__ = ["CheckpointStoreContract", "v1_state_data"]

_ODD_TEXT = (
    "naïve café ✓ 日本語 עברית 🧠👩‍💻 \u200b zero-width, \x00 nul, \x1b[31m escape, "
    "\\x00 backslashes \\u0000 ' \" ; DROP TABLE x; -- \ud7ff \ue000 \U0010fffd"
)


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def _conversation(session_id: str, *, tenant_id: str | None = None) -> State:
    call = ToolCall(id="call_1", name="lookup", arguments={"q": "weather", "n": [1, 2.5, None]})
    return State(
        session_id=session_id,
        agent="contract",
        tenant_id=tenant_id,
        step=1,
        usage=Usage(input_tokens=12, output_tokens=7, cost_usd=0.0004, requests=1),
        messages=[
            Message.user("What's the weather?"),
            Message(
                role=Role.ASSISTANT,
                content="",
                tool_calls=[call],
                thinking=[Thinking(text="need a tool", signature="sig")],
            ),
            Message.tool("sunny", call.id, call.name),
        ],
        scratch={"customer": {"id": 7, "tags": ["a", "b"]}},
    )


def v1_state_data(session_id: str, *, tenant_id: str | None = None) -> dict[str, Any]:
    """A session as Spine's first state format (version 1) persisted it: messages under
    `history` with JSON-string tool arguments, the revision under `rev`, token usage as
    `prompt_tokens` / `completion_tokens`, no `depth`."""
    return {
        "version": 1,
        "session_id": session_id,
        "agent": "legacy",
        "tenant_id": tenant_id,
        "status": "completed",
        "stopped_reason": "final",
        "rev": 3,
        "step": 2,
        "usage": {"prompt_tokens": 30, "completion_tokens": 9, "cost_usd": 0.002},
        "history": [
            {"role": "user", "content": "add 1 and 2"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c1", "name": "add", "arguments": '{"a": 1, "b": 2}'}],
            },
            {"role": "tool", "content": "3", "tool_call_id": "c1", "name": "add"},
            {"role": "assistant", "content": "1 + 2 = 3"},
        ],
        "interrupt": None,
        "metadata": {"origin": "v1"},
        "created_at": 1_700_000_000.0,
        "updated_at": 1_700_000_100.0,
    }


class CheckpointStoreContract:
    """The `CheckpointStore` contract as pytest tests; see the module docstring.

    A subclass must provide a `store` fixture (sync or async, may yield) returning the store
    under test.
    """

    pytestmark = pytest.mark.anyio

    async def write_raw_state(self, store: Any, data: dict[str, Any]) -> None:
        """Override to persist `data` (see `v1_state_data`) exactly as an older Spine wrote
        it into your store's layout; the migration test is skipped when this is not
        overridden."""
        pytest.skip("write_raw_state is not provided for this store")

    # --- round trip -----------------------------------------------------------------------

    async def test_get_unknown_session_returns_none(self, store: CheckpointStore) -> None:
        assert await store.get(_id("missing")) is None

    async def test_round_trip_preserves_every_field(self, store: CheckpointStore) -> None:
        state = _conversation(_id("rt"), tenant_id=_id("t"))
        state.status = RunStatus.INTERRUPTED
        state.stopped_reason = StopReason.INTERRUPT
        state.depth = 2
        state.messages.append(
            Message(
                role=Role.USER,
                parts=[TextPart(text="look"), ImagePart(url="https://x/y.png", media_type="p")],
            )
        )
        state.pending = InterruptRequest(
            id="int-1",
            kind="approval",
            tool_call=ToolCall(id="c9", name="pay", arguments={"usd": 12.5}),
            question="Pay?",
            data={"payee": "acme"},
        )
        await store.put(state)
        loaded = await store.get(state.session_id)
        assert loaded is not None
        assert loaded.model_dump(exclude={"updated_at"}) == state.model_dump(exclude={"updated_at"})
        assert loaded.updated_at == pytest.approx(state.updated_at)
        assert loaded.version == STATE_VERSION

    async def test_first_put_sets_revision_one(self, store: CheckpointStore) -> None:
        state = _conversation(_id("new"))
        assert state.revision == 0
        await store.put(state)
        assert state.revision == 1
        loaded = await store.get(state.session_id)
        assert loaded is not None and loaded.revision == 1

    async def test_each_put_appends_messages_and_bumps_revision(
        self, store: CheckpointStore
    ) -> None:
        state = _conversation(_id("append"))
        await store.put(state)
        for i in range(5):
            state.messages.append(Message.user(f"turn {i}"))
            state.step += 1
            await store.put(state)
        assert state.revision == 6
        loaded = await store.get(state.session_id)
        assert loaded is not None
        assert [m.content for m in loaded.messages[-5:]] == [f"turn {i}" for i in range(5)]
        assert len(loaded.messages) == 8 and loaded.step == 6 and loaded.revision == 6

    async def test_header_only_change_is_stored(self, store: CheckpointStore) -> None:
        state = _conversation(_id("hdr"))
        await store.put(state)
        state.status = RunStatus.DONE
        state.stopped_reason = StopReason.FINAL
        state.scratch["done"] = True
        await store.put(state)
        loaded = await store.get(state.session_id)
        assert loaded is not None
        assert loaded.status is RunStatus.DONE
        assert loaded.stopped_reason is StopReason.FINAL
        assert loaded.scratch["done"] is True
        assert len(loaded.messages) == 3

    async def test_shorter_history_replaces_stored_history(self, store: CheckpointStore) -> None:
        state = _conversation(_id("rewrite"))
        await store.put(state)
        state.messages = [Message.user("summary of earlier turns"), Message.user("next")]
        await store.put(state)
        loaded = await store.get(state.session_id)
        assert loaded is not None
        assert [m.content for m in loaded.messages] == ["summary of earlier turns", "next"]
        loaded.messages.append(Message.user("after"))
        await store.put(loaded)
        again = await store.get(state.session_id)
        assert again is not None
        assert [m.content for m in again.messages] == ["summary of earlier turns", "next", "after"]

    async def test_returned_state_is_independent_of_the_store(self, store: CheckpointStore) -> None:
        state = _conversation(_id("copy"))
        await store.put(state)
        state.messages.append(Message.user("not saved"))
        state.scratch["not"] = "saved"
        loaded = await store.get(state.session_id)
        assert loaded is not None
        loaded.messages.clear()
        loaded.usage.input_tokens = 999
        fresh = await store.get(state.session_id)
        assert fresh is not None
        assert len(fresh.messages) == 3
        assert "not" not in fresh.scratch and fresh.usage.input_tokens == 12

    # --- compare-and-set ------------------------------------------------------------------

    async def test_stale_revision_conflicts_and_changes_nothing(
        self, store: CheckpointStore
    ) -> None:
        sid = _id("cas")
        first = _conversation(sid)
        await store.put(first)
        a = await store.get(sid)
        b = await store.get(sid)
        assert a is not None and b is not None
        a.messages.append(Message.user("from a"))
        await store.put(a)
        b.messages.append(Message.user("from b"))
        b.status = RunStatus.ERROR
        with pytest.raises(CheckpointConflict):
            await store.put(b)
        assert b.revision == 1
        loaded = await store.get(sid)
        assert loaded is not None
        assert loaded.revision == 2
        assert loaded.messages[-1].content == "from a"
        assert loaded.status is RunStatus.RUNNING

    async def test_new_session_conflicts_when_it_already_exists(
        self, store: CheckpointStore
    ) -> None:
        sid = _id("dup")
        await store.put(_conversation(sid))
        other = State(session_id=sid, messages=[Message.user("other")])
        with pytest.raises(CheckpointConflict):
            await store.put(other)
        loaded = await store.get(sid)
        assert loaded is not None and len(loaded.messages) == 3

    async def test_revision_ahead_of_store_conflicts(self, store: CheckpointStore) -> None:
        state = _conversation(_id("ahead"))
        state.revision = 5
        with pytest.raises(CheckpointConflict):
            await store.put(state)
        assert await store.get(state.session_id) is None

    async def test_concurrent_writers_exactly_one_commits(self, store: CheckpointStore) -> None:
        sid = _id("race")
        await store.put(_conversation(sid))
        copies = [await store.get(sid) for _ in range(8)]
        won: list[int] = []
        lost: list[int] = []

        async def write(i: int, state: State) -> None:
            state.messages.append(Message.user(f"writer {i}"))
            try:
                await store.put(state)
            except CheckpointConflict:
                lost.append(i)
            else:
                won.append(i)

        async with anyio.create_task_group() as tg:
            for i, copy in enumerate(copies):
                assert copy is not None
                tg.start_soon(write, i, copy)
        assert len(won) == 1 and len(lost) == 7
        loaded = await store.get(sid)
        assert loaded is not None
        assert loaded.revision == 2
        assert loaded.messages[-1].content == f"writer {won[0]}"
        assert len(loaded.messages) == 4

    # --- list and delete ------------------------------------------------------------------

    async def test_list_filters_by_tenant_and_status(self, store: CheckpointStore) -> None:
        tenant, other = _id("tenant"), _id("tenant")
        running = _conversation(_id("l1"), tenant_id=tenant)
        done = _conversation(_id("l2"), tenant_id=tenant)
        done.status = RunStatus.DONE
        foreign = _conversation(_id("l3"), tenant_id=other)
        for state in (running, done, foreign):
            await store.put(state)
        mine = await store.list(tenant_id=tenant)
        assert {i.session_id for i in mine} == {running.session_id, done.session_id}
        completed = await store.list(tenant_id=tenant, status="done")
        assert [i.session_id for i in completed] == [done.session_id]
        by_enum = await store.list(tenant_id=tenant, status=RunStatus.RUNNING)
        assert [i.session_id for i in by_enum] == [running.session_id]
        everyone = {i.session_id for i in await store.list()}
        assert {running.session_id, done.session_id, foreign.session_id} <= everyone
        assert {i.session_id for i in await store.list(status="done")} >= {done.session_id}

    async def test_list_reports_header_fields(self, store: CheckpointStore) -> None:
        tenant = _id("tenant")
        state = _conversation(_id("info"), tenant_id=tenant)
        await store.put(state)
        state.messages.append(Message.user("more"))
        state.step = 4
        await store.put(state)
        [info] = await store.list(tenant_id=tenant)
        assert info.session_id == state.session_id
        assert info.agent == "contract"
        assert info.tenant_id == tenant
        assert info.status is RunStatus.RUNNING
        assert info.revision == 2
        assert info.step == 4
        assert info.message_count == 4
        assert info.updated_at == pytest.approx(state.updated_at)

    async def test_delete_removes_the_session(self, store: CheckpointStore) -> None:
        tenant = _id("tenant")
        state = _conversation(_id("del"), tenant_id=tenant)
        await store.put(state)
        assert await store.delete(state.session_id) is True
        assert await store.get(state.session_id) is None
        assert await store.list(tenant_id=tenant) == []
        assert await store.delete(state.session_id) is False

    async def test_session_can_start_over_after_delete(self, store: CheckpointStore) -> None:
        sid = _id("again")
        await store.put(_conversation(sid))
        await store.delete(sid)
        fresh = State(session_id=sid, messages=[Message.user("new life")])
        await store.put(fresh)
        loaded = await store.get(sid)
        assert loaded is not None
        assert loaded.revision == 1
        assert [m.content for m in loaded.messages] == ["new life"]

    # --- old versions, size, content ------------------------------------------------------

    async def test_old_version_state_is_migrated_on_read(self, store: CheckpointStore) -> None:
        sid, tenant = _id("v1"), _id("tenant")
        await self.write_raw_state(store, v1_state_data(sid, tenant_id=tenant))
        loaded = await store.get(sid)
        assert loaded is not None
        assert loaded.version == STATE_VERSION
        assert loaded.revision == 3
        assert loaded.usage.input_tokens == 30 and loaded.usage.output_tokens == 9
        assert loaded.messages[1].tool_calls[0].arguments == {"a": 1, "b": 2}
        assert loaded.messages[-1].content == "1 + 2 = 3"
        assert loaded.depth == 0 and loaded.scratch == {"origin": "v1"}
        [info] = await store.list(tenant_id=tenant)
        assert info.revision == 3 and info.message_count == 4
        loaded.messages.append(Message.user("continue in v2"))
        await store.put(loaded)
        assert loaded.revision == 4
        again = await store.get(sid)
        assert again is not None
        assert again.version == STATE_VERSION and len(again.messages) == 5
        assert again.messages[1].tool_calls[0].arguments == {"a": 1, "b": 2}

    async def test_large_state_round_trips(self, store: CheckpointStore) -> None:
        state = State(session_id=_id("large"))
        state.messages = [Message.user(f"message {i} " + "x" * 40) for i in range(10_000)]
        await store.put(state)
        state.messages.append(Message.user("the 10,001st"))
        await store.put(state)
        loaded = await store.get(state.session_id)
        assert loaded is not None
        assert len(loaded.messages) == 10_001
        assert loaded.messages[0].text.startswith("message 0 ")
        assert loaded.messages[9_999].text.startswith("message 9999 ")
        assert loaded.messages[-1].content == "the 10,001st"

    async def test_unicode_and_binary_looking_content_round_trips(
        self, store: CheckpointStore
    ) -> None:
        sid = _id('odd ✓/:*?"<>|')
        call = ToolCall(id="c\u00e9", name="read_file", arguments={"bytes": _ODD_TEXT, "ö": 1})
        state = State(
            session_id=sid,
            messages=[
                Message.user(_ODD_TEXT),
                Message(role=Role.ASSISTANT, tool_calls=[call]),
                Message.tool("".join(chr(c) for c in range(1, 256)), call.id, call.name),
            ],
            scratch={"key ✓": _ODD_TEXT},
        )
        await store.put(state)
        loaded = await store.get(sid)
        assert loaded is not None
        assert loaded.messages == state.messages
        assert loaded.scratch == state.scratch
