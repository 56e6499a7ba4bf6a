"""A durable essay-writing graph: fan-out research, a fan-in writer, a review cycle, a human
approval before publishing, time travel, streaming and a Mermaid diagram.

Runs offline with deterministic stand-in models. Set SPINE_MODEL (e.g.
"anthropic:claude-sonnet-4-6") to use a real model for the agent nodes.

    uv run python examples/orchestration/essay.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from pydantic import BaseModel

from spine_backends import SQLiteCheckpoint
from spine_core import Agent, FunctionProvider, Message, Role
from spine_orchestration import END, START, Graph, GraphEventType, NodeContext, append


class Essay(BaseModel):
    topic: str
    notes: Annotated[list[str], append] = []  # reducer: parallel notes are appended
    draft: str = ""  # no reducer: last write wins
    rounds: int = 0
    published: bool = False


def model(role: str) -> Any:
    """SPINE_MODEL, or an offline stand-in that answers in the given role."""
    if os.environ.get("SPINE_MODEL"):
        return os.environ["SPINE_MODEL"]

    def reply(messages: list[Message], tools: Any, settings: Any) -> str:
        task = next(m.text for m in reversed(messages) if m.role is Role.USER)
        return f"{role}: {task.splitlines()[0][:60]}"

    return FunctionProvider(reply)


async def outline(state: Essay) -> dict[str, Any]:
    return {"notes": [f"outline for {state.topic}"]}


async def count(state: Essay) -> dict[str, Any]:
    return {"rounds": state.rounds + 1}


def review(state: Essay) -> Literal["write", "publish"]:
    return "write" if state.rounds < 2 else "publish"


async def publish(state: Essay, ctx: NodeContext) -> dict[str, Any]:
    if not ctx.interrupt(f"Publish the essay on {state.topic}?", kind="approval"):
        return {"published": False}
    return {"published": True}


def build(store: SQLiteCheckpoint) -> Any:
    researcher = Agent(model("research"), name="researcher", checkpoint=store)
    writer = Agent(model("draft"), name="writer", checkpoint=store)
    graph = (
        Graph(Essay)
        .add_node("outline", outline)
        .add_node("research", researcher, input="topic", output="notes")
        .add_node("write", writer, input=lambda s: "\n".join(s.notes), output="draft")
        .add_node("count", count)
        .add_node("publish", publish)
        .add_edge(START, ["outline", "research"])  # fan-out
        .add_edge(["outline", "research"], "write")  # fan-in
        .add_edge("write", "count")
        .add_conditional_edges("count", review)  # a bounded cycle
        .add_edge("publish", END)
    )
    return graph.compile(checkpoint=store, max_steps=25)


async def main() -> None:
    db = Path(tempfile.mkdtemp()) / "state.db"
    async with SQLiteCheckpoint(db) as store:
        workflow = build(store)
        print(workflow.to_mermaid())
        async with workflow.stream({"topic": "tides"}, session_id="essay-1") as events:
            async for event in events:
                if event.type is GraphEventType.NODE_END:
                    print(f"step {event.step}: {event.node} wrote {event.data['update']}")
        paused = events.result
        assert paused is not None and paused.interrupted
        print("paused:", paused.interrupt.question)

    # another process could do this: it needs only the same database
    async with SQLiteCheckpoint(db) as store:
        workflow = build(store)
        done = await workflow.resume(paused.resume_token or "", "approve")
        print("published:", done.values.published, "after", done.values.rounds, "rounds")
        history = await workflow.history("essay-1")
        print("checkpoints:", [(c.step, c.next) for c in history])
        fork = await workflow.fork("essay-1", 1, update={"topic": "waves"})
        again = await workflow.run(None, session_id=fork)
        print("fork paused at:", again.interrupt.question if again.interrupt else again.values)


if __name__ == "__main__":
    anyio.run(main)
