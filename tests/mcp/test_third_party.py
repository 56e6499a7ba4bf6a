"""MCPToolset against real, pinned third-party servers inside Spine runs driven by a
ScriptedProvider: from PyPI `mcp-server-git` and `mcp-server-fetch` (the lock file), from npm
`@modelcontextprotocol/server-everything`, `server-filesystem` and `server-memory`
(package.json + package-lock.json, `make setup`). `mcp-server-time` is in
test_stdio_time_server.py.

Each server is started once per module. Telemetry is off; the fetch server runs in a network
namespace holding only a loopback device (`unshare --net --map-root-user`), with the page it
fetches served inside it, so it cannot reach the internet.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import BIN, QUIET_ENV, require_server
from mcp_helpers import call, tool_messages

from spine_core import (
    Agent,
    ImagePart,
    InMemoryCheckpointStore,
    ScriptedProvider,
    StopReason,
    TextPart,
)
from spine_mcp import MCPImages, MCPToolset

pytestmark = pytest.mark.anyio

NODE_BIN = Path(__file__).resolve().parents[2] / "node_modules" / ".bin"
NODE_ENV = {**QUIET_ENV, "NODE_ENV": "production", "NO_UPDATE_NOTIFIER": "1"}


def require_program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        require_server(Path(f"/usr/bin/{name}"))  # skips, or fails under CI=true
    return found or name


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository with two commits."""
    git = require_program("git")
    path = tmp_path_factory.mktemp("repo")
    env = {"PATH": os.environ["PATH"], "HOME": str(path), "GIT_CONFIG_NOSYSTEM": "1"}

    def run(*args: str) -> None:
        ident = ["-c", "user.name=Spine Test", "-c", "user.email=test@example.invalid"]
        subprocess.run([git, *ident, *args], cwd=path, env=env, check=True, capture_output=True)

    run("init", "-q", "-b", "main")
    (path / "README.md").write_text("# demo\n")
    run("add", "README.md")
    run("commit", "-q", "-m", "Add the readme")
    (path / "app.py").write_text("print('hi')\n")
    run("add", "app.py")
    run("commit", "-q", "-m", "Add the marmalade app")
    (path / "app.py").write_text("print('hello')\n")  # an unstaged change
    return path


@pytest.fixture(scope="module")
async def git_mcp(repo: Path) -> AsyncIterator[MCPToolset]:
    server = BIN / "mcp-server-git"
    require_server(server)
    async with MCPToolset(
        command=str(server), args=["--repository", str(repo)], env=QUIET_ENV
    ) as mcp:
        yield mcp


async def test_git_server_log_and_status_reach_the_model(git_mcp: MCPToolset, repo: Path) -> None:
    tools = {t.name: t for t in await git_mcp.load_tools()}
    provider = ScriptedProvider(
        [
            call("git_log", {"repo_path": str(repo), "max_count": 5}, id="log"),
            call("git_diff_unstaged", {"repo_path": str(repo)}, id="diff"),
            "Two commits; app.py changed.",
        ]
    )
    result = await Agent(provider, tools=list(tools.values())).run("What happened?")

    assert {"git_log", "git_status", "git_diff_unstaged", "git_commit"} <= set(tools)
    assert tools["git_log"].parameters["required"] == ["repo_path"]
    assert result.answer == "Two commits; app.py changed."
    log, diff = tool_messages(provider.prompts[2])
    assert not log.is_error
    assert "Add the marmalade app" in log.text and "Add the readme" in log.text
    assert "-print('hi')" in diff.text and "+print('hello')" in diff.text


async def test_git_server_error_is_a_tool_error(git_mcp: MCPToolset, tmp_path: Path) -> None:
    provider = ScriptedProvider([call("git_status", {"repo_path": str(tmp_path)}), "not a repo"])
    await Agent(provider, tools=await git_mcp.load_tools()).run("status")

    [seen] = tool_messages(provider.prompts[1])
    assert seen.is_error and str(tmp_path) in seen.text


