"""Workers: processes that execute Spine runs for a task queue.

`serve(spec_path, address=..., task_queue=...)` serves the agent of a YAML spec (the
`spine worker --temporal` command calls it); `create_worker` builds a `temporalio` `Worker`
for agents made in Python.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from spine_core import Agent

from . import _registry
from .activities import SpineActivities
from .agent import ActivityOptions, TemporalAgent
from .client import connect
from .workflow import SpineAgentWorkflow

__all__ = ["create_worker", "run_worker", "serve"]

SANDBOX = SandboxRestrictions.default.with_passthrough_modules(
    "spine_core",
    "anyio",
    "sniffio",
    *(
        f"spine_temporal.{name}"
        for name in (
            "_payloads",
            "_registry",
            "_remote",
            "activities",
            "agent",
            "binaries",
            "client",
            "worker",
        )
    ),
)
"""The workflow sandbox: Temporal's defaults, with Spine's kernel and this package's modules
other than `spine_temporal.workflow` passed through (the agents are built outside the
sandbox, on the worker); the workflow module itself is re-imported in the sandbox."""


def create_worker(
    client: Client,
    agents: Sequence[TemporalAgent],
    *,
    deps: Any = None,
    task_queue: str | None = None,
    **worker_options: Any,
) -> Worker:
    """A `Worker` running the `spine.agent` workflow and Spine's activities for `agents`.

    Args:
        client: A client made with `spine_temporal.connect`.
        agents: The agents served (all on one task queue).
        deps: The dependencies object tools get as `ctx.deps`.
        task_queue: The queue (default: the agents' `task_queue`).
        worker_options: Passed to `temporalio.worker.Worker`.

    Raises:
        ValueError: no agents, agents on different task queues, or two agents with one name.
    """
    if not agents:
        raise ValueError("create_worker needs at least one agent")
    queue = task_queue or agents[0].task_queue
    names: dict[str, Agent] = {}
    for agent in agents:
        if task_queue is None and agent.task_queue != queue:
            raise ValueError(
                f"agents on different task queues ('{queue}', '{agent.task_queue}'): "
                "one worker serves one queue"
            )
        if agent.name in names:
            raise ValueError(f"two agents are named '{agent.name}'; give each its own name")
        names[agent.name] = agent.agent
        _registry.register(queue, agent)
    activities = SpineActivities(names, deps=deps)
    worker_options.setdefault("workflow_runner", SandboxedWorkflowRunner(restrictions=SANDBOX))
    return Worker(
        client,
        task_queue=queue,
        workflows=[SpineAgentWorkflow],
        activities=activities.all(),
        **worker_options,
    )


async def run_worker(
    agents: Sequence[TemporalAgent],
    *,
    address: str,
    namespace: str = "default",
    deps: Any = None,
    sticky_timeout_s: float | None = None,
    **worker_options: Any,
) -> None:
    """Connect and serve `agents` until SIGINT or SIGTERM (then shut down gracefully).

    Args:
        agents: The agents served.
        address: The Temporal frontend, "host:port".
        namespace: The Temporal namespace.
        deps: The dependencies object tools get as `ctx.deps`.
        sticky_timeout_s: Seconds the server waits for this worker to pick up a workflow
            task it has cached before handing it to another worker (Temporal's default 10).
        worker_options: Passed to `temporalio.worker.Worker`.
    """
    client = await connect(address, namespace=namespace)
    if sticky_timeout_s is not None:
        worker_options["sticky_queue_schedule_to_start_timeout"] = timedelta(
            seconds=sticky_timeout_s
        )
    worker = create_worker(client, agents, deps=deps, **worker_options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with worker:
        await stop.wait()


def serve(
    spec_path: Path,
    *,
    address: str,
    task_queue: str,
    namespace: str = "default",
    deps: Any = None,
    activities: ActivityOptions | None = None,
    sticky_timeout_s: float | None = None,
) -> None:
    """Serve the agent a YAML spec describes on `task_queue`, until SIGINT or SIGTERM.
    Blocking; this is what `spine worker --temporal` runs.

    Every worker of a task queue must serve the same spec. Sessions are loaded from and
    saved to the spec's checkpoint store: give several workers a shared one (Postgres) for
    sessions that span runs.

    Args:
        spec_path: The agent spec (YAML; needs `spine-agents`, which reads specs).
        address: The Temporal frontend, "host:port".
        task_queue: The queue runs are scheduled on (the clients' `TemporalAgent.task_queue`).
        namespace: The Temporal namespace.
        deps: The dependencies object tools get as `ctx.deps`.
        activities: Activity timeouts and retries.
        sticky_timeout_s: See `run_worker`.

    Raises:
        ModuleNotFoundError: spine-agents is not installed.
        spine.errors.SpecError: the spec is invalid (one line naming file, line and key).
    """
    try:
        from spine.spec import load_agent
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "reading an agent spec needs the spine CLI package: pip install spine-agents"
        ) from exc
    agent = TemporalAgent(load_agent(spec_path), task_queue=task_queue, activities=activities)
    asyncio.run(
        run_worker(
            [agent],
            address=address,
            namespace=namespace,
            deps=deps,
            sticky_timeout_s=sticky_timeout_s,
        )
    )
