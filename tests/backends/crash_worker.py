"""Crash-test worker (run as a script by test_crash.py, not collected by pytest).

It imports everything once, then for each session forks a child that runs an agent whose
checkpoint store SIGKILLs the child at seeded random points (just before or just after a
`put` commits). The parent re-forks until the session completes, and keeps starting new
sessions until it has seen `min_kills` kills. The tool appends one line per execution to a
shared log with a single O_APPEND write; kills are logged the same way just before they
happen. Prints a JSON summary on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import anyio

from spine_backends import PostgresCheckpoint, RedisCheckpoint, RedisKeyValueStore, SQLiteCheckpoint
from spine_core import (
    Agent,
    CheckpointStore,
    FunctionProvider,
    Guards,
    Message,
    Role,
    State,
    StopReason,
    ToolCall,
    tool,
)


def _log(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


class KillingStore:
    """Delegates to a real store and SIGKILLs this process around some puts."""

    def __init__(self, inner: Any, rng: random.Random, p: float, log: str, sid: str) -> None:
        self.inner, self.rng, self.p, self.log, self.sid = inner, rng, p, log, sid

    def _die(self, where: str, state: State) -> None:
        last = state.messages[-1] if state.messages else None
        tool_result = last.role is Role.TOOL if last is not None else False
        n = sum(m.role is Role.TOOL for m in state.messages) - 1
        _log(self.log, f"kill {self.sid} {where} {n if tool_result else -1}")
        os.kill(os.getpid(), signal.SIGKILL)

    async def put(self, state: State) -> None:
        roll = self.rng.random()
        if roll < self.p / 2:
            self._die("before", state)
        await self.inner.put(state)
        if roll > 1 - self.p / 2:
            self._die("after", state)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def make_store(kind: str, target: str, scope: str) -> Any:
    if kind == "sqlite":
        return SQLiteCheckpoint(target)
    if kind == "redis":
        return RedisCheckpoint(target, prefix=scope)
    return PostgresCheckpoint(target, schema=scope, min_size=1, max_size=2)


async def child(args: argparse.Namespace, sid: str, attempt: int) -> None:
    store = make_store(args.store, args.target, args.scope)
    rng = random.Random(f"{args.seed}:{sid}:{attempt}")
    checkpoint: CheckpointStore = KillingStore(store, rng, args.p, args.log, sid)

    @tool
    def record(n: int) -> str:
        """Perform side effect number n."""
        _log(args.log, f"effect {sid} {n}")
        return f"did {n}"

    def script(messages: Sequence[Message], tools: Any, settings: Any) -> Message:
        done = sum(m.role is Role.TOOL for m in messages)
        if done < args.steps:
            call = ToolCall(id=f"c{done}", name="record", arguments={"n": done})
            return Message.assistant(tool_calls=[call])
        return Message.assistant(f"finished {done}")

    middleware = []
    if args.idempotency:
        from spine_middleware import Idempotency

        kv = RedisKeyValueStore(args.kv_url, prefix=f"{args.scope}:kv")
        # every session performs its own effects 0..n-1: de-duplicate within a session only
        middleware.append(Idempotency(store=kv, scope="session"))
    agent = Agent(
        FunctionProvider(script),
        tools=[record],
        checkpoint=checkpoint,
        middleware=middleware,
        guards=Guards(max_steps=args.steps + 2),
    )
    existing = await store.get(sid)
    result = await agent.run(None if existing else "go", session_id=sid)
    if result.stopped_reason is not StopReason.FINAL:
        raise RuntimeError(f"run stopped with {result.stopped_reason}: {result.error}")


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True, choices=["sqlite", "redis", "postgres"])
    parser.add_argument("--target", required=True)
    parser.add_argument("--scope", default="crash")
    parser.add_argument("--log", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--p", type=float, default=0.25)
    parser.add_argument("--min-kills", type=int, default=20)
    parser.add_argument("--idempotency", action="store_true")
    parser.add_argument("--kv-url", default="redis://127.0.0.1:6379/0")
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
