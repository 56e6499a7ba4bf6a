"""InMemoryCheckpointStore: compare-and-set revisions, append-only writes, listing."""

from __future__ import annotations

import pytest

from spine_core import (
    Agent,
    CheckpointConflict,
    InMemoryCheckpointStore,
    Message,
    RunStatus,
    ScriptedProvider,
    State,
    ToolCall,
    ToolContext,
    tool,
)


@pytest.mark.anyio
async def test_put_increments_the_revision() -> None:
    store = InMemoryCheckpointStore()
    state = State(session_id="s")

    await store.put(state)
    await store.put(state)

    assert state.revision == 2
    stored = await store.get("s")
    assert stored is not None and stored.revision == 2


@pytest.mark.anyio
async def test_stale_writer_gets_a_conflict_and_nothing_is_overwritten() -> None:
    store = InMemoryCheckpointStore()
    await store.put(State(session_id="s"))
    one = await store.get("s")
    two = await store.get("s")
    assert one is not None and two is not None
    one.messages.append(Message.user("from worker one"))
    await store.put(one)

    two.messages.append(Message.user("from worker two"))
    with pytest.raises(CheckpointConflict) as info:
        await store.put(two)

    assert (info.value.expected, info.value.actual) == (1, 2)
    stored = await store.get("s")
    assert stored is not None and [m.text for m in stored.messages] == ["from worker one"]


@pytest.mark.anyio
async def test_new_session_with_a_nonzero_revision_conflicts() -> None:
    with pytest.raises(CheckpointConflict):
        await InMemoryCheckpointStore().put(State(session_id="s", revision=3))


@pytest.mark.anyio
async def test_put_appends_only_new_messages_and_keeps_old_objects() -> None:
    store = InMemoryCheckpointStore()
    state = State(session_id="s", messages=[Message.user("a"), Message.assistant("b")])
    await store.put(state)
    first = await store.get("s")
    assert first is not None

    state.messages.append(Message.user("c"))
    await store.put(state)

    second = await store.get("s")
    assert second is not None
    assert [m.text for m in second.messages] == ["a", "b", "c"]
    assert all(x is y for x, y in zip(first.messages, second.messages, strict=False))
    assert second.messages[2] is state.messages[2]


@pytest.mark.anyio
async def test_put_does_not_serialise_or_copy_existing_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = InMemoryCheckpointStore()
    state = State(session_id="s", messages=[Message.user(str(i)) for i in range(50)])
    await store.put(state)
    touched: list[str] = []
    for name in ("model_copy", "model_dump", "model_dump_json"):
        original = getattr(Message, name)

        def spy(
            self: Message, *a: object, _n: str = name, _o: object = original, **k: object
        ) -> object:
            touched.append(_n)
            return _o(self, *a, **k)  # type: ignore[operator]

        monkeypatch.setattr(Message, name, spy)

    state.messages.append(Message.user("new"))
    await store.put(state)

    assert touched == []


@pytest.mark.anyio
async def test_get_returns_an_independent_copy() -> None:
    store = InMemoryCheckpointStore()
    await store.put(State(session_id="s", scratch={"k": 1}))
    copy = await store.get("s")
    assert copy is not None

    copy.messages.append(Message.user("local only"))
    copy.scratch["k"] = 2
    copy.usage.input_tokens = 99

    again = await store.get("s")
    assert again is not None
    assert (again.messages, again.scratch, again.usage.input_tokens) == ([], {"k": 1}, 0)


@pytest.mark.anyio
async def test_nested_scratch_is_copied_deeply_on_put_and_get() -> None:
    store = InMemoryCheckpointStore()
    marker = {"tags": ["a"], "pair": (1, [2]), "ids": {3}}
    cycle: list[object] = []
    cycle.append(cycle)
    state = State(session_id="s", scratch={"run": marker, "cycle": cycle})
    await store.put(state)
    marker["tags"].append("changed after put")
    marker["pair"][1].append(99)

    stored = await store.get("s")
    assert stored is not None
    assert stored.scratch["run"] == {"tags": ["a"], "pair": (1, [2]), "ids": {3}}
    assert type(stored.scratch["run"]["pair"]) is tuple  # not flattened to a list
    assert stored.scratch["cycle"][0] is stored.scratch["cycle"]  # a cycle survives the copy
    stored.scratch["run"]["tags"].append("local only")
    again = await store.get("s")
    assert again is not None and again.scratch["run"]["tags"] == ["a"]


@pytest.mark.anyio
async def test_unknown_session_is_none_and_delete_reports_existence() -> None:
    store = InMemoryCheckpointStore()
    await store.put(State(session_id="s"))

    assert await store.get("nope") is None
    assert await store.delete("s") is True
    assert await store.delete("s") is False
    assert await store.get("s") is None


