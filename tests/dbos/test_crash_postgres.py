"""DBOS on Postgres: worker processes share a queue under random SIGKILLs.

`make soak` scales it with SPINE_SOAK_DBOS_RUNS / SPINE_SOAK_DBOS_KILLS /
SPINE_SOAK_DBOS_WORKERS (the issue's figures: 4 workers, 200 runs, 20+ kills).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from dbos_fleet import Fleet, postgres_database
from dbos_suite import approval_survives_losing_every_worker, run_under_chaos

pytestmark = pytest.mark.anyio

RUNS = int(os.environ.get("SPINE_SOAK_DBOS_RUNS", "40"))
KILLS = int(os.environ.get("SPINE_SOAK_DBOS_KILLS", "8"))
WORKERS = int(os.environ.get("SPINE_SOAK_DBOS_WORKERS", "4"))


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def fleet(database: str) -> Iterator[Fleet]:
    fleet = Fleet(database, database)
    yield fleet
    fleet.stop()


async def test_every_run_completes_under_sigkills_and_no_completed_tool_call_repeats(
    database: str, fleet: Fleet
) -> None:
    figures = await run_under_chaos(
        fleet, database, database, workers=WORKERS, runs=RUNS, kills=KILLS
    )
    print("dbos postgres crash suite:", figures)
    assert figures["kills"] == KILLS


async def test_pending_approval_survives_the_loss_of_every_worker(
    database: str, fleet: Fleet
) -> None:
    assert await approval_survives_losing_every_worker(fleet, database, database) == ["pay:t1"]
