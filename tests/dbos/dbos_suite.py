"""The crash suite, shared by the Postgres and SQLite tests (and sized by env vars)."""

from __future__ import annotations

import collections
import os
import time

import anyio
import dbos_fleet_app as fleet_app
from dbos import DBOSClient
from dbos_fleet import Chaos, Fleet, effects

import spine_dbos
from spine_core import StopReason


def client_agents(system_url: str) -> tuple[DBOSClient, dict[str, spine_dbos.DurableAgent]]:
    client = DBOSClient(system_database_url=system_url, application_name="spine")
    agents = {}
    for local in fleet_app.agents():
        agents[local.name] = spine_dbos.DurableAgent(
            local.agent, name=local.name, queue=local.queue, client=client, poll_interval_s=0.2
        )
    return client, agents


async def run_under_chaos(
    fleet: Fleet, system_url: str, effects_url: str, *, workers: int, runs: int, kills: int
) -> dict[str, int]:
    """Submit `runs` runs to `workers` workers while `kills` SIGKILLs land; check that every
    run completes and no completed tool call ran again. Returns figures for the report."""
    fleet.start(workers)
    client, agents = client_agents(system_url)
    counter = agents["counter"]
    started = time.monotonic()
    try:
        ids = [await counter.start("count", session_id=f"s{i}") for i in range(runs)]
        chaos = Chaos(fleet, kills=kills, interval_s=0.4, seed=runs * 31 + kills)
        chaos.start()
        results = {}

        async def collect(run_id: str) -> None:
            results[run_id] = await counter.result(run_id)

        with anyio.move_on_after(float(os.environ.get("SPINE_SOAK_DBOS_TIMEOUT_S", "90"))):
            async with anyio.create_task_group() as tg:
                for run_id in ids:
                    tg.start_soon(collect, run_id)
            while chaos.is_alive():  # every kill lands, even when the runs finished first
                await anyio.sleep(0.1)
        if len(results) < runs or chaos.is_alive():
            stuck = [
                (s.workflow_id, s.status, s.executor_id)
                for s in client.list_workflows(load_input=False, load_output=False)
                if s.status != "SUCCESS"
            ]
            serving = [p.pid for p in fleet.serving()]
            raise AssertionError(
                f"{runs - len(results)} runs unfinished after {chaos.done} kills; "
                f"serving {serving}; killed {fleet.killed}; not done: {stuck}"
            )
        assert chaos.error is None, chaos.error
    finally:
        client.destroy()
    elapsed = time.monotonic() - started
    calls = fleet_app.CALLS
    for run_id, result in results.items():
        assert result.stopped_reason is StopReason.FINAL, (run_id, result.error)
        assert result.answer == f"counted to {calls}"
        tool_results = [m.text for m in result.state.messages if m.role.value == "tool"]
        assert tool_results == [f"counted {n}" for n in range(calls)], (run_id, tool_results)
    rows = effects(effects_url)
    assert not [r for r in rows if r[4]], "a step DBOS had recorded as completed ran again"
    per_call = collections.Counter(r[0] for r in rows)
    expected = {f"s{i}:call{n}" for i in range(runs) for n in range(calls)}
    assert set(per_call) == expected
    repeated = {key: n for key, n in per_call.items() if n > 1}
    killed = set(fleet.killed)
    for key in repeated:  # only a call in flight at a kill may run again (at-least-once)
        earlier = sorted((r for r in rows if r[0] == key), key=lambda r: r[2])[:-1]
        assert all(r[3] in killed for r in earlier), key
    return {
        "runs": runs,
        "kills": chaos.done,
        "seconds": round(elapsed, 1),
        "tool_calls": len(expected),
        "in_flight_reruns": sum(n - 1 for n in repeated.values()),
    }


async def approval_survives_losing_every_worker(
    fleet: Fleet, system_url: str, effects_url: str
) -> list[str]:
    """Pause a run, kill every worker, approve from this process; returns the transfer's
    side effects (one, once the new workers recovered the waiting run)."""
    if len(fleet.serving()) < 2:
        fleet.start(2 - len(fleet.serving()))
    client, agents = client_agents(system_url)
    approver = agents["approver"]
    try:
        with anyio.fail_after(60):
            paused = await approver.run("move 5", session_id="pay")
            assert paused.stopped_reason is StopReason.INTERRUPT
            assert paused.interrupt is not None and paused.interrupt.tool_call.name == "transfer"
            assert paused.resume_token is not None
            fleet.kill_all()  # the waiter was running on one of them
            assert not [r for r in effects(effects_url) if r[0].startswith("pay:")]
            fleet.start(2)  # new workers, new executor ids: a peer must recover the waiter
            done = await approver.resume(paused.resume_token, "approve")
    finally:
        client.destroy()
    assert done.stopped_reason is StopReason.FINAL
    assert done.answer == "transfer: moved 5"
    return [r[0] for r in effects(effects_url) if r[0].startswith("pay:")]