@pytest.mark.anyio
async def test_list_filters_by_tenant_and_status() -> None:
    store = InMemoryCheckpointStore()
    await store.put(State(session_id="a", tenant_id="t1", status=RunStatus.DONE))
    await store.put(State(session_id="b", tenant_id="t1", status=RunStatus.INTERRUPTED))
    await store.put(State(session_id="c", tenant_id="t2", status=RunStatus.DONE))

    def ids(infos: list) -> list[str]:
        return sorted(i.session_id for i in infos)

    assert ids(await store.list()) == ["a", "b", "c"]
    assert ids(await store.list(tenant_id="t1")) == ["a", "b"]
    assert ids(await store.list(status="done")) == ["a", "c"]
    assert ids(await store.list(tenant_id="t1", status=RunStatus.INTERRUPTED)) == ["b"]


@pytest.mark.anyio
async def test_list_reports_message_count_and_revision() -> None:
    store = InMemoryCheckpointStore()
    agent = Agent(ScriptedProvider(["hello"]), checkpoint=store, tenant_id="acme")
    result = await agent.run("hi")

    [info] = await store.list(tenant_id="acme")

    assert info.session_id == result.session_id
    assert info.message_count == 2
    assert info.revision == result.state.revision
    assert info.status is RunStatus.DONE


@pytest.mark.anyio
async def test_a_final_answer_is_checkpointed_once_at_the_end_of_the_run() -> None:
    store = InMemoryCheckpointStore()
    agent = Agent(ScriptedProvider(["hello"]), checkpoint=store)

    result = await agent.run("hi")

    assert result.state.revision == 1
    stored = await store.get(result.session_id)
    assert stored is not None and [m.text for m in stored.messages] == ["hi", "hello"]


def _calling(tool_name: str) -> ScriptedProvider:
    call = ToolCall(id="c1", name=tool_name, arguments={})
    return ScriptedProvider([Message.assistant(tool_calls=[call]), "done"])


@pytest.mark.anyio
async def test_a_side_effecting_tool_runs_only_after_its_request_is_checkpointed() -> None:
    store = InMemoryCheckpointStore()
    seen: list[list[str]] = []

    @tool
    async def charge(ctx: ToolContext) -> str:
        """Charge the card."""
        stored = await store.get(ctx.session_id)
        assert stored is not None
        seen.append([m.role.value for m in stored.messages])
        return "charged"

    result = await Agent(_calling("charge"), tools=[charge], checkpoint=store).run("pay")

    assert result.ok
    assert seen == [["user", "assistant"]]  # the call was on record before it ran


@pytest.mark.anyio
async def test_a_read_only_tool_step_writes_one_checkpoint_after_its_results() -> None:
    store = InMemoryCheckpointStore()
    seen: list[list[str]] = []

    @tool(read_only=True)
    async def look(ctx: ToolContext) -> str:
        """Look something up."""
        stored = await store.get(ctx.session_id)
        seen.append([m.role.value for m in stored.messages] if stored else [])
        return "found"

    result = await Agent(_calling("look"), tools=[look], checkpoint=store).run("find")

    assert result.ok
    assert seen == [[]]  # nothing written before the read-only call
    assert result.state.revision == 2  # the call with its result, then the final answer
    stored = await store.get(result.session_id)
    assert stored is not None
    assert [m.role.value for m in stored.messages] == ["user", "assistant", "tool", "assistant"]


@pytest.mark.anyio
async def test_the_in_memory_store_drops_the_least_recently_used_session_past_its_bound() -> None:
    store = InMemoryCheckpointStore(max_sessions=2)
    for name in ("a", "b"):
        await store.put(State(session_id=name))
    await store.get("a")  # "b" is now the least recently used

    await store.put(State(session_id="c"))

    assert await store.get("b") is None
    assert await store.get("a") is not None and await store.get("c") is not None
    assert sorted(i.session_id for i in await store.list()) == ["a", "c"]


@pytest.mark.anyio
async def test_sessions_past_the_hot_bound_are_compacted_and_read_back_whole() -> None:
    store = InMemoryCheckpointStore(hot_sessions=1)
    first = State(session_id="first", messages=[Message.user("one"), Message.assistant("two")])
    await store.put(first)
    await store.put(State(session_id="second", messages=[Message.user("other")]))

    assert store._hot.keys() == {"second"}  # "first" is held as JSON now
    cold = await store.get("first")
    assert cold is not None and cold.messages == first.messages
    assert cold.messages[0] is not first.messages[0]  # decoded, not the run's objects

    cold.messages.append(Message.user("three"))
    await store.put(cold)
    again = await store.get("first")
    assert again is not None and [m.text for m in again.messages] == ["one", "two", "three"]
    [info] = [i for i in await store.list() if i.session_id == "first"]
    assert info.message_count == 3 and info.revision == 2


def test_a_store_needs_at_least_one_hot_session() -> None:
    with pytest.raises(ValueError, match="hot_sessions"):
        InMemoryCheckpointStore(hot_sessions=0)
