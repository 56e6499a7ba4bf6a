"""Racing-resume worker (run as a script by test_resume_race.py, not collected by pytest).

Pauses one session on an approval, then forks `--resumers` children that block on a pipe; the
parent closes the pipe so they all call `Agent.resume` on the pause at once, each with its own
connection to the store. The approved tool appends one line per execution to a shared log
(one O_APPEND write), and each child appends its outcome. Prints a JSON summary on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import anyio

from spine_backends import PostgresCheckpoint, RedisCheckpoint, SQLiteCheckpoint
from spine_core import Agent, ResumeError, ScriptedProvider, ToolCall, tool
from spine_core.messages import Message


def _log(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _store(kind: str, target: str, scope: str) -> Any:
    if kind == "sqlite":
        return SQLiteCheckpoint(target)
    if kind == "redis":
        return RedisCheckpoint(target, prefix=scope)
    return PostgresCheckpoint(target, schema=scope, min_size=1, max_size=1)


def _agent(args: argparse.Namespace, store: Any, replies: list[Any]) -> Agent:
    @tool(approve=True)
    async def ship(order: str) -> str:
        """Ship an order (the side effect that must happen once)."""
        _log(args.log, f"ran {order}")
        return f"shipped {order}"

    return Agent(ScriptedProvider(replies), tools=[ship], checkpoint=store)


async def _pause(args: argparse.Namespace) -> str:
    store = _store(args.store, args.target, args.scope)
    call = ToolCall(id="c1", name="ship", arguments={"order": "A-1"})
    paused = await _agent(args, store, [Message.assistant(None, [call])]).run("ship A-1")
    await _close(store)
    assert paused.resume_token is not None
    return paused.resume_token


async def _resume(args: argparse.Namespace, token: str) -> str:
    store = _store(args.store, args.target, args.scope)
    try:
        result = await _agent(args, store, ["done"]).resume(token, "approve")
        return f"won {result.stopped_reason.value}"
    except ResumeError as exc:
        return f"lost {type(exc).__name__}"
    finally:
        await _close(store)


async def _close(store: Any) -> None:
    close = getattr(store, "aclose", None)
    if close is not None:
        await close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "redis", "postgres"], required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--scope", default="race")
    parser.add_argument("--log", required=True)
    parser.add_argument("--resumers", type=int, default=50)
    args = parser.parse_args()

    token = anyio.run(_pause, args)
    gate_read, gate_write = os.pipe()
    children = []
    for _ in range(args.resumers):
        pid = os.fork()
        if pid == 0:
            os.close(gate_write)
            os.read(gate_read, 1)  # blocks until the parent closes the gate: all start at once
            try:
                outcome = anyio.run(_resume, args, token)
            except BaseException as exc:
                outcome = f"crashed {type(exc).__name__}: {exc}"
            _log(args.log, f"outcome {outcome}")
            os._exit(0)
        children.append(pid)
    os.close(gate_read)
    os.close(gate_write)
    failed = sum(os.waitpid(pid, 0)[1] != 0 for pid in children)
    print(json.dumps({"token": token, "failed_children": failed}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
