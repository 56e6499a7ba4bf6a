"""A worker process of the durable-pattern crash tests (run as a script by the tests).

It serves the queue "patterns" with durable runs of the same shape: a `Sequential`
(`p-chain`), a `Parallel` (`p-fan`) and a graph (`p-graph`) of counting members, and a
`Sequential` whose second member's `launch` tool needs an approval (`p-approved`). Each member
calls the `tick` tool once (one row in the `effects` table per execution, see
`dbos_fleet_app.record`); the member named `gated-*` first waits in its model call until the
file `<SPINE_TEST_GATE_DIR>/open` exists, after touching `<SPINE_TEST_GATE_DIR>/entered`, so
a test can SIGKILL the worker mid-pattern, after the members before it completed.

Environment: SPINE_TEST_DBOS_URL, SPINE_TEST_EFFECTS_URL (as `dbos_fleet_app`), and
SPINE_TEST_GATE_DIR. It prints "ready <executor id>" once it serves the queue.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, TypedDict

import anyio
from dbos_fleet_app import record

import spine_dbos
from spine_core import Agent, FunctionProvider, Message, ModelResponse, Role, ToolCall, tool
from spine_core.context import ToolContext
from spine_orchestration import END, START, Graph, Parallel, Sequential, append

QUEUE = "patterns"


@tool
def tick(label: str, ctx: ToolContext[Any]) -> str:
    """Record one side effect.

    Args:
        label: The member's name.
    """
    record(f"{ctx.session_id}:{ctx.call.id}")
    return f"ticked {label}"


@tool(approve=True)
def launch(label: str, ctx: ToolContext[Any]) -> str:
    """Record one side effect, once a human approved it.

    Args:
        label: The member's name.
    """
    record(f"{ctx.session_id}:{ctx.call.id}")
    return f"launched {label}"


async def _gate() -> None:
    folder = Path(os.environ["SPINE_TEST_GATE_DIR"])
    (folder / "entered").touch()
    while not (folder / "open").exists():
        await anyio.sleep(0.05)


def member(name: str, tool_name: str = "tick") -> Agent:
    """Calls `tool_name` (`tick` or `launch`) once, then answers `<name> <tool result>`."""

    async def reply(messages: list[Message], tools: Any, settings: Any) -> Any:
        if not any(m.role is Role.TOOL for m in messages):
            if name.startswith("gated"):
                await _gate()
            call = ToolCall(id=f"{name}-{tool_name}", name=tool_name, arguments={"label": name})
            return ModelResponse(
                message=Message(role=Role.ASSISTANT, content="", tool_calls=[call])
            )
        return f"{name} {messages[-1].text}"

    return Agent(FunctionProvider(reply), tools=[tick, launch], name=name)


class Tally(TypedDict):
    task: str
    first: str
    marks: Annotated[list[str], append]


def mark(state: Tally) -> dict[str, Any]:
    return {"marks": [f"after {state['first']}"]}


def patterns() -> list[spine_dbos.DurableWorkflow]:
    """The durable patterns of the worker (the tests build the same on the client side)."""
    chain = Sequential(member("one"), member("gated-two"), member("three"), name="p-chain")
    approved = Sequential(member("one"), member("pilot", "launch"), name="p-approved")
    fan = Parallel(member("left"), member("gated-middle"), member("right"), name="p-fan")
    graph = Graph(Tally, name="p-graph")
    graph.add_node("first", member("head"), input="task", output="first")
    graph.add_node("mark", mark, writes=["marks"])
    graph.add_node("gated", member("gated-tail"), input="first", output="marks")
    graph.add_edge(START, "first").add_edge("first", ["mark", "gated"])
    graph.add_edge(["mark", "gated"], END)
    return [
        spine_dbos.DurableWorkflow(p, queue=QUEUE, poll_interval_s=0.1)
        for p in (chain, fan, graph.compile(), approved)
    ]


def main() -> None:
    durable = patterns()
    worker = spine_dbos.Worker(
        os.environ["SPINE_TEST_DBOS_URL"],
        queue=QUEUE,
        recovery_interval_s=0.3,
        polling_interval_s=0.1,
    )
    worker.start()
    print(f"ready {worker.executor_id}", flush=True)
    try:
        sys.stdin.read()  # the parent closes stdin (or kills us) to stop
    finally:
        worker.stop()
        del durable


if __name__ == "__main__":
    main()
