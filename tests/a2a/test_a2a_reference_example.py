"""The reference's `A2AAgent` usage (examples/a2a/reference_client.py, the reference's
documented API only) runs unchanged against real A2A servers: a Spine `A2AServer` and an agent
built on a2a-sdk's own classes."""

from __future__ import annotations

import runpy

import pytest
from a2a_agents import echo_agent
from a2a_helpers import ROOT, serve
from a2a_sdk_agent import painter_app

from spine_a2a import A2AServer

EXAMPLE = ROOT / "examples" / "a2a" / "reference_client.py"


@pytest.mark.anyio
async def test_reference_example_runs_against_spine_and_sdk_servers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main = runpy.run_path(str(EXAMPLE))["main"]  # the file as is, minus its __main__ guard
    with (
        serve(A2AServer(echo_agent())) as spine_url,
        serve(factory=lambda base: painter_app(f"{base}/", "JSONRPC")) as sdk_url,
    ):
        # The reference POSTed JSON-RPC to `url` itself: give the endpoint, with its slash.
        await main(f"{spine_url}/")
        out = capsys.readouterr().out
        assert "send: echo #1: Hello from the reference example" in out
        assert "tool result: echo #1: ping" in out
        assert "answer: The echo answered." in out
        await main(sdk_url)
        sdk_out = capsys.readouterr().out
        assert "send: Hello, Hello from the reference example!" in sdk_out
        assert "tool result: Hello, ping!" in sdk_out
