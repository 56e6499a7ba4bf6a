"""Crash-test worker for test_crash.py (run as a script, not collected by pytest).

It imports everything once, then for each session forks children that run a 13-node graph
(a chain, a three-way fan-out and fan-in, another chain) until the run completes. A child is
SIGKILLed at seeded random points: inside a node, after its side effect (while its fan-out
siblings are in flight), and just before or just after a checkpoint `put` commits. Every
node run, every committed node write and every kill is appended to a shared log with one
O_APPEND write. Prints a JSON summary on stdout.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Annotated, Any

import anyio
import anyio.lowlevel
from pydantic import BaseModel

from spine_backends import PostgresCheckpoint, SQLiteCheckpoint
from spine_core import State, StopReason
from spine_orchestration import START, Graph, Workflow, append

CHAIN = ["s0", "s1", "s2", "s3", "s4", "s5"]
FAN = ["f1", "f2", "f3"]
TAIL = ["j", "e0", "e1", "e2"]
NODES = CHAIN + FAN + TAIL


class Trail(BaseModel):
    trail: Annotated[list[str], append] = []


def _log(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _die(log: str, line: str) -> None:
    _log(log, line)
    os.kill(os.getpid(), signal.SIGKILL)


class KillingStore:
    """Delegates to a real store; SIGKILLs this process around some puts, and logs the node
    writes each committed put stored."""

    def __init__(self, inner: Any, rng: random.Random, p: float, log: str, sid: str) -> None:
        self.inner, self.rng, self.p, self.log, self.sid = inner, rng, p, log, sid
        self.stored = 0  # messages of the session known to be committed

    async def get(self, session_id: str) -> State | None:
        state: State | None = await self.inner.get(session_id)
        self.stored = len(state.messages) if state is not None else 0
        return state

    async def put(self, state: State) -> None:
        roll = self.rng.random()
        if roll < self.p / 2:
            _die(self.log, f"kill {self.sid} before-put")
        await self.inner.put(state)
        for message in state.messages[self.stored :]:
            if message.name == "graph.write":
                node = json.loads(message.content or "{}")["node"]
                _log(self.log, f"commit {self.sid} {node}")
        self.stored = len(state.messages)
        if roll > 1 - self.p / 2:
            _die(self.log, f"kill {self.sid} after-put")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def build(store: Any, rng: random.Random, p: float, log: str, sid: str) -> Workflow:
    def node(name: str) -> Any:
        async def run(state: Trail) -> dict[str, Any]:
            _log(log, f"run {sid} {name}")
            await anyio.lowlevel.checkpoint()  # let fan-out siblings start too
            if rng.random() < p:
                _die(log, f"kill {sid} during {name}")
            await anyio.lowlevel.checkpoint()
            return {"trail": [name]}

        return run

    graph = Graph(Trail, name="crash")
    for name in NODES:
        graph.add_node(name, node(name))
    for before, after in zip([START, *CHAIN[:-1]], CHAIN, strict=True):
        graph.add_edge(before, after)
    graph.add_edge(CHAIN[-1], FAN).add_edge(FAN, "j")
    for before, after in itertools.pairwise(TAIL):
        graph.add_edge(before, after)
    return graph.compile(checkpoint=store)


def make_store(kind: str, target: str, scope: str) -> Any:
    if kind == "sqlite":
        return SQLiteCheckpoint(target)
    return PostgresCheckpoint(target, schema=scope, min_size=1, max_size=2)


async def child(args: argparse.Namespace, sid: str, attempt: int) -> None:
    rng = random.Random(f"{args.seed}:{sid}:{attempt}")
    store = KillingStore(
        make_store(args.store, args.target, args.scope), rng, args.p, args.log, sid
    )
    workflow = build(store, rng, args.p, args.log, sid)
    existing = await store.get(sid)
    result = await workflow.run(None if existing else {}, session_id=sid)
    if result.stopped_reason is not StopReason.FINAL:
        raise RuntimeError(f"run stopped with {result.stopped_reason}: {result.error}")


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True, choices=["sqlite", "postgres"])
    parser.add_argument("--target", required=True)
    parser.add_argument("--scope", default="crash")
    parser.add_argument("--log", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--p", type=float, default=0.08)
    parser.add_argument("--min-kills", type=int, default=12)
    args = parser.parse_args(argv)
    kills, forks = 0, 0
    sessions: list[str] = []
    while kills < args.min_kills:
        sid = f"crash-{args.seed}-{len(sessions)}"
        sessions.append(sid)
        attempt = 0
        while True:
            forks += 1
            pid = os.fork()
            if pid == 0:  # the child: run until done or killed
                try:
                    anyio.run(child, args, sid, attempt)
                except BaseException:
                    traceback.print_exc()
                    os._exit(3)
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
                kills += 1
                attempt += 1
                continue
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
                break
            print(json.dumps({"error": f"child {pid} ended with status {status}"}))
            return 1
    print(json.dumps({"kills": kills, "sessions": sessions, "forks": forks}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
