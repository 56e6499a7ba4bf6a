"""`A2AAgent` keeps the reference's documented surface: constructor, defaults and methods
(Spine's additions are keyword-only, so every documented call binds the same way)."""

from __future__ import annotations

import inspect

from spine_a2a import A2AAgent, A2AServer
from spine_core import Tool

POS = inspect.Parameter.POSITIONAL_OR_KEYWORD
KW = inspect.Parameter.KEYWORD_ONLY


def params(func: object) -> list[tuple[str, object, object]]:
    sig = inspect.signature(func)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in sig.parameters.values() if p.name != "self"]


def test_constructor_and_methods_match_the_reference() -> None:
    empty = inspect.Parameter.empty
    ctor = params(A2AAgent.__init__)
    assert ctor[:5] == [
        ("url", POS, empty),
        ("client", KW, None),
        ("name", KW, None),
        ("description", KW, None),
        ("timeout", KW, 60.0),
    ]
    assert all(kind == KW for _, kind, _ in ctor[5:])
    assert params(A2AAgent.send)[0] == ("text", POS, empty)
    assert all(kind == KW for _, kind, _ in params(A2AAgent.send)[1:])
    assert params(A2AAgent.as_tool) == [("name", KW, None), ("description", KW, None)]
    assert inspect.iscoroutinefunction(A2AAgent.aclose)
    assert inspect.iscoroutinefunction(A2AAgent.__aenter__)
    assert params(A2AServer.__init__)[0][0] == "agent"
    assert all(kind == KW for _, kind, _ in params(A2AServer.__init__)[1:])


def test_defaults_and_tool_shape_match_the_reference() -> None:
    remote = A2AAgent("http://127.0.0.1:1")  # no network until first use
    assert remote.url == "http://127.0.0.1:1"
    assert remote.name == "remote_agent"
    assert remote.description == "Delegate a task to a remote A2A agent."
    tool = remote.as_tool()
    assert isinstance(tool, Tool)
    assert tool.name == "remote_agent"
    assert tool.parameters["required"] == ["input"]
    assert tool.parameters["properties"]["input"]["type"] == "string"
    named = remote.as_tool(name="helper", description="Helps.")
    assert (named.name, named.description) == ("helper", "Helps.")
