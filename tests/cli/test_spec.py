"""The spec loader in process: env expansion, relative paths, defaults, typed output, the
exported JSON schema and the public `load_agent` API."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from spine import SpecError, load_agent, load_spec
from spine._yaml import expand_env
from spine.build import default_checkpoint
from spine.spec import json_schema
from spine_core import InMemoryCheckpointStore

Write = Callable[[str, str], Path]


def test_expand_env_defaults_and_escape() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert expand_env("${A}-${B:-two}-${EMPTY:-dflt}-$${A}", env) == "1-two-dflt-${A}"
    with pytest.raises(KeyError):
        expand_env("${MISSING}", env)


def test_env_values_expand_and_coerce(write: Write) -> None:
    spec = write("a.yaml", "model: ${M:-test}\nguards:\n  max_steps: ${STEPS:-3}\n")
    loaded = load_spec(spec, env={"M": "echo:loud"})
    assert loaded.model == "echo:loud"
    assert loaded.guards.max_steps == 3


def test_load_agent_builds_tools_middleware_system_file_and_overrides(write: Write) -> None:
    write("prompts/system.md", "Be brief.\n")
    write(
        "mytools.py",
        "from spine_core import tool\n\n@tool\ndef ping() -> str:\n    return 'pong'\n",
    )
    spec = write(
        "agent.yaml",
        """
        name: pinger
        model: echo
        system_file: prompts/system.md
        tools:
          - python: mytools
        middleware:
          - shout: {suffix: "!"}
        parallel_tools: true
        tenant_id: acme
        """,
    )
    store = InMemoryCheckpointStore()
    agent = load_agent(spec, model="test", max_steps=5, checkpoint=store)
    assert agent.name == "pinger" and agent.system == "Be brief.\n"
    assert list(agent.tools) == ["ping"]
    assert agent.provider.name == "test"
    assert agent.guards.max_steps == 5
    assert agent.checkpoint is store
    assert agent.parallel_tools and agent.tenant_id == "acme"
    result = agent.run_sync("go")
    assert result.answer == "TOOL RESULTS:\n- PING: PONG!"


def test_relative_checkpoint_path_resolves_against_the_spec_dir(write: Write) -> None:
    from spine_core import register_checkpoint

    seen: dict[str, str] = {}

    def factory(path: str) -> InMemoryCheckpointStore:
        seen["path"] = path
        return InMemoryCheckpointStore()

    register_checkpoint("recording_test_store", factory)
    spec = write(
        "sub/agent.yaml", "model: test\ncheckpoint:\n  recording_test_store: {path: db/s.db}\n"
    )
    load_agent(spec)
    assert Path(seen["path"]) == spec.parent / "db" / "s.db"
    assert (spec.parent / "db").is_dir()


def test_default_checkpoint_is_sqlite_when_backends_provide_it() -> None:
    from spine_core import available

    name, params = default_checkpoint()
    if any(p.name == "sqlite" for p in available("spine.checkpoints")):
        assert (name, params) == ("sqlite", {"path": ".spine/state.db"})
    else:
        assert (name, params) == ("memory", {})


def test_inline_json_schema_output_is_enforced(write: Write) -> None:
    spec = write(
        "agent.yaml",
        """
        model: test
        checkpoint: memory
        output:
          type: object
          properties:
            languages: {type: array, items: {type: string}, minItems: 1}
            total: {type: integer, minimum: 0}
          required: [languages, total]
        """,
    )
    agent = load_agent(spec)
    result = agent.run_sync("summarise")
    assert result.ok
    assert result.output == {"languages": ["example"], "total": 1}
    assert agent.output_spec is not None
    with pytest.raises(ValueError, match="missing required property 'total'"):
        agent.output_spec.parse('{"languages": ["Python"]}')


def test_both_system_and_system_file_is_an_error(write: Write) -> None:
    spec = write("a.yaml", "model: test\nsystem: hi\nsystem_file: p.md\n")
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    assert str(caught.value) == f"{spec}:3: system_file: give `system` or `system_file`, not both"
    assert caught.value.line == 3 and caught.value.path == ("system_file",)


def test_exported_schema_in_docs_is_up_to_date() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "agent-spec.schema.json"
    assert json.loads(docs.read_text()) == json_schema()
    assert "model" in json_schema()["required"]
