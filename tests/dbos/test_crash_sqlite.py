"""DBOS on SQLite: the crash suite, smaller (one machine, one database file)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from dbos_fleet import Fleet, sqlite_effects
from dbos_suite import approval_survives_losing_every_worker, run_under_chaos

pytestmark = pytest.mark.anyio

RUNS = int(os.environ.get("SPINE_SOAK_DBOS_SQLITE_RUNS", "12"))
KILLS = int(os.environ.get("SPINE_SOAK_DBOS_SQLITE_KILLS", "3"))


@pytest.fixture(scope="module")
def urls(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("dbos_sqlite")
    return f"sqlite:///{folder / 'dbos.sqlite'}", sqlite_effects(folder / "effects.sqlite")


@pytest.fixture(scope="module")
def fleet(urls: tuple[str, str]) -> Iterator[Fleet]:
    fleet = Fleet(*urls)
    yield fleet
    fleet.stop()


async def test_every_run_completes_under_sigkills_and_no_completed_tool_call_repeats(
    urls: tuple[str, str], fleet: Fleet
) -> None:
    figures = await run_under_chaos(fleet, *urls, workers=2, runs=RUNS, kills=KILLS)
    print("dbos sqlite crash suite:", figures)
    assert figures["kills"] == KILLS


async def test_pending_approval_survives_the_loss_of_every_worker(
    urls: tuple[str, str], fleet: Fleet
) -> None:
    assert await approval_survives_losing_every_worker(fleet, *urls) == ["pay:t1"]
