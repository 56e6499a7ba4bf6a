"""Faults and bad input: a remote killed mid-stream or down, malformed payloads, a wrong or
missing `A2A-Version` header, an unknown method, an auth failure."""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any

import anyio
import httpx
import pytest
from a2a.utils.errors import MethodNotFoundError
from a2a_agents import echo_agent
from a2a_helpers import TLS, serve, workers
from a2a_sdk_agent import painter_app
from starlette.types import ASGIApp, Receive, Scope, Send

from spine_a2a import VERSION_NOT_SUPPORTED, A2AAgent, A2AAgentError, A2AEventType, A2AServer
from spine_a2a.errors import map_error
from spine_core import Agent, Message, Role, ScriptedProvider, ToolCall


def delegate(tool: str, text: str) -> Message:
    return Message.assistant(
        tool_calls=[ToolCall(id="call_x", name=tool, arguments={"input": text})]
    )


def send_message(text: str = "hi") -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": "1",
        "method": "SendMessage",
        "params": {
            "message": {
                "messageId": uuid.uuid4().hex,
                "role": "ROLE_USER",
                "parts": [{"text": text}],
            }
        },
    }


V1 = {"A2A-Version": "1.0"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.anyio
async def test_remote_killed_mid_stream_is_a_tool_error_and_the_run_goes_on() -> None:
    with workers("slow", "memory") as (remote_process,):
        async with A2AAgent(remote_process.url) as remote:
            provider = ScriptedProvider([delegate("slow", "go"), "The remote agent died."])
            agent = Agent(provider=provider, tools=[remote.as_tool()])
            seen: list[str] = []
            async for event in agent.stream("run the slow job"):
                if A2AEventType.of(event) is A2AEventType.STATUS:
                    seen.append(event.data["text"])
                    if event.data["text"] == "Calling tool 'slow_step'.":
                        remote_process.kill()  # mid-stream: the remote task is working
            result = agent.last_result
    assert "Calling tool 'slow_step'." in seen
    assert result is not None and result.ok and result.answer == "The remote agent died."
    [tool_result] = [m for m in result.state.messages if m.role is Role.TOOL]
    assert tool_result.is_error
    assert "A2AAgentError: connection" in tool_result.text


@pytest.mark.anyio
async def test_remote_that_is_down_is_a_connection_error_not_a_crashed_run() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with A2AAgent(url, timeout=5) as remote:
        with pytest.raises(A2AAgentError) as down:
            await remote.send("anyone?")
        assert down.value.kind.value == "connection" and down.value.retryable
        provider = ScriptedProvider([delegate("remote_agent", "hi"), "It is down."])
        result = await Agent(provider=provider, tools=[remote.as_tool()]).run("ask it")
    assert result.ok and result.answer == "It is down."
    [tool_result] = [m for m in result.state.messages if m.role is Role.TOOL]
    assert tool_result.is_error and f"cannot reach remote agent at {url}" in tool_result.text


@pytest.mark.anyio
async def test_malformed_payloads_get_protocol_errors_and_the_server_stays_up(
    http: httpx.AsyncClient,
) -> None:
    with serve(A2AServer(echo_agent())) as url:
        broken = await http.post(
            f"{url}/", content=b"{not json", headers={**V1, "Content-Type": "application/json"}
        )
        assert broken.json()["error"]["code"] == -32700
        bad = send_message()
        bad["params"]["message"] = "not a message"
        wrong = await http.post(f"{url}/", json=bad, headers=V1)
        assert wrong.json()["error"]["code"] in (-32602, -32600)
        no_parts = send_message()
        no_parts["params"]["message"]["parts"] = []
        empty = await http.post(f"{url}/", json=no_parts, headers=V1)
        assert "error" in empty.json()
        unknown = await http.post(f"{url}/", json={**send_message(), "method": "Nope"}, headers=V1)
        assert unknown.json()["error"]["code"] == -32601
        rest = await http.post(f"{url}/rest/message:send", content=b"[1,", headers=V1)
        assert rest.status_code == 400
        fine = await http.post(f"{url}/", json=send_message("still here"), headers=V1)
        task = fine.json()["result"]["task"]
        assert task["artifacts"][0]["parts"][0]["text"] == "echo #1: still here"
    mapped = map_error(MethodNotFoundError("Method not found"), url)
    assert mapped.code == -32601 and mapped.kind.value == "bad_request"
    assert "unknown A2A method" in str(mapped)


@pytest.mark.anyio
async def test_missing_or_wrong_version_header_gets_the_version_error(
    http: httpx.AsyncClient,
) -> None:
    with serve(A2AServer(echo_agent())) as url:
        for headers in ({}, {"A2A-Version": "0.3"}, {"A2A-Version": "2.0"}):
            answer = await http.post(f"{url}/", json=send_message(), headers=headers)
            assert answer.status_code == 200
            assert answer.json()["error"]["code"] == VERSION_NOT_SUPPORTED
        rest = await http.post(f"{url}/rest/message:send", json=send_message()["params"])
        assert rest.status_code == 400 and "version" in rest.text.lower()
        card = await http.get(f"{url}/.well-known/agent-card.json")  # the card needs none
        assert card.status_code == 200
        async with httpx.AsyncClient(headers={"A2A-Version": "0.3"}, verify=TLS) as old:
            remote = A2AAgent(url, client=old)
            with pytest.raises(A2AAgentError) as mismatch:
                await remote.send("hi")
            await remote.aclose()
        assert mismatch.value.code == VERSION_NOT_SUPPORTED
        assert mismatch.value.kind.value == "bad_request"
        assert "A2A protocol version mismatch (-32009)" in str(mismatch.value)


class _RequireToken:
    """Answers 401 to any non-GET request without the bearer token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        if (
            scope["type"] == "http"
            and scope["method"] != "GET"
            and headers.get(b"authorization") != b"Bearer s3cret"
        ):
            body = json.dumps({"detail": "missing token"}).encode()
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


@pytest.mark.anyio
async def test_auth_failure_is_an_auth_error_and_headers_authenticate() -> None:
    with serve(factory=lambda base: _RequireToken(painter_app(base, "JSONRPC"))) as url:
        async with A2AAgent(url) as anonymous:
            with pytest.raises(A2AAgentError) as refused:
                await anonymous.send("me")
        assert refused.value.kind.value == "auth" and refused.value.status == 401
        assert not refused.value.retryable
        async with A2AAgent(url, headers={"Authorization": "Bearer s3cret"}) as member:
            with anyio.fail_after(10):
                assert await member.send("me") == "Hello, me!"
