"""A worker process serving one test agent over A2A.

`python a2a_serve_worker.py AGENT STORE`, STORE being `memory`, `sqlite:PATH` or
`postgres:DSN#SCHEMA`. Prints `PORT <n>` once listening.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from a2a_agents import AGENTS

from spine_a2a import A2AServer
from spine_core import CheckpointStore


def _store(spec: str) -> CheckpointStore | None:
    kind, _, rest = spec.partition(":")
    if kind == "memory":
        return None  # the agent's own in-memory store
    if kind == "sqlite":
        from spine_backends import SQLiteCheckpoint

        return SQLiteCheckpoint(rest)
    if kind == "postgres":
        from spine_backends import PostgresCheckpoint

        dsn, _, schema = rest.partition("#")
        return PostgresCheckpoint(dsn, schema=schema, min_size=1, max_size=2)
    raise SystemExit(f"unknown store {spec!r}")


async def main(agent_name: str, store_spec: str) -> None:
    agent = AGENTS[agent_name](_store(store_spec))
    config = uvicorn.Config(
        A2AServer(agent), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            return
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    await serving


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