@pytest.fixture(scope="module")
async def fetch_mcp(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MCPToolset]:
    server = BIN / "mcp-server-fetch"
    require_server(server)
    unshare = require_program("unshare")
    site = tmp_path_factory.mktemp("site")
    (site / "index.html").write_text(
        "<html><head><title>Spine page</title></head><body><h1>Hello from loopback</h1>"
        "<p>The secret word is marmalade.</p></body></html>"
    )
    launcher = str(Path(__file__).with_name("netns_fetch.py"))
    flags = ["--ignore-robots-txt", "--allow-private-ips", "--user-agent", "spine-test"]
    args = ["--net", "--map-root-user", sys.executable, launcher, str(site), "8123"]
    async with MCPToolset(command=unshare, args=[*args, str(server), *flags], env=QUIET_ENV) as mcp:
        yield mcp


async def test_fetch_server_reads_a_loopback_page(fetch_mcp: MCPToolset) -> None:
    provider = ScriptedProvider(
        [
            call("fetch", {"url": "http://127.0.0.1:8123/index.html"}, id="page"),
            call("fetch", {"url": "http://example.com/"}, id="internet"),
            "The word is marmalade.",
        ]
    )
    result = await Agent(provider, tools=await fetch_mcp.load_tools()).run("Read the page")

    assert result.answer == "The word is marmalade."
    page, internet = tool_messages(provider.prompts[2])
    assert not page.is_error
    assert "# Hello from loopback" in page.text and "marmalade" in page.text
    assert internet.is_error and "Failed to fetch http://example.com/" in internet.text


@pytest.fixture(scope="module")
async def everything() -> AsyncIterator[MCPToolset]:
    server = NODE_BIN / "mcp-server-everything"
    require_server(server)
    async with MCPToolset(command=str(server), args=["stdio"], env=NODE_ENV) as mcp:
        yield mcp


async def test_everything_server_tools_images_and_structured_output(
    everything: MCPToolset,
) -> None:
    tools = {t.name: t for t in await everything.load_tools()}
    provider = ScriptedProvider(
        [
            call("echo", {"message": "ping"}, id="echo"),
            call("get-sum", {"a": 2, "b": 40}, id="sum"),
            call("get-tiny-image", {}, id="image"),
            call("get-structured-content", {"location": "Chicago"}, id="weather"),
            "done",
        ]
    )
    await Agent(provider, tools=list(tools.values()), middleware=[MCPImages()]).run("try all")

    assert everything.protocol_version == "2025-11-25"  # the TypeScript SDK: handshake era
    assert everything.skipped == {}
    echo, total, image, weather = tool_messages(provider.prompts[4])
    assert echo.text == "Echo: ping"
    assert total.text == "The sum of 2 and 40 is 42."
    assert "[image: image/png," in image.text and not image.is_error
    attached = next(m for m in provider.prompts[3] if m.role == "user" and m.parts)
    assert attached.parts is not None
    [picture] = [p for p in attached.parts if isinstance(p, ImagePart)]
    assert picture.media_type == "image/png"
    assert base64.b64decode(picture.data).startswith(b"\x89PNG")
    assert json.loads(weather.text) == {
        "temperature": 36,
        "conditions": "Light rain / drizzle",
        "humidity": 82,
    }  # validated against the tool's outputSchema by the SDK


async def test_everything_server_resources_and_prompts(everything: MCPToolset) -> None:
    resources = await everything.list_resources()
    templates = await everything.list_resource_templates()
    first = resources[0]
    contents = await everything.read_resource(first.uri)
    prompts = {p.name: p for p in await everything.list_prompts()}
    rendered = await everything.prompt_messages("args-prompt", {"city": "Oslo", "state": "N/A"})
    attached = await everything.resource_message(first.uri)
    provider = ScriptedProvider([call("read_resource", {"uri": first.uri}), "read it"])
    await Agent(provider, tools=await everything.load_tools(resources=True)).run("read")

    assert resources and all(r.uri.startswith("demo://") for r in resources)
    assert "demo://resource/dynamic/text/{resourceId}" in [t.uri_template for t in templates]
    assert contents and getattr(contents[0], "text", "")
    assert [a.name for a in prompts["args-prompt"].arguments or []] == ["city", "state"]
    assert rendered[0].role == "user" and "Oslo" in rendered[0].text
    assert attached.parts is not None and isinstance(attached.parts[1], TextPart)
    [seen] = tool_messages(provider.prompts[1])
    assert not seen.is_error and seen.text == getattr(contents[0], "text", None)


