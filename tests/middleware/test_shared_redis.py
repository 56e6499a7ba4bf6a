"""Middleware state shared through a real Redis (`RedisKeyValueStore`) by agents in separate
processes: RateLimit, TenantBudget, Idempotency, Cache and CircuitBreaker.

Each test starts worker processes (`redis_worker.py`) that share one key prefix and checks
what they did together. The Redis server is the one on this machine (see
tests/backends/conftest.py): unreachable, the tests skip locally and fail under CI=true.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

WORKER = Path(__file__).with_name("redis_worker.py")
REDIS_URL = os.environ.get("SPINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def redis_url() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis at {REDIS_URL} is not reachable: {exc}", pytrace=False)
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {exc}")
    return REDIS_URL


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    import redis

    name = f"spine-test:{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{name}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def start(scenario: str, url: str, prefix: str, side: Path, arg: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), scenario, url, prefix, str(side), str(arg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def written(side: Path) -> bool:
    """Whether a worker has written its side-effect line (open("a") creates the file first)."""
    return side.exists() and side.stat().st_size > 0


def run_all(scenario: str, url: str, prefix: str, side: Path, args: list[Any]) -> list[Any]:
    workers = [start(scenario, url, prefix, side, a) for a in args]
    return [finish(w) for w in workers]


def test_rate_limit_is_one_budget_across_processes(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    results = run_all("rate_limit", redis_url, prefix, tmp_path / "x", [8, 8, 8])
    times = sorted(t for r in results for t in r["times"])
    assert len(times) == 24
    # One token bucket of 10 calls per second, burst 10, whichever process made the calls:
    # any n consecutive calls span at least (n - 10) / 10 s (3 separate buckets would let
    # all 24 through at once). 0.05 s of slack for clocks and scheduling.
    assert times[-1] - times[0] >= 1.3
    for i in range(len(times)):
        for j in range(i + 10, len(times)):
            assert times[j] - times[i] >= (j - i + 1 - 10) / 10 - 0.05


def test_tenant_budget_is_one_total_across_processes(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    results = run_all("tenant_budget", redis_url, prefix, tmp_path / "x", [4, 4, 4])
    called = sum(r["called"] for r in results)
    # 10 tokens at 4 a call: 3 calls reach the ceiling; each other process may have one in
    # flight when it is crossed (the documented overshoot), never more.
    assert 3 <= called <= 5
    assert all("max_tokens" in r["reasons"] for r in results)
    import redis

    client = redis.Redis.from_url(redis_url)
    [key] = list(client.scan_iter(match=f"{prefix}:*tokens*"))
    assert float(client.get(key) or 0) == 4 * called
    client.close()


def test_idempotency_runs_a_side_effect_once_across_concurrent_processes(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    side = tmp_path / "effects.log"
    hold = side.with_suffix(".hold")
    hold.touch()  # the first worker to claim the key holds the call open until released
    workers = [start("idempotency", redis_url, prefix, side, 30) for _ in range(3)]
    deadline = time.monotonic() + 30
    while not written(side) and time.monotonic() < deadline:
        time.sleep(0.01)
    hold.unlink()
    results = [finish(w) for w in workers]
    assert side.read_text().splitlines() == ["sent to ann@example.com"]
    assert [r["result"] for r in results] == ["sent to ann@example.com"] * 3
    assert not any(r["is_error"] for r in results)


def test_idempotency_never_reruns_a_call_whose_worker_was_killed_mid_call(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    side = tmp_path / "effects.log"
    side.with_suffix(".hold").touch()  # the call never finishes on its own
    first = start("idempotency", redis_url, prefix, side, 1)
    deadline = time.monotonic() + 30
    while not written(side) and time.monotonic() < deadline:
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    side.with_suffix(".hold").unlink()
    [second] = run_all("idempotency", redis_url, prefix, side, [0.2])
    assert side.read_text().splitlines() == ["sent to ann@example.com"]  # ran once
    assert second["is_error"] and "has no recorded result" in second["result"]


def test_cache_entries_are_shared_across_processes(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    [first] = run_all("cache", redis_url, prefix, tmp_path / "x", [0])
    [second] = run_all("cache", redis_url, prefix, tmp_path / "x", [0])
    assert first == {"answer": "cached answer", "provider_calls": 1}
    assert second == {"answer": "cached answer", "provider_calls": 0}


def test_an_open_circuit_is_seen_by_every_process(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    [failing] = run_all("breaker", redis_url, prefix, tmp_path / "x", ["no"])
    assert failing["provider_calls"] == 2  # two failures opened it: the third run was refused
    assert failing["errors"][2] is not None and "circuit open" in failing["errors"][2]
    [healthy] = run_all("breaker", redis_url, prefix, tmp_path / "x", ["yes"])
    assert healthy["provider_calls"] == 0
    assert healthy["errors"][0] is not None and "circuit open" in healthy["errors"][0]
