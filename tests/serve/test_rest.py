"""The REST API through httpx against the real ASGI app: runs (sync, stream, background),
sessions, resume, health, OpenAPI, and the refusals (422, 404, 409, 413, 401)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from spine_core import Agent, InMemoryCheckpointStore, tool

from .conftest import add, delete_branch, make_agent, pick_colour, sse_frames

pytestmark = pytest.mark.anyio


async def test_healthz_and_openapi_list_every_route(client_for: Callable[..., Any]) -> None:
    client = await client_for(make_agent(add))
    health = await client.get("/healthz")
    assert health.json() == {"status": "ok", "agent": "tester", "protocols": ["rest", "ag-ui"]}
    schema = (await client.get("/openapi.json")).json()
    assert schema["openapi"].startswith("3.1")
    assert set(schema["paths"]) == {
        "/healthz", "/openapi.json", "/runs", "/sessions", "/sessions/{session_id}",
        "/sessions/{session_id}/resume", "/ag-ui",
    }  # fmt: skip
    run_body = schema["paths"]["/runs"]["post"]["requestBody"]["content"]["application/json"]
    assert run_body["schema"] == {"$ref": "#/components/schemas/RunRequest"}
    assert "input" in schema["components"]["schemas"]["RunRequest"]["required"]


async def test_sync_run_answers_with_the_result(client_for: Callable[..., Any]) -> None:
    client = await client_for(make_agent(add))
    response = await client.post("/runs", json={"input": "add", "session_id": "s1"})
    assert response.status_code == 200
    body = response.json()
    assert body["session_id"] == "s1"
    assert body["status"] == "done"
    assert body["answer"] == "Tool results:\n- add: 2"
    assert body["usage"]["requests"] == 2


async def test_stream_run_sends_trace_events_then_the_result(
    client_for: Callable[..., Any],
) -> None:
    client = await client_for(make_agent(add))
    response = await client.post("/runs", json={"input": "add", "mode": "stream"})
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = sse_frames(response.text)
    names = [name for name, _ in frames]
    assert names[0] == "step_start"
    assert {"tool_call", "tool_result", "token", "final"} <= set(names)
    assert names[-1] == "result"
    assert frames[-1][1]["answer"] == "Tool results:\n- add: 2"


async def test_background_run_answers_202_and_the_session_finishes(
    client_for: Callable[..., Any],
) -> None:
    client = await client_for(make_agent(add))
    response = await client.post("/runs", json={"input": "add", "mode": "background"})
    assert response.status_code == 202
    session = response.json()["session_id"]
    assert response.headers["location"] == f"/sessions/{session}"
    with anyio.fail_after(10):
        while True:
            got = await client.get(f"/sessions/{session}")
            if got.status_code == 200 and got.json()["status"] == "done":
                break
            await anyio.sleep(0.01)
    assert got.json()["messages"][-1]["content"] == "Tool results:\n- add: 2"


async def test_malformed_body_is_422_naming_the_field(client_for: Callable[..., Any]) -> None:
    client = await client_for(make_agent(add))
    missing = await client.post("/runs", json={"session_id": "x"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "input"]
    wrong = await client.post("/runs", json={"input": "x", "mode": "later"})
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "mode"]
    not_json = await client.post(
        "/runs", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422
    assert not_json.json()["detail"][0]["loc"] == ["body"]
    status = await client.get("/sessions", params={"status": "sleeping"})
    assert status.status_code == 422
    assert status.json()["detail"][0]["loc"] == ["query", "status"]


async def test_body_over_the_limit_is_413(client_for: Callable[..., Any]) -> None:
    client = await client_for(make_agent(add), max_body_bytes=1000)
    big = await client.post("/runs", json={"input": "x" * 2000})
    assert big.status_code == 413
    assert "1000 bytes" in big.json()["detail"]

    async def chunks() -> Any:  # no Content-Length: counted as it streams in
        for _ in range(5):
            yield b"x" * 400

    streamed = await client.post("/runs", content=chunks())
    assert streamed.status_code == 413
    fits = await client.post("/runs", json={"input": "x" * 100})
    assert fits.status_code == 200


async def test_sessions_list_show_and_delete(client_for: Callable[..., Any]) -> None:
    client = await client_for(make_agent(add, delete_branch))
    await client.post("/runs", json={"input": "go", "session_id": "paused"})
    listed = (await client.get("/sessions")).json()["sessions"]
    assert [(s["session_id"], s["status"]) for s in listed] == [("paused", "interrupted")]
    only = (await client.get("/sessions", params={"status": "done"})).json()["sessions"]
    assert only == []
    shown = (await client.get("/sessions/paused")).json()
    assert shown["pending"]["tool_call"]["name"] == "delete_branch"
    assert shown["pending"]["resume_token"].startswith("paused:")
    kinds = [e["kind"] for e in shown["timeline"]]
    assert kinds[:2] == ["turn", "model"] and kinds[-1] == "pause"
    assert (await client.get("/sessions/nope")).status_code == 404
    assert (await client.delete("/sessions/paused")).status_code == 204
    assert (await client.get("/sessions/paused")).status_code == 404
    assert (await client.delete("/sessions/paused")).status_code == 404


async def test_resume_approves_rejects_and_refuses(client_for: Callable[..., Any]) -> None:
    client = await client_for(make_agent(delete_branch))
    await client.post("/runs", json={"input": "go", "session_id": "a"})
    busy = await client.post("/runs", json={"input": "again", "session_id": "a"})
    assert busy.status_code == 409 and "waiting for a human decision" in busy.json()["detail"]
    approved = await client.post("/sessions/a/resume", json={"decision": "approve"})
    assert approved.status_code == 200
    assert approved.json()["answer"] == "Tool results:\n- delete_branch: deleted branch example"
    again = await client.post("/sessions/a/resume", json={})
    assert again.status_code == 409 and "not paused" in again.json()["detail"]
    assert (await client.post("/sessions/ghost/resume", json={})).status_code == 404

    await client.post("/runs", json={"input": "go", "session_id": "b"})
    rejected = await client.post(
        "/sessions/b/resume", json={"decision": "reject", "reason": "keep it", "mode": "stream"}
    )
    frames = sse_frames(rejected.text)
    result = next(data for name, data in frames if name == "tool_result")
    assert result["data"]["is_error"] is True
    assert "The user rejected this tool call: keep it" in result["data"]["result"]
    assert frames[-1][0] == "result" and frames[-1][1]["status"] == "done"


async def test_resume_answers_a_tool_question(client_for: Callable[..., Any]) -> None:
    client = await client_for(make_agent(pick_colour))
    paused = (await client.post("/runs", json={"input": "colour?", "session_id": "q"})).json()
    assert paused["interrupt"]["question"] == "Which colour?"
    assert paused["interrupt"]["kind"] == "input"
    answered = await client.post("/sessions/q/resume", json={"answer": "blue"})
    assert answered.json()["answer"] == "Tool results:\n- pick_colour: blue"


async def test_bearer_token_guards_every_route_but_healthz(client_for: Callable[..., Any]) -> None:
    client = await client_for(make_agent(add), token="s3cret-token")
    assert (await client.get("/healthz")).status_code == 200
    none = await client.get("/sessions")
    assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
    wrong = await client.get("/sessions", headers={"authorization": "Bearer s3cret-tokem"})
    assert wrong.status_code == 401
    assert (await client.post("/ag-ui", json={})).status_code == 401
    right = await client.get("/sessions", headers={"authorization": "Bearer s3cret-token"})
    assert right.status_code == 200


async def test_token_from_the_environment(
    client_for: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPINE_SERVE_TOKEN", "from-env-token")
    client = await client_for(make_agent(add))
    assert (await client.get("/sessions")).status_code == 401
    ok = await client.get("/sessions", headers={"authorization": "Bearer from-env-token"})
    assert ok.status_code == 200


async def test_no_secret_value_appears_in_a_response(
    client_for: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-live-0123456789abcdef"
    monkeypatch.setenv("ACME_API_KEY", secret)

    @tool
    def leak() -> str:
        """Return the configuration."""
        return f"key={secret}"

    client = await client_for(make_agent(leak))
    texts = [
        (await client.post("/runs", json={"input": "x", "session_id": "l"})).text,
        (await client.post("/runs", json={"input": "x", "mode": "stream"})).text,
        (await client.get("/sessions/l")).text,
        (await client.post("/ag-ui", json={"threadId": "t", "runId": "r", "messages": [
            {"id": "1", "role": "user", "content": "x"}]})).text,
    ]  # fmt: skip
    for text in texts:
        assert secret not in text
        assert "key=***" in text


async def test_two_runs_on_one_session_conflict_cleanly(client_for: Callable[..., Any]) -> None:
    gate = anyio.Event()

    @tool
    async def slow() -> str:
        """Wait."""
        await gate.wait()
        return "done"

    client = await client_for(Agent(provider=make_agent().provider, tools=[slow],
                                    checkpoint=InMemoryCheckpointStore()))  # fmt: skip
    first = await client.post("/runs", json={"input": "a", "session_id": "c", "mode": "background"})
    assert first.status_code == 202
    second = await client.post("/runs", json={"input": "b", "session_id": "c"})
    assert second.status_code == 409 and "in progress" in second.json()["detail"]
    gate.set()


async def test_delete_cancels_a_background_run_and_the_session_stays_gone(
    client_for: Callable[..., Any],
) -> None:
    entered = anyio.Event()

    @tool
    async def forever() -> str:
        """Never ends by itself."""
        entered.set()
        await anyio.sleep(60)
        return "late"

    store = InMemoryCheckpointStore()
    client = await client_for(
        Agent(provider=make_agent().provider, tools=[forever], checkpoint=store)
    )
    started = await client.post(
        "/runs", json={"input": "a", "session_id": "bg", "mode": "background"}
    )
    assert started.status_code == 202
    with anyio.fail_after(10):
        await entered.wait()
    assert (await client.get("/sessions/bg")).json()["running"] is True
    assert (await client.delete("/sessions/bg")).status_code == 204
    assert await store.get("bg") is None  # the cancelled run's last checkpoint came before
    assert (await client.get("/sessions/bg")).status_code == 404


async def test_with_the_ui_only_the_page_and_its_files_skip_the_token(
    client_for: Callable[..., Any],
) -> None:
    client = await client_for(make_agent(add), token="ui-token-1", ui=True)
    page = await client.get("/")
    assert page.status_code == 200 and "<title>Spine dev</title>" in page.text
    assert (await client.get("/ui/app.js")).status_code == 200
    for path in ("/sessions", "/evals", "/evals/x.json", "/openapi.json"):
        assert (await client.get(path)).status_code == 401, path
    auth = {"authorization": "Bearer ui-token-1"}
    assert (await client.get("/evals", headers=auth)).json() == {"reports": []}


async def test_eval_reports_are_listed_and_confined_to_their_folder(
    client_for: Callable[..., Any], tmp_path: Any
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "eval.json").write_text('{"pass_rate": 0.5, "cases": [1, 2]}')
    (reports / "eval.html").write_text("<html>report</html>")
    (tmp_path / "secret.json").write_text("{}")
    client = await client_for(make_agent(add), ui=True, reports_dir=reports)
    listed = (await client.get("/evals")).json()["reports"]
    assert {r["name"] for r in listed} == {"eval.json", "eval.html"}
    summary = next(r for r in listed if r["name"] == "eval.json")["summary"]
    assert summary == {"pass_rate": 0.5, "cases": 2}
    html = await client.get("/evals/eval.html")
    assert html.text == "<html>report</html>"
    assert html.headers["content-security-policy"].startswith("sandbox")
    assert (await client.get("/evals/../secret.json")).status_code == 404
    assert (await client.get("/evals/%2e%2e/secret.json")).status_code == 404
