"""Malformed specs: each fails with one line on stderr naming file, line, key path and the
problem, and exit code 1 (never a traceback)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import SpineRunner

NOT_A_TOOL = "def helper():\n    return 1\n"

CASES = {
    "unknown_key": (
        "model: test\nmodle: test\n",
        "agent.yaml:2: modle: unknown key 'modle'; did you mean 'model'?",
    ),
    "wrong_type": (
        "model: test\nguards:\n  max_steps: many\n",
        "agent.yaml:3: guards.max_steps: Input should be a valid integer, unable to parse "
        "string as an integer (got 'many')",
    ),
    "unknown_middleware": (
        "model: test\nmiddleware:\n  - shout: {}\n  - retyr: {max_attempts: 3}\n",
        "agent.yaml:4: middleware[1].retyr: unknown middleware 'retyr'. Installed: ",
    ),
    "unknown_provider": (
        "name: x\nmodel: nosuch:model-1\n",
        "agent.yaml:2: model: unknown provider 'nosuch'. Installed: ",
    ),
    "missing_env_var": (
        "model: test\nsystem: Hello ${SPINE_TEST_UNSET_VAR}\n",
        "agent.yaml:2: system: environment variable SPINE_TEST_UNSET_VAR is not set",
    ),
    "bad_import_path": (
        "model: test\ntools:\n  - python: no_such_module:tools\n",
        "agent.yaml:3: tools[0].python: cannot import 'no_such_module': "
        "no module named 'no_such_module'",
    ),
    "yaml_syntax_error": (
        "model: test\ntools:\n  - python: helpers:helper\n   bad: [1, 2\n",
        "agent.yaml:4: YAML syntax error:",
    ),
    "not_a_tool": (
        "model: test\ntools:\n  - python: helpers:helper\n",
        "agent.yaml:3: tools[0].python: 'helpers:helper' is a function, not a Tool "
        "(decorate it with @tool from spine_core)",
    ),
    "missing_model": ("name: x\n", "agent.yaml:1: model: missing required key"),
    "recursive_alias": (
        "model: test\nsystem: &loop [*loop]\n",
        "agent.yaml:2: system: recursive YAML alias: the value anchored at line 2 contains itself",
    ),
    "misspelled_middleware_parameter": (
        "model: test\nmiddleware:\n  - retry:\n      max_attemps: 3\n",
        "agent.yaml:4: middleware[0].retry.max_attemps: unknown parameter 'max_attemps' for "
        "'retry'; did you mean 'max_attempts'? ('retry' takes: max_attempts,",
    ),
    "misspelled_checkpoint_parameter": (
        "model: test\ncheckpoint:\n  sqlite: {pth: x.db}\n",
        "agent.yaml:3: checkpoint.sqlite.pth: unknown parameter 'pth' for 'sqlite'; "
        "did you mean 'path'?",
    ),
    "model_without_scheme": (
        "model: gpt-4o\n",
        "agent.yaml:1: model: unknown provider 'gpt-4o'. Installed: ",
    ),
    "missing_system_file": (
        "model: test\nsystem_file: prompts/none.md\n",
        "agent.yaml:2: system_file: cannot read 'prompts/none.md': file not found",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_spec_fails_with_one_line_and_exit_code_1(
    case: str, spine: SpineRunner, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    text, expected = CASES[case]
    write("helpers.py", NOT_A_TOOL)
    write("agent.yaml", text)
    done = spine("run", "agent.yaml", "hi", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"spine: error: {expected}"), lines[0]
    if "Installed:" in expected:  # the error lists what can be used instead
        assert "shout" in lines[0] or ("echo" in lines[0] and "test" in lines[0])
    if case == "model_without_scheme":
        assert lines[0].endswith("Models are named SCHEME:MODEL: did you mean 'openai:gpt-4o'?")


def test_missing_spec_file(spine: SpineRunner) -> None:
    done = spine("run", "nowhere.yaml", "hi")
    assert (done.returncode, done.stderr) == (1, "spine: error: nowhere.yaml: file not found\n")


def test_unknown_model_override_names_the_option(
    spine: SpineRunner, write: Callable[[str, str], Path]
) -> None:
    spec = write("agent.yaml", "model: test\n")
    done = spine("run", str(spec), "hi", "--model", "nosuch:x")
    assert done.returncode == 1
    assert done.stderr.startswith("spine: error: --model: unknown provider 'nosuch'")


def test_model_option_without_scheme_suggests_the_provider(
    spine: SpineRunner, write: Callable[[str, str], Path]
) -> None:
    spec = write("agent.yaml", "model: test\n")
    for model, suggestion in (("gpt-4o", "openai:gpt-4o"), ("claude-sonnet-4-6", "anthropic:")):
        done = spine("run", str(spec), "hi", "-m", model)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith(f"spine: error: --model: unknown provider '{model}'")
        assert f"did you mean '{suggestion}" in done.stderr
        assert done.stderr.count("\n") == 1
    typo = spine("run", str(spec), "hi", "-m", "antropic:claude-sonnet-4-6")
    assert "Did you mean 'anthropic'?" in typo.stderr


def test_an_alias_bomb_fails_fast_naming_file_and_line(
    spine: SpineRunner, write: Callable[[str, str], Path]
) -> None:
    rows = ["model: test", "a: &a [x,x,x,x,x,x,x,x,x]"]
    rows += [
        f"{k}: &{k} [{','.join([f'*{p}'] * 9)}]"
        for p, k in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    spec = write("bomb.yaml", "\n".join(rows) + "\n")
    assert len(spec.read_bytes()) < 400  # 9**9 values once expanded
    started = time.monotonic()
    done = spine("run", str(spec), "hi")
    assert time.monotonic() - started < 20  # the unbounded expansion took minutes
    assert done.returncode == 1
    assert done.stderr == (
        f"spine: error: {spec}:7: f: the spec expands to more than 100,000 values through "
        "YAML aliases (an alias bomb?)\n"
    )
