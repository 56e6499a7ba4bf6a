"""The repository analyst's tools: real numbers from a directory, and paths confined to it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from spine_core import Agent, Tool

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "agent.yaml"


def _load_tools() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "quickstart_tools", QUICKSTART.parent / "tools.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["quickstart_tools"] = module
    spec.loader.exec_module(module)
    return module


tools = _load_tools()


@pytest.fixture(autouse=True)
def _root(sample_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPINE_REPO_ROOT", str(sample_repo))


def _call(t: Tool, **arguments: object) -> str:
    assert t.func is not None
    return str(t.func(**{**_defaults(t), **arguments}))


def _defaults(t: Tool) -> dict[str, object]:
    return {name: prop["default"] for name, prop in t.parameters["properties"].items()}


def test_count_lines_counts_text_per_language_and_skips_vcs_and_binaries() -> None:
    out = _call(tools.count_lines)
    assert out == "8 lines under '.': Python 6 lines in 1 files; Markdown 2 lines in 1 files"


def test_search_text_reports_matches_with_file_and_line() -> None:
    out = _call(tools.search_text)
    assert out.splitlines() == [
        "2 matches for 'def ' in 1 files (most in pkg/app.py (2))",
        "pkg/app.py:1: def main():",
        "pkg/app.py:5: def helper():",
    ]


def test_search_text_regex_mode() -> None:
    assert _call(tools.search_text, pattern=r"return \d", regex=True).startswith("1 matches")


def test_list_files_applies_the_pattern() -> None:
    assert (
        _call(tools.list_files, pattern="*.py") == "1 files matching '*.py' under '.': pkg/app.py"
    )


def test_read_file_numbers_lines_from_start() -> None:
    out = _call(tools.read_file, path="pkg/app.py", start=5, max_lines=1)
    assert out == "pkg/app.py (lines 5-5 of 6):\n    5| def helper():"


@pytest.mark.parametrize("path", ["..", "../outside.txt", "pkg/../../x", "/etc/passwd"])
def test_paths_outside_the_root_are_rejected(path: str) -> None:
    with pytest.raises(ValueError, match="outside the repository root"):
        _call(tools.read_file, path=path)


def test_symlink_out_of_the_root_is_rejected_and_not_listed(
    sample_repo: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.py"
    secret.write_text("def secret():\n")
    (sample_repo / "link.py").symlink_to(secret)
    with pytest.raises(ValueError, match="outside the repository root"):
        _call(tools.read_file, path="link.py")
    assert "link.py" not in _call(tools.list_files)
    assert "secret" not in _call(tools.search_text)


def test_absolute_path_inside_the_root_is_allowed(sample_repo: Path) -> None:
    assert _call(tools.read_file, path=str(sample_repo / "README.md")).startswith("README.md")


@pytest.mark.anyio
async def test_escaping_path_reaches_the_model_as_a_tool_error() -> None:
    from spine_core import Message, ScriptedProvider, ToolCall

    call = ToolCall(id="c1", name="read_file", arguments={"path": "../../etc/passwd"})
    provider = ScriptedProvider([Message.assistant(tool_calls=[call]), "done"])
    result = await Agent(provider=provider, tools=tools.TOOLS).run("read it")
    tool_message = result.state.messages[2]
    assert result.ok and tool_message.is_error
    assert "outside the repository root" in tool_message.text
