"""`availability_check`: can a provider be used, with no model call and no network traffic."""

from __future__ import annotations

from pathlib import Path

import pytest

from spine_core import TestProvider
from spine_providers.anthropic import AnthropicProvider
from spine_providers.availability import Availability, availability_check
from spine_providers.claude_code import ClaudeCodeProvider

from .conftest import CLI


@pytest.mark.anyio
async def test_api_provider_needs_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    missing = await availability_check(AnthropicProvider("claude-haiku-4-5"))
    assert not missing and "ANTHROPIC_API_KEY" in missing.reason
    present = await availability_check(AnthropicProvider("claude-haiku-4-5", api_key="k"))
    assert present and present.reason == "anthropic: API key configured and SDK installed"


@pytest.mark.anyio
async def test_cli_provider_checks_the_executable_without_running_it(tmp_path: Path) -> None:
    script = tmp_path / "claude"
    script.write_text("#!/bin/sh\ntouch ran\n")
    assert not await availability_check(ClaudeCodeProvider(cli_path=script))  # not executable
    script.chmod(0o755)
    found = await availability_check(ClaudeCodeProvider(cli_path=script))
    assert found == Availability(True, f"claude-code: CLI found at {script}")
    assert not (tmp_path / "ran").exists() and not Path("ran").exists()  # never started
    if CLI.exists():
        assert await ClaudeCodeProvider(cli_path=CLI).availability_check()


@pytest.mark.anyio
async def test_provider_without_a_check_is_assumed_available() -> None:
    answer = await availability_check(TestProvider())
    assert answer and "assumed available" in answer.reason
