"""A YAML spec configures its provider (`model:` as a mapping: base URL, key variable,
timeout, settings, prices), end to end against a real HTTP server on loopback; and the
unpriced-model line stays away when the spec prices the model."""

from __future__ import annotations

import http.server
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spine import SpecError, load_agent

from .fakes import fixture

pytestmark = pytest.mark.anyio


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    seen: list[tuple[str, dict[str, str], dict[str, Any]]]


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers a Chat Completions request with `openai_chat/text.yaml` (an Ollama native one
    with `ollama_native/answer.yaml`), as the model the request named; records path, headers
    and body."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["content-length"])))
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.seen.append((self.path, headers, request))  # type: ignore[attr-defined]
        native = self.path == "/api/chat"  # Ollama's native API
        answer = fixture("ollama_native/answer.yaml" if native else "openai_chat/text.yaml")["json"]
        answer["model"] = request["model"]
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.seen = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _unpriced(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "spine_providers.pricing"]


async def test_a_model_mapping_sets_url_key_timeout_settings_and_prices(
    server: _Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("ACME_GATEWAY_KEY", "sk-from-yaml")
    model = f"acme-gpt-{uuid.uuid4().hex[:6]}"  # in no price table
    spec = tmp_path / "agent.yaml"
    spec.write_text(
        "model:\n"
        f"  name: openai:{model}\n"
        "  base_url: http://127.0.0.1:${PORT}/v1\n"
        "  api_key_env: ACME_GATEWAY_KEY\n"
        "  timeout_s: 7.5\n"
        "  settings: {temperature: 0.1, store: false, max_tokens: 64}\n"
        f"  prices: {{{model}: {{input: 1.0, output: 2.0}}}}\n"
        "checkpoint: memory\n"
    )
    agent = load_agent(spec, env={"PORT": str(server.server_address[1])})
    assert agent.provider.timeout_s == 7.5  # type: ignore[attr-defined]

    with caplog.at_level(logging.WARNING, logger="spine_providers.pricing"):
        result = await agent.run("Tallest mountain?")

    assert result.ok and (result.answer or "").startswith("Mount Everest")
    ((path, headers, body),) = server.seen
    assert path == "/v1/chat/completions"
    assert headers["authorization"] == "Bearer sk-from-yaml"
    assert (body["model"], body["temperature"], body["store"]) == (model, 0.1, False)
    assert body["max_completion_tokens"] == 64
    assert result.usage.cost_usd == pytest.approx((1536 * 1.0 + 8 * 2.0) / 1e6)
    assert _unpriced(caplog) == []


@pytest.mark.parametrize(
    ("yaml", "line", "problem"),
    [
        (
            "model:\n  name: openai:gpt-5.4\n  base_urll: http://x/v1\n",
            3,
            "model.base_urll: unknown key 'base_urll'; did you mean 'base_url'?",
        ),
        (
            "model:\n  name: openai:gpt-5.4\n  prices:\n    gpt-5.4: {inptu: 1, output: 2}\n",
            4,
            "model.prices.gpt-5.4.inptu: unknown key 'inptu'; did you mean 'input'? "
            "(and 1 more problems)",
        ),
        (
            "model:\n  name: openai:gpt-5.4\n  api_key_env: SPINE_TEST_UNSET_KEY_VAR\n",
            3,
            "model.api_key_env: the environment variable SPINE_TEST_UNSET_KEY_VAR is not set",
        ),
        ("model:\n  base_url: http://x/v1\n", 1, "model.name: missing required key"),
    ],
    ids=["misspelt-key", "misspelt-price-key", "unset-key-variable", "no-name"],
)
def test_bad_model_mappings_get_one_line_with_file_line_and_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, yaml: str, line: int, problem: str
) -> None:
    monkeypatch.delenv("SPINE_TEST_UNSET_KEY_VAR", raising=False)
    spec = tmp_path / "agent.yaml"
    spec.write_text(yaml + "checkpoint: memory\n")
    with pytest.raises(SpecError) as caught:
        load_agent(spec)
    assert str(caught.value) == f"{spec}:{line}: {problem}"


@pytest.mark.parametrize("priced", [True, False])
async def test_cost_tracking_in_the_spec_silences_the_unpriced_line(
    server: _Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    priced: bool,
) -> None:
    monkeypatch.setenv("ACME_GATEWAY_KEY", "sk-test")
    model = f"acme-gpt-{uuid.uuid4().hex[:6]}"
    middleware = (
        f"middleware:\n  - cost_tracking: {{prices: {{{model}: {{input: 1.0, output: 2.0}}}}}}\n"
        if priced
        else ""
    )
    spec = tmp_path / "agent.yaml"
    spec.write_text(
        f"model: {{name: 'openai:{model}', base_url: 'http://127.0.0.1:${{PORT}}/v1', "
        "api_key_env: ACME_GATEWAY_KEY}\n" + middleware + "checkpoint: memory\n"
    )
    agent = load_agent(spec, env={"PORT": str(server.server_address[1])})

    with caplog.at_level(logging.WARNING, logger="spine_providers.pricing"):
        result = await agent.run("Tallest mountain?")

    assert result.ok
    if priced:
        assert _unpriced(caplog) == []
        assert result.usage.cost_usd == pytest.approx((1536 * 1.0 + 8 * 2.0) / 1e6)
    else:
        (line,) = _unpriced(caplog)
        assert f"no price for model '{model}'" in line and "model: {name: ..., prices:" in line
        assert result.usage.cost_usd == 0.0


async def test_ollama_native_options_set_in_yaml_reach_the_native_api(
    server: _Server, tmp_path: Path
) -> None:
    spec = tmp_path / "agent.yaml"
    spec.write_text(
        "model:\n"
        "  name: ollama:qwen3\n"
        "  base_url: http://127.0.0.1:${PORT}/v1\n"
        "  settings: {keep_alive: 10m}\n"  # the provider's defaults
        "settings: {num_ctx: 16384}\n"  # the agent's settings, sent on every call
        "checkpoint: memory\n"
    )
    agent = load_agent(spec, env={"PORT": str(server.server_address[1])})
    result = await agent.run("Weather?")

    assert result.ok and result.answer == "It is sunny in Paris, 21 C."
    ((path, _, body),) = server.seen
    assert path == "/api/chat"
    assert (body["keep_alive"], body["options"]) == ("10m", {"num_ctx": 16384})
