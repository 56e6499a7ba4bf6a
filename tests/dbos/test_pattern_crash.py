"""Durable patterns and graphs under a SIGKILL, on SQLite and on Postgres: a worker killed
mid-pattern (after a member's tool side effect, before the pattern ends) is recovered by the
worker started after it; the run completes with the same answer, and every tool's side effect
happened exactly once."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from dbos import DBOSClient
from dbos_fleet import Fleet, effects, postgres_database, sqlite_effects
from dbos_pattern_app import QUEUE, patterns

import spine_dbos
from spine_core import StopReason

pytestmark = pytest.mark.anyio

APP = Path(__file__).with_name("dbos_pattern_app.py")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def urls(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("dbos_patterns_sqlite")
        yield f"sqlite:///{folder / 'dbos.sqlite'}", sqlite_effects(folder / "effects.sqlite")
        return
    with postgres_database() as url:
        yield url, url


async def kill_mid_pattern(
    urls: tuple[str, str], gate: Path, name: str, task: object, session: str
) -> tuple[Any, list[str], list[str]]:
    """Run pattern `name` on a worker, SIGKILL it while the gated member's model call waits
    (every member before it complete), start a new worker, open the gate; returns the result,
    the side effects' call keys and the run's step names."""
    system_url, effects_url = urls
    fleet = Fleet(system_url, effects_url, app=APP, SPINE_TEST_GATE_DIR=str(gate))
    client = DBOSClient(system_database_url=system_url, application_name="spine")
    try:
        fleet.start(1)
        durable = {
            d.name: spine_dbos.DurableWorkflow(d.pattern, queue=QUEUE, client=client)
            for d in patterns()
        }[name]
        run_id = await durable.start(task, session_id=session)
        with anyio.fail_after(30):
            while not (gate / "entered").exists():
                await anyio.sleep(0.05)
        before = [r[0] for r in effects(effects_url) if r[0].startswith(f"{session}/")]
        fleet.kill_all()
        fleet.start(1)  # a new executor id: it recovers the dead worker's run
        (gate / "open").touch()
        with anyio.fail_after(60):
            result = await durable.result(run_id)
        steps = [s["function_name"] for s in await client.list_workflow_steps_async(run_id)]
    finally:
        client.destroy()
        fleet.stop()
    assert before, "the members before the gated one had run their tools before the kill"
    rows = [r for r in effects(effects_url) if r[0].startswith(f"{session}/")]
    assert not [r for r in rows if r[4]], "a tool step DBOS had recorded as completed ran again"
    assert {r[3] for r in rows if r[0] in before} == set(fleet.killed)  # done by the dead worker
    return result, [r[0] for r in rows], steps


async def test_a_sequential_run_killed_mid_pattern_completes_with_each_tool_once(
    urls: tuple[str, str], tmp_path: Path
) -> None:
    result, calls, steps = await kill_mid_pattern(urls, tmp_path, "p-chain", "go", "chain-s")
    assert result.stopped_reason is StopReason.FINAL, result.error
    assert result.answer == "three ticked three"
    assert collections.Counter(calls) == {
        "chain-s/0:one-tick": 1,
        "chain-s/1:gated-two-tick": 1,
        "chain-s/2:three-tick": 1,
    }
    assert steps == ["spine.model", "spine.tool:tick", "spine.model"] * 3


async def test_a_parallel_run_killed_mid_fan_out_recovers_in_the_same_order(
    urls: tuple[str, str], tmp_path: Path
) -> None:
    result, calls, steps = await kill_mid_pattern(urls, tmp_path, "p-fan", "go", "fan-s")
    assert result.stopped_reason is StopReason.FINAL, result.error
    assert result.answer == (
        "[left]\nleft ticked left\n\n[gated-middle]\ngated-middle ticked gated-middle"
        "\n\n[right]\nright ticked right"
    )
    assert collections.Counter(calls) == {
        "fan-s/0:left-tick": 1,
        "fan-s/1:gated-middle-tick": 1,
        "fan-s/2:right-tick": 1,
    }
    assert steps == ["spine.model", "spine.tool:tick", "spine.model"] * 3


async def test_a_graph_run_killed_mid_step_completes_with_each_tool_once(
    urls: tuple[str, str], tmp_path: Path
) -> None:
    result, calls, steps = await kill_mid_pattern(
        urls, tmp_path, "p-graph", {"task": "go"}, "graph-s"
    )
    assert result.stopped_reason is StopReason.FINAL, result.error
    assert result.values == {
        "task": "go",
        "first": "head ticked head",
        "marks": ["after head ticked head", "gated-tail ticked gated-tail"],
    }
    assert collections.Counter(calls) == {
        "graph-s/1.first:head-tick": 1,
        "graph-s/2.gated:gated-tail-tick": 1,
    }
    assert steps == [
        "spine.model",
        "spine.tool:tick",
        "spine.model",
        "spine.node:mark",
        "spine.model",
        "spine.tool:tick",
        "spine.model",
    ]


async def test_a_pending_approval_in_a_pattern_survives_the_loss_of_its_worker(
    urls: tuple[str, str], tmp_path: Path
) -> None:
    system_url, effects_url = urls
    fleet = Fleet(system_url, effects_url, app=APP, SPINE_TEST_GATE_DIR=str(tmp_path))
    client = DBOSClient(system_database_url=system_url, application_name="spine")
    try:
        fleet.start(1)
        pattern = next(d.pattern for d in patterns() if d.name == "p-approved")
        durable = spine_dbos.DurableWorkflow(pattern, queue=QUEUE, client=client)
        with anyio.fail_after(60):
            paused = await durable.run("go", session_id="pilot-s")
            assert paused.stopped_reason is StopReason.INTERRUPT
            assert paused.interrupt is not None and paused.interrupt.tool_call.name == "launch"
            assert paused.resume_token is not None
            fleet.kill_all()  # the run was waiting for the decision on it
            fleet.start(1)
            done = await durable.resume(paused.resume_token, "approve")
    finally:
        client.destroy()
        fleet.stop()
    assert done.stopped_reason is StopReason.FINAL, done.error
    assert done.answer == "pilot launched pilot"
    calls = [r[0] for r in effects(effects_url) if r[0].startswith("pilot-s/")]
    assert collections.Counter(calls) == {"pilot-s/0:one-tick": 1, "pilot-s/1:pilot-launch": 1}
