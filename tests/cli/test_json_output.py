"""`--json` and `--stream --json` write every event in one shape, and a reader that stops
early (`spine run --stream --json | head -1`) gets no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .conftest import QUICKSTART, SpineRunner, needs_sqlite

EVENT_KEYS = {"type", "step", "ts", "data"}
STREAM_ONLY = {"token", "thinking", "tool_call_delta"}  # events only a streamed model call has


def test_json_and_stream_json_write_events_of_the_same_shape(spine: SpineRunner) -> None:
    whole = json.loads(spine("run", str(QUICKSTART), "count", "--json").stdout)
    lines = [
        json.loads(line)
        for line in spine("run", str(QUICKSTART), "count", "--stream", "--json").stdout.splitlines()
    ]
    streamed, last = lines[:-1], lines[-1]
    assert whole["type"] == last["type"] == "result"
    assert all(set(event) == EVENT_KEYS for event in whole["trace"] + streamed)
    # The streamed lines are the Result's trace, event for event.
    assert streamed == last["trace"]
    for events in (whole["trace"], streamed):
        responses = [e for e in events if e["type"] == "model_response"]
        assert len(responses) == 2
        for event in responses:
            usage = event["data"]["usage"]
            assert isinstance(usage, dict) and usage["requests"] == 1
            assert set(usage) >= {"input_tokens", "output_tokens", "cost_usd"}
    assert isinstance(whole["usage"], dict) and isinstance(last["usage"], dict)

    def shape(events: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
        return [(e["type"], sorted(e["data"])) for e in events if e["type"] not in STREAM_ONLY]

    assert shape(whole["trace"]) == shape(streamed)


GATED = '''
import os
from spine_core import tool


@tool
def wait_for_gate() -> str:
    """Wait until the test opens the gate."""
    with open(os.environ["GATE"]) as gate:
        return gate.read()
'''


@needs_sqlite
def test_a_reader_that_stops_early_gets_no_traceback_and_the_run_is_kept_cancelled(
    spine: SpineRunner, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write("gated.py", GATED)
    spec = write("agent.yaml", "model: test\ntools:\n  - python: gated:wait_for_gate\n")
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
    env.update({"GATE": str(gate), "NO_COLOR": "1"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "spine", "run", str(spec), "go", "--stream", "--json", "-s", "h1"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    first = json.loads(proc.stdout.readline())
    assert first["type"] == "step_start"
    while json.loads(proc.stdout.readline())["type"] != "tool_call":
        pass  # the tool is about to wait at the gate
    proc.stdout.close()  # like `head`, the reader leaves
    with open(gate, "w") as opened:  # the tool returns; spine writes to the closed pipe
        opened.write("open")
    err = proc.stderr.read()
    assert proc.wait(timeout=60) != 0
    assert "Traceback" not in err and "Exception ignored" not in err, err
    shown = json.loads(spine("sessions", "show", str(spec), "h1", "--json").stdout)
    assert shown["status"] == "cancelled"