async def test_everything_server_elicitation_and_sampling_round_trips(
    everything: MCPToolset,
) -> None:
    store = InMemoryCheckpointStore()
    tools = await everything.load_tools()
    paused = await Agent(
        ScriptedProvider([call("trigger-elicitation-request", {})]), tools=tools, checkpoint=store
    ).run("ask me")
    schema = paused.interrupt.data["mcp_elicitation"]["requested_schema"]
    answer = {name: _sample_value(prop) for name, prop in schema["properties"].items()}
    answer["name"] = "Ada"
    provider = ScriptedProvider(["thanks"])
    await Agent(provider, tools=tools, checkpoint=store).resume(paused.resume_token, answer=answer)
    sampler = ScriptedProvider(
        [call("trigger-sampling-request", {"prompt": "Name a colour"}), "Teal.", "ok"]
    )
    await Agent(sampler, tools=tools).run("sample")

    assert paused.stopped_reason is StopReason.INTERRUPT
    [elicited] = tool_messages(provider.prompts[0])
    assert not elicited.is_error and "Ada" in elicited.text
    assert any("Name a colour" in m.text for m in sampler.prompts[1])
    [sampled] = tool_messages(sampler.prompts[2])
    assert not sampled.is_error and "Teal." in sampled.text


def _sample_value(prop: dict[str, object]) -> object:
    """A valid answer for one elicitation form field."""
    if "enum" in prop:
        return prop["enum"][0]  # type: ignore[index]
    if prop.get("oneOf"):
        return prop["oneOf"][0]["const"]  # type: ignore[index]
    kind = prop.get("type")
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return prop.get("minimum", 1)
    if kind == "array":
        items = prop.get("items") or {}
        options = items.get("enum") or [o["const"] for o in items.get("anyOf", [])]  # type: ignore[union-attr]
        return options[:1]
    if prop.get("format") == "email":
        return "ada@example.invalid"
    if prop.get("format") == "date":
        return "2026-12-01"
    return "x"


async def test_filesystem_server_reads_and_lists(tmp_path: Path) -> None:
    server = NODE_BIN / "mcp-server-filesystem"
    require_server(server)
    (tmp_path / "notes.txt").write_text("buy marmalade\n")
    root = str(tmp_path.resolve())
    provider = ScriptedProvider(
        [
            call("read_text_file", {"path": f"{root}/notes.txt"}, id="read"),
            call("list_directory", {"path": root}, id="list"),
            call("read_text_file", {"path": "/etc/passwd"}, id="outside"),
            "noted",
        ]
    )
    async with MCPToolset(command=str(server), args=[root], env=NODE_ENV) as mcp:
        await Agent(provider, tools=await mcp.load_tools()).run("read my notes")

    read, listing, outside = tool_messages(provider.prompts[3])
    assert (read.text, read.is_error) == ("buy marmalade\n", False)
    assert "[FILE] notes.txt" in listing.text
    assert outside.is_error and "outside allowed directories" in outside.text


async def test_memory_server_keeps_entities_between_calls(tmp_path: Path) -> None:
    server = NODE_BIN / "mcp-server-memory"
    require_server(server)
    env = {**NODE_ENV, "MEMORY_FILE_PATH": str(tmp_path / "memory.jsonl")}
    entity = {"name": "Ada", "entityType": "person", "observations": ["likes marmalade"]}
    provider = ScriptedProvider(
        [
            call("create_entities", {"entities": [entity]}, id="create"),
            call("search_nodes", {"query": "marmalade"}, id="search"),
            "Ada likes marmalade.",
        ]
    )
    async with MCPToolset(command=str(server), env=env) as mcp:
        result = await Agent(provider, tools=await mcp.load_tools()).run("remember Ada")

    assert result.answer == "Ada likes marmalade."
    created, found = tool_messages(provider.prompts[2])
    assert not created.is_error and not found.is_error
    assert json.loads(found.text)["entities"][0]["name"] == "Ada"
    assert "likes marmalade" in (tmp_path / "memory.jsonl").read_text()
