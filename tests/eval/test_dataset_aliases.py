"""YAML alias bombs and recursive aliases in eval datasets fail fast with one line naming the
file and line, in `load_dataset` and in `spine eval`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spine_eval import DatasetError, load_dataset

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "examples" / "quickstart" / "agent.yaml"


def _bomb(path: Path) -> Path:
    rows = ["cases:", "  - input: hi", "    metadata:", "      a: &a [x,x,x,x,x,x,x,x,x]"]
    rows += [
        f"      {k}: &{k} [{','.join([f'*{p}'] * 9)}]"
        for p, k in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert len(path.read_bytes()) < 400  # 9**9 values once expanded
    return path


def test_an_alias_bomb_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    path = _bomb(tmp_path / "bomb.yaml")
    started = time.monotonic()
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    assert time.monotonic() - started < 5
    # line 9 anchors `f`, the first value past 100,000 (9**6)
    assert str(caught.value) == (
        f"{path}:9: the dataset expands to more than 100,000 values through YAML aliases "
        "(an alias bomb?)"
    )


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("cases:\n  - input: hi\n    metadata: &m {self: *m}\n", 3),
        ("- &c {input: hi, tags: *c}\n", 1),
    ],
    ids=["mapping-in-itself", "case-in-itself"],
)
def test_a_recursive_alias_is_refused_naming_the_anchor_line(
    tmp_path: Path, text: str, line: int
) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    assert str(caught.value) == (
        f"{path}:{line}: recursive YAML alias: the value anchored here contains itself"
    )


def test_shared_aliases_under_the_bound_still_load(tmp_path: Path) -> None:
    path = tmp_path / "shared.yaml"
    path.write_text(
        "cases:\n"
        "  - {id: one, input: hi, metadata: &meta {owner: docs, tags: [a, b]}}\n"
        "  - {id: two, input: ho, metadata: *meta}\n",
        encoding="utf-8",
    )
    dataset = load_dataset(path)
    assert [c.metadata for c in dataset] == [{"owner": "docs", "tags": ["a", "b"]}] * 2


def test_spine_eval_prints_one_line_for_an_alias_bomb(tmp_path: Path) -> None:
    path = _bomb(tmp_path / "bomb.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
    env["NO_COLOR"] = "1"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "spine", "eval", str(AGENT), str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert time.monotonic() - started < 20
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "bomb.yaml:9" in lines[0]
    assert "alias bomb" in lines[0]


def test_a_deeply_nested_dataset_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("- input: hi\n  metadata: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    assert str(caught.value) == f"{path}: values nested too deeply"
