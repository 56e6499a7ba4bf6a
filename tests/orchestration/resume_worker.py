"""Fresh-process worker for test_fresh_process.py (run as a script, not collected by pytest).

Each invocation is a new interpreter that knows nothing but the SQLite file: it builds the
agents and the pattern or graph, then starts a run or resumes one, and prints the outcome as
one JSON line. Side effects append a line to `--log` (one O_APPEND write each).

Usage: python resume_worker.py SCENARIO --db FILE --log FILE (--start INPUT | --resume TOKEN
       [--decision D] [--answer A])
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Annotated, Any

import anyio
from pydantic import BaseModel

from spine_backends import SQLiteCheckpoint
from spine_core import Agent, FunctionProvider, Message, Role, ToolCall, tool
from spine_orchestration import START, Graph, NodeContext, Parallel, append


def effect(log: str, line: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def payer(store: SQLiteCheckpoint, log: str) -> Agent:
    @tool(approve=True)
    def pay(usd: int) -> str:
        """Pay.

        Args:
            usd: US dollars.
        """
        effect(log, f"pay {usd}")
        return f"paid {usd}"

    def script(messages: list[Message], tools: Any, settings: Any) -> Message:
        done = [m for m in messages if m.role is Role.TOOL]
        if not done:
            return Message.assistant(
                tool_calls=[ToolCall(id="p", name="pay", arguments={"usd": 9})]
            )
        return Message.assistant(done[-1].text)

    return Agent(FunctionProvider(script), tools=[pay], name="payer", checkpoint=store)


def plain(store: SQLiteCheckpoint, log: str) -> Agent:
    def reply(messages: list[Message], tools: Any, settings: Any) -> str:
        effect(log, "plain")
        return "plain done"

    return Agent(FunctionProvider(reply), name="plain", checkpoint=store)


class Trip(BaseModel):
    input: str = ""
    notes: Annotated[list[str], append] = []
    city: str = ""
    summary: str = ""


def graph(store: SQLiteCheckpoint, log: str) -> Any:
    async def ask_city(state: Trip, ctx: NodeContext) -> dict[str, Any]:
        return {"city": ctx.interrupt("Which city?")}

    async def pack(state: Trip) -> dict[str, Any]:
        effect(log, "pack")
        return {"notes": ["packed"]}

    async def summarise(state: Trip) -> dict[str, Any]:
        effect(log, "summary")
        return {"summary": f"{state.city}: {', '.join(state.notes)}"}

    built = (
        Graph(Trip, name="trip")
        .add_node("pay", payer(store, log), output="notes")
        .add_node("ask", ask_city)
        .add_node("pack", pack)
        .add_node("summarise", summarise)
        .add_edge(START, ["pay", "ask", "pack"])
        .add_edge(["pay", "ask", "pack"], "summarise")
    )
    return built.compile(checkpoint=store)


def pattern(store: SQLiteCheckpoint, log: str) -> Any:
    return Parallel(plain(store, log), payer(store, log))


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with SQLiteCheckpoint(args.db) as store:
        runner = graph(store, args.log) if args.scenario == "graph" else pattern(store, args.log)
        if args.start is not None:
            initial: Any = {"input": args.start} if args.scenario == "graph" else args.start
            result = await runner.run(initial, session_id="fresh")
        else:
            result = await runner.resume(args.resume, args.decision, answer=args.answer)
        out: dict[str, Any] = {
            "stopped_reason": result.stopped_reason.value,
            "token": result.resume_token,
            "question": result.interrupt.question if result.interrupt else None,
            "answer": result.answer,
        }
        if args.scenario == "graph":
            out["values"] = result.values.model_dump()
        return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["graph", "pattern"])
    parser.add_argument("--db", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--start")
    parser.add_argument("--resume")
    parser.add_argument("--decision", default="approve")
    parser.add_argument("--answer")
    print(json.dumps(anyio.run(main, parser.parse_args())))
    sys.exit(0)
