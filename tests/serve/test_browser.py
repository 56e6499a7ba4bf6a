"""The `spine dev` UI in a real browser (Debian's Chromium through Playwright) on the
quickstart agent plus an approval-gated tool: send a message, see the streamed answer and the
tool calls, approve the gated tool, reload and find the session in the list, open its trace,
and see the eval reports. Screenshots go to the test's artifacts folder (and the docs)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import REPO, Served, missing, quickstart_copy, wait_healthy

CHROMIUM = os.environ.get("SPINE_CHROMIUM", "/usr/bin/chromium")
DOCS_SHOT = REPO / "docs" / "img" / "spine-dev.png"


def _browser_or_skip() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("the Python package playwright is not installed (it is in the dev group)")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        missing(
            f"no Chromium at {CHROMIUM}: run `make setup` "
            "(apt-get install -y chromium chromium-driver)"
        )


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = tmp_path / "artifacts"
    folder.mkdir()
    return folder


def test_dev_ui_chat_tools_approval_sessions_trace_and_evals(
    tmp_path: Path, spine_server: Callable[..., Served], artifacts: Path
) -> None:
    _browser_or_skip()
    from playwright.sync_api import expect, sync_playwright

    spec = quickstart_copy(tmp_path)
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "app.py").write_text("def main():\n    return 1\n")
    (repo / "README.md").write_text("# Sample\n")
    reports = tmp_path / ".spine"
    reports.mkdir()
    (reports / "eval.json").write_text(json.dumps({"pass_rate": 1.0, "cases": [{}, {}]}))
    served = spine_server("dev", str(spec), env={"SPINE_REPO_ROOT": str(repo)})
    wait_healthy(served.url)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(served.url + "/")
            expect(page.get_by_test_id("agent-name")).to_have_text("repo-analyst")

            page.get_by_test_id("input").fill("What is in this repository?")
            page.get_by_test_id("send").click()

            # the tool calls, with their arguments and results, inline
            approval = page.get_by_test_id("approval")
            expect(approval).to_be_visible(timeout=30_000)
            expect(approval).to_contain_text("delete_branch")
            names = page.get_by_test_id("tool-name").all_inner_texts()
            assert names == [
                "list_files",
                "count_lines",
                "search_text",
                "read_file",
                "delete_branch",
            ]
            first = page.get_by_test_id("tool-call").first
            expect(first.get_by_test_id("tool-result")).to_contain_text("pkg/app.py")
            expect(page.get_by_test_id("tool-args").last).to_contain_text('"name": "example"')
            page.screenshot(path=str(artifacts / "1-approval.png"))

            page.get_by_test_id("approve").click()
            answer = page.get_by_test_id("msg-assistant").last
            expect(answer).to_contain_text("delete_branch: deleted branch example", timeout=30_000)
            expect(answer).to_contain_text("Tool results:")
            gated = page.get_by_test_id("tool-call").last  # the result lands on its own card
            expect(gated.get_by_test_id("tool-name")).to_have_text("delete_branch")
            expect(gated.get_by_test_id("tool-result")).to_have_text("deleted branch example")
            expect(page.get_by_test_id("tool-call")).to_have_count(5)
            session_id = page.get_by_test_id("session-id").inner_text()
            page.screenshot(path=str(artifacts / "2-answer.png"))

            page.reload()
            listed = page.locator(f'[data-testid="session"][data-id="{session_id}"]')
            expect(listed).to_be_visible()
            expect(listed).to_contain_text("done")
            listed.click()
            expect(page.get_by_test_id("msg-user").first).to_have_text(
                "What is in this repository?"
            )
            expect(page.get_by_test_id("tool-call")).to_have_count(5)

            page.get_by_test_id("tab-trace").click()
            trace = page.get_by_test_id("trace")
            expect(trace).to_contain_text(session_id)
            expect(page.get_by_test_id("trace-model")).to_have_count(2)
            expect(page.get_by_test_id("trace-tool_call")).to_have_count(5)
            expect(page.get_by_test_id("trace-totals")).to_contain_text("model calls")
            expect(page.get_by_test_id("trace-model").first).to_contain_text("test:")
            page.screenshot(path=str(artifacts / "3-trace.png"), full_page=True)

            page.get_by_test_id("tab-evals").click()
            expect(page.get_by_test_id("eval-report")).to_contain_text("eval.json")
            expect(page.get_by_test_id("eval-report")).to_contain_text("pass_rate 1")

            page.get_by_test_id("tab-chat").click()
            page.screenshot(path=str(artifacts / "4-session.png"))
            if os.environ.get("SPINE_UPDATE_DOCS_SCREENSHOT") or not DOCS_SHOT.exists():
                DOCS_SHOT.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(artifacts / "2-answer.png", DOCS_SHOT)
        finally:
            browser.close()
    assert sorted(p.name for p in artifacts.iterdir()) == [
        "1-approval.png", "2-answer.png", "3-trace.png", "4-session.png",
    ]  # fmt: skip
