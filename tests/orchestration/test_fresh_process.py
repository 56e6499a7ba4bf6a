"""Pauses inside parallel branches, each resumed by a new interpreter that shares only the
SQLite file (see resume_worker.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

WORKER = Path(__file__).with_name("resume_worker.py")

pytestmark = pytest.mark.slow


def worker(tmp_path: Path, scenario: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            str(WORKER),
            scenario,
            "--db",
            str(tmp_path / "state.db"),
            "--log",
            str(tmp_path / "effects"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def effects(tmp_path: Path) -> Counter[str]:
    path = tmp_path / "effects"
    return Counter(path.read_text().splitlines()) if path.exists() else Counter()


def test_hitl_in_parallel_graph_branches_resumed_from_fresh_processes(tmp_path: Path) -> None:
    first = worker(tmp_path, "graph", "--start", "holiday")
    assert first["stopped_reason"] == "interrupt"
    assert first["question"] == "Approve the call to 'pay' with arguments {\"usd\": 9}?"
    assert effects(tmp_path) == {"pack": 1}  # the sibling finished and was checkpointed

    second = worker(tmp_path, "graph", "--resume", first["token"], "--decision", "approve")
    assert second["stopped_reason"] == "interrupt" and second["question"] == "Which city?"
    assert effects(tmp_path) == {"pack": 1, "pay 9": 1}

    third = worker(tmp_path, "graph", "--resume", second["token"], "--answer", "Lisbon")
    assert third["stopped_reason"] == "final"
    assert third["values"]["summary"] == "Lisbon: paid 9, packed"
    assert effects(tmp_path) == {"pack": 1, "pay 9": 1, "summary": 1}


def test_hitl_in_a_parallel_pattern_branch_resumed_from_a_fresh_process(tmp_path: Path) -> None:
    first = worker(tmp_path, "pattern", "--start", "bills")
    assert first["stopped_reason"] == "interrupt" and effects(tmp_path) == {"plain": 1}

    done = worker(tmp_path, "pattern", "--resume", first["token"])
    assert done["stopped_reason"] == "final"
    assert done["answer"] == "[plain]\nplain done\n\n[payer]\npaid 9"
    assert effects(tmp_path) == {"plain": 1, "pay 9": 1}
