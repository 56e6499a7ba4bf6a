"""`spine sessions list|show|delete|export` and `spine trace` on each real store (SQLite,
Redis, PostgreSQL), against sessions left by `spine run`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from spine_core import RunStatus, State

from .conftest import SpineRunner

Writer = Callable[[str, str], Path]

OPS = '''
from spine_core import tool


@tool
def lookup(term: str, limit: int = 3) -> str:
    """Look a term up.

    Args:
        term: What to look up.
        limit: Most hits.
    """
    return f"{limit} hits for {term}"


@tool
def broken() -> str:
    """Always fails."""
    raise ValueError("the index is offline")


@tool(approve=True)
def deploy(target: str) -> str:
    """Deploy.

    Args:
        target: Where.
    """
    return f"deployed to {target}"
'''

PRICED = "middleware:\n  - cost_tracking: {input_per_mtok: 1000, output_per_mtok: 2000}\n"


@pytest.fixture
def two_sessions(spine: SpineRunner, write: Writer, store_block: str) -> tuple[Path, Path, str]:
    """Spec `analyst.yaml` (tenant acme) ran session `s-done`; spec `ops.yaml` (tenant globex)
    paused session `s-paused` on an approval. Returns both specs and the pause token."""
    write("ops.py", OPS)
    analyst = write(
        "analyst.yaml",
        "name: analyst\nmodel: test\ntenant_id: acme\ntools:\n  - python: ops:lookup\n"
        f"  - python: ops:broken\n{PRICED}{store_block}",
    )
    ops = write(
        "ops.yaml",
        f"name: ops\nmodel: test\ntenant_id: globex\ntools:\n  - python: ops:deploy\n{store_block}",
    )
    done = spine("run", str(analyst), "what is spine?", "--session", "s-done")
    assert done.returncode == 0, done.stderr
    paused = spine("run", str(ops), "ship it", "--session", "s-paused", "--json")
    assert paused.returncode == 2, paused.stderr
    return analyst, ops, json.loads(paused.stdout)["resume_token"]


def test_list_filters_by_status_and_tenant(
    spine: SpineRunner, two_sessions: tuple[Path, Path, str]
) -> None:
    analyst, _, _ = two_sessions
    table = spine("sessions", "list", str(analyst))
    assert table.returncode == 0, table.stderr
    assert re.search(r"2 session\(s\) in the (sqlite|redis|postgres) store", table.stdout)
    rows = {
        line.split("│")[1].strip(): line for line in table.stdout.splitlines() if "│ s-" in line
    }
    assert set(rows) == {"s-done", "s-paused"}
    assert "acme" in rows["s-done"] and "done" in rows["s-done"]
    assert "globex" in rows["s-paused"] and "interrupted" in rows["s-paused"]

    def ids(*args: str) -> list[str]:
        done = spine("sessions", "list", str(analyst), "--json", *args)
        assert done.returncode == 0, done.stderr
        return sorted(row["session_id"] for row in json.loads(done.stdout))

    assert ids() == ["s-done", "s-paused"]
    assert ids("--status", "interrupted") == ["s-paused"]
    assert ids("--tenant", "acme") == ["s-done"]
    assert ids("--tenant", "acme", "--status", "interrupted") == []
    bad = spine("sessions", "list", str(analyst), "--status", "finished")
    assert bad.returncode == 1
    assert bad.stderr.startswith("spine: error: unknown status 'finished' (use one of: running,")


def test_show_gives_messages_tool_calls_usage_and_the_pending_pause(
    spine: SpineRunner, two_sessions: tuple[Path, Path, str]
) -> None:
    analyst, ops, token = two_sessions
    done = spine("sessions", "show", str(analyst), "s-done")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"status\s+done \(stopped: final\)", out)
    assert re.search(r"tenant\s+acme", out)
    assert re.search(r"user\s+what is spine\?", out)
    assert '→ lookup(term="example")' in out
    assert "lookup ← 3 hits for example" in out
    assert "broken ✗ Tool 'broken' failed: ValueError: the index is offline" in out
    cost = re.search(r"usage\s+tokens \d+ in / \d+ out · requests 2 · cost \$(\d+\.\d+)", out)
    assert cost is not None and float(cost.group(1)) > 0

    paused = spine("sessions", "show", str(ops), "s-paused")
    assert "⏸ paused (approval): Approve the call to 'deploy'" in paused.stdout
    assert 'pending tool call: deploy(target="example")' in paused.stdout
    assert f"continue with: spine resume {ops} {token} --approve" in paused.stdout

    as_json = spine("sessions", "show", str(ops), "s-paused", "--json")
    state = State.model_validate_json(as_json.stdout)
    assert state.status is RunStatus.INTERRUPTED and state.pending is not None


def test_trace_is_a_timeline_of_steps_tool_calls_results_errors_and_costs(
    spine: SpineRunner, two_sessions: tuple[Path, Path, str]
) -> None:
    analyst, ops, token = two_sessions
    done = spine("trace", str(analyst), "s-done")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "session s-done · agent analyst · done (final) · tenant acme"
    assert lines[1] == "turn 1  user: what is spine?"
    assert re.fullmatch(
        r"  step 1  test:default · \d+ in / \d+ out · \$0\.0\d{3} · \d\.\d\ds", lines[2]
    )
    assert lines[3] == '    → lookup(term="example")'
    assert re.fullmatch(r"      ← 3 hits for example \(\d\.\d\ds\)", lines[4])
    assert lines[5] == "    → broken()"
    assert lines[6].startswith("      ✗ Tool 'broken' failed: ValueError: the index is offline")
    assert lines[7].startswith("  step 2  test:default")
    assert lines[8].startswith("    answer: Tool results: - lookup: 3 hits for example")
    assert re.fullmatch(
        r"total · 2 model calls · \d+ in / \d+ out · \$0\.\d{4} · 2 tool calls \(1 failed\)",
        lines[9],
    )
    paused = spine("trace", str(ops), "s-paused")
    assert "  ⏸ paused (approval): Approve the call to 'deploy'" in paused.stdout
    assert f"continue with: spine resume {ops} {token} --approve" in paused.stdout

    timeline = json.loads(spine("trace", str(analyst), "s-done", "--json").stdout)["timeline"]
    kinds = [item["kind"] for item in timeline]
    assert kinds == [
        "turn",
        "model",
        "tool_call",
        "tool_result",
        "tool_call",
        "tool_result",
        "model",
    ]
    assert timeline[1]["usage"]["cost_usd"] > 0


def test_trace_shows_a_failed_model_call(spine: SpineRunner, write: Writer) -> None:
    spec = write("agent.yaml", "model: openai:gpt-4o\n")
    failed = spine("run", str(spec), "hello", "--session", "e1", env={"OPENAI_API_KEY": ""})
    assert failed.returncode == 1
    assert failed.stdout.startswith("stopped: error: ")
    trace = spine("trace", "e1")  # the default store, .spine/state.db
    assert trace.returncode == 0, trace.stderr
    assert "session e1 · agent agent · error (error)" in trace.stdout
    assert "  ✗ error (model): ProviderError: " in trace.stdout
    assert "OPENAI_API_KEY" in trace.stdout


def test_export_and_delete(
    spine: SpineRunner, two_sessions: tuple[Path, Path, str], tmp_path: Path
) -> None:
    analyst, _, _ = two_sessions
    exported = spine("sessions", "export", str(analyst), "s-done")
    assert exported.returncode == 0, exported.stderr
    state = State.load(json.loads(exported.stdout))
    assert state.session_id == "s-done" and state.tenant_id == "acme"
    assert [m.role.value for m in state.messages] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]
    to_file = spine("sessions", "export", str(analyst), "s-done", "-o", "s.json")
    assert to_file.returncode == 0
    assert json.loads((tmp_path / "s.json").read_text()) == json.loads(exported.stdout)

    gone = spine("sessions", "delete", str(analyst), "s-done")
    assert (gone.returncode, gone.stdout) == (0, "deleted session s-done\n")
    listed = json.loads(spine("sessions", "list", str(analyst), "--json").stdout)
    assert [row["session_id"] for row in listed] == ["s-paused"]
    again = spine("sessions", "delete", str(analyst), "s-done")
    assert again.returncode == 1
    assert re.fullmatch(
        r"spine: error: no session 's-done' in the (sqlite|redis|postgres) store \S+\n",
        again.stderr,
    )
    missing = spine("sessions", "show", str(analyst), "s-done")
    assert missing.returncode == 1 and "no session 's-done' in the" in missing.stderr


def test_store_by_url_and_the_default_store(
    spine: SpineRunner, write: Writer, tmp_path: Path
) -> None:
    nothing = spine("sessions", "list")
    assert nothing.returncode == 1
    assert nothing.stderr == (
        "spine: error: no session store here: .spine/state.db does not exist (name the agent "
        "spec, or the store with --store URL)\n"
    )
    spec = write("agent.yaml", "model: test\n")
    assert spine("run", str(spec), "hi", "--session", "d1").returncode == 0
    for args in (
        [],
        ["--store", ".spine/state.db"],
        ["--store", f"sqlite://{tmp_path}/.spine/state.db"],
    ):
        listed = spine("sessions", "list", "--json", *args)
        assert [row["session_id"] for row in json.loads(listed.stdout)] == ["d1"], args
    bad = spine("sessions", "list", "--store", "mongodb://x")
    assert bad.stderr.startswith("spine: error: --store: unknown store URL scheme 'mongodb://'")
