"""Checkpoint store benchmark (a plain script, not a test).

For each store (SQLite, Redis, PostgreSQL):
1. put latency (median of 50 puts, each appending one message) at history lengths 10, 100,
   1,000 and 10,000 messages, and the ratio 10,000 : 10 (target < 2: writes are O(new data));
2. sustained puts per second from 100 concurrent sessions, beside the raw driver doing one
   equivalent single-row upsert per put in the same run (target: at least 70% of raw); the
   two alternate over 3 rounds of `--seconds` each, and the best round of each counts.

3. the agent step on each store against the same step on the default in-memory store,
   measured in the same run (bench/kernel.py's workload: one read-only tool per step, so one
   checkpoint per step; best of 3 interleaved rounds). Targets: SQLite <= 5x, Redis <= 6x.

Usage: .venv/bin/python bench/checkpoints.py [--seconds 2] [--only sqlite,redis,postgres]
Needs Redis at 127.0.0.1:6379 and PostgreSQL at 127.0.0.1:5432 (trust auth, database test).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import redis.asyncio as aioredis

from spine_backends import PostgresCheckpoint, RedisCheckpoint, SQLiteCheckpoint
from spine_core import Agent, Guards, InMemoryCheckpointStore, Message, State

REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
LENGTHS = (10, 100, 1_000, 10_000)
SESSIONS = 100
ROUNDS = 3  # interleaved throughput rounds per store; the best of each side counts


def _message(i: int) -> Message:
    return Message.user(f"message {i}: " + "lorem ipsum dolor sit amet " * 4)


async def put_latency_ms(store: Any, length: int, samples: int = 50) -> float:
    state = State(session_id=f"lat-{length}-{uuid.uuid4().hex[:6]}")
    state.messages = [_message(i) for i in range(length)]
    await store.put(state)
    timings = []
    for i in range(samples):
        state.messages.append(_message(length + i))
        start = time.perf_counter()
        await store.put(state)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000


async def throughput(put: Callable[[int, int], Awaitable[None]], seconds: float) -> float:
    """Puts per second from SESSIONS concurrent loops calling `put(session, n)`."""
    count = 0
    deadline = time.perf_counter() + seconds

    async def loop(session: int) -> None:
        nonlocal count
        n = 0
        while time.perf_counter() < deadline:
            await put(session, n)
            n += 1
            count += 1

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for session in range(SESSIONS):
            tg.start_soon(loop, session)
    return count / (time.perf_counter() - start)


_RAW_STATE = State(session_id="raw")


def raw_payload(n: int) -> tuple[str, str]:
    """What any checkpointer must serialise per put: the header and the new message."""
    return json.dumps(_RAW_STATE.header()), _message(n).model_dump_json()


def store_put(store: Any) -> Callable[[int, int], Awaitable[None]]:
    states: dict[int, State] = {}

    async def put(session: int, n: int) -> None:
        state = states.setdefault(session, State(session_id=f"tp-{uuid.uuid4().hex}"))
        state.messages.append(_message(n))
        await store.put(state)

    return put


async def bench_store(
    name: str, store: Any, raw: Callable[[int, int], Awaitable[None]], seconds: float
) -> dict[str, Any]:
    latency = {length: await put_latency_ms(store, length) for length in LENGTHS}
    # Interleaved rounds, best of each: the machine's other load hits both sides alike.
    raw_rates, store_rates = [], []
    for _ in range(ROUNDS):
        raw_rates.append(await throughput(raw, seconds))
        store_rates.append(await throughput(store_put(store), seconds))
    raw_rate, store_rate = max(raw_rates), max(store_rates)
    return {
        "store": name,
        "latency_ms": latency,
        "ratio_10000_to_10": latency[10_000] / latency[10],
        "puts_per_s": store_rate,
        "raw_upserts_per_s": raw_rate,
        "share_of_raw": store_rate / raw_rate,
    }


async def bench_sqlite(seconds: float) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="spine-bench-"))
    store = SQLiteCheckpoint(folder / "state.db")
    con = sqlite3.connect(folder / "raw.db", isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute(
        "CREATE TABLE raw (session_id TEXT PRIMARY KEY, revision INT, header TEXT, last TEXT)"
    )
    limiter = anyio.CapacityLimiter(1)

    def upsert(session: int, n: int) -> None:
        header, message = raw_payload(n)
        con.execute(
            "INSERT INTO raw VALUES (?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE"
            " SET revision = excluded.revision, header = excluded.header,"
            " last = excluded.last",
            (str(session), n, header, message),
        )

    async def raw(session: int, n: int) -> None:
        await anyio.to_thread.run_sync(upsert, session, n, limiter=limiter)

    try:
        return await bench_store("sqlite", store, raw, seconds)
    finally:
        await store.aclose()
        con.close()


async def bench_redis(seconds: float) -> dict[str, Any]:
    prefix = f"bench:{uuid.uuid4().hex[:8]}"
    store = RedisCheckpoint(REDIS_URL, prefix=prefix)
    client = aioredis.from_url(REDIS_URL)

    async def raw(session: int, n: int) -> None:
        header, message = raw_payload(n)
        await client.hset(
            f"{prefix}:raw:{session}", mapping={"revision": n, "header": header, "last": message}
        )

    try:
        return await bench_store("redis", store, raw, seconds)
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
        await store.aclose()
        await client.aclose()


async def bench_postgres(seconds: float) -> dict[str, Any]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    store = PostgresCheckpoint(POSTGRES_DSN, schema=schema, max_size=10)
    pool = await asyncpg.create_pool(POSTGRES_DSN, min_size=10, max_size=10)
    await store.list()  # creates the schema and tables
    await pool.execute(
        f"CREATE TABLE {schema}.raw (session_id text PRIMARY KEY, revision bigint,"
        " header jsonb, last text)"
    )
    sql = (
        f"INSERT INTO {schema}.raw VALUES ($1, $2, $3::jsonb, $4) ON CONFLICT (session_id)"
        " DO UPDATE SET revision = excluded.revision, header = excluded.header,"
        " last = excluded.last"
    )

    async def raw(session: int, n: int) -> None:
        header, message = raw_payload(n)
        await pool.execute(sql, str(session), n, header, message)

    try:
        return await bench_store("postgres", store, raw, seconds)
    finally:
        await pool.execute(f"DROP SCHEMA {schema} CASCADE")
        await store.aclose()
        await pool.close()


async def step_ratios(runs: int = 100, rounds: int = 3) -> dict[str, float]:
    """Microseconds per agent step on each store (and "memory"), best of `rounds`."""
    sys.path.insert(0, str(Path(__file__).parent))
    import kernel  # bench/kernel.py: the same workload as the kernel figures

    folder = Path(tempfile.mkdtemp(prefix="spine-bench-"))
    prefix, schema = f"bench:{uuid.uuid4().hex[:8]}", f"bench_{uuid.uuid4().hex[:8]}"
    stores: dict[str, Any] = {
        "memory": InMemoryCheckpointStore(),
        "sqlite": SQLiteCheckpoint(folder / "steps.db"),
        "redis": RedisCheckpoint(REDIS_URL, prefix=prefix),
        "postgres": PostgresCheckpoint(POSTGRES_DSN, schema=schema),
    }
    agents = {
        name: Agent(
            kernel.InstantProvider(),
            tools=[kernel.echo],
            checkpoint=store,
            guards=Guards(max_steps=kernel.STEPS + 2),
        )
        for name, store in stores.items()
    }
    best: dict[str, float] = {}
    try:
        for agent in agents.values():  # warm-up: connections, schemas, scripts
            for _ in range(5):
                await kernel.spine_run(agent)
        for _ in range(rounds):
            for name, agent in agents.items():
                start = time.perf_counter()
                for _ in range(runs):
                    await kernel.spine_run(agent)
                cost = (time.perf_counter() - start) / (runs * (kernel.STEPS + 1)) * 1e6
                best[name] = min(best.get(name, cost), cost)
    finally:
        client = aioredis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
        await client.aclose()
        pool = await asyncpg.connect(POSTGRES_DSN)
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()
        for store in stores.values():
            if hasattr(store, "aclose"):
                await store.aclose()
    return best


STEP_TARGETS = {"sqlite": 5.0, "redis": 6.0}


async def main(seconds: float, only: list[str]) -> None:
    benches = {"sqlite": bench_sqlite, "redis": bench_redis, "postgres": bench_postgres}
    print(
        f"{'store':<9} "
        + " ".join(f"{'put@' + str(n):>10}" for n in LENGTHS)
        + f" {'10k/10':>7} {'puts/s':>9} {'raw/s':>9} {'of raw':>7}"
    )
    for name in only:
        r = await benches[name](seconds)
        print(
            f"{r['store']:<9} "
            + " ".join(f"{r['latency_ms'][n]:>8.3f}ms" for n in LENGTHS)
            + f" {r['ratio_10000_to_10']:>7.2f} {r['puts_per_s']:>9.0f}"
            f" {r['raw_upserts_per_s']:>9.0f} {r['share_of_raw']:>6.0%}"
        )
    steps = await step_ratios()
    memory = steps["memory"]
    print(f"agent step, in-memory store (baseline)  {memory:8.1f} us/step")
    for name in only:
        target = STEP_TARGETS.get(name)
        added = steps[name] - memory
        goal = ""
        if target:  # (memory + added) / memory <= target  <=>  memory >= added / (target - 1)
            goal = (
                f"(target <= {target:g}x: with this store's {added:.0f} us, met by an"
                f" in-memory step of >= {added / (target - 1):.0f} us)"
            )
        print(
            f"agent step, {name:<8}                    {steps[name]:8.1f} us/step"
            f"  {steps[name] / memory:5.2f} x  {goal}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per throughput round")
    parser.add_argument("--only", default="sqlite,redis,postgres")
    args = parser.parse_args()
    anyio.run(main, args.seconds, args.only.split(","))
