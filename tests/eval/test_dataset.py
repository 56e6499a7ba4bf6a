"""`load_dataset` (YAML / JSON, both layouts), its error messages, and `Dataset.filter`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spine_eval import Case, Dataset, DatasetError, load_dataset


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_mapping_with_cases_and_scorers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "qa.yaml",
        """
name: qa
scorers: [{cost_budget: {max_usd: 0.5}}]
cases:
  - id: capital
    input: "Capital of France?"
    expected: Paris
    tags: [geo, easy]
    metadata: {source: atlas}
    scorers: [exact_match, "contains:values=[Par],mode=any"]
  - input: "Hi"
""",
    )
    data = load_dataset(path)
    assert data.name == "qa" and len(data) == 2
    first = data.cases[0]
    assert first.expected == "Paris" and first.metadata == {"source": "atlas"}
    assert [s.name for s in first.scorers] == ["exact_match", "contains"]
    assert first.scorers[1].params == {"values": ["Par"], "mode": "any"}
    assert data.cases[1].id == "case-1"
    assert data.scorers[0].params == {"max_usd": 0.5}


def test_json_bare_list(tmp_path: Path) -> None:
    path = write(tmp_path, "d.json", json.dumps([{"id": 1, "input": "x", "expected": {"a": 1}}]))
    data = load_dataset(path)
    assert data.name == "d" and data.cases[0].id == "1" and data.cases[0].expected == {"a": 1}


def test_error_names_file_case_index_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "cases:\n  - input: ok\n  - input: x\n    tags: 5\n")
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert str(info.value).startswith(f"{path}:4: case 1 ('case-1'): field 'tags'")


def test_errors_name_the_line_of_the_case_or_its_field(tmp_path: Path) -> None:
    text = "name: d\ncases:\n  - input: a\n  - id: b\n    input: b\n    scorers: [exat_match]\n"
    path = write(tmp_path, "lines.yaml", text)
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert str(info.value).startswith(f"{path}:6: case 1: scorers[0]: ")
    with pytest.raises(DatasetError) as info:
        load_dataset(write(tmp_path, "noinput.yaml", "- input: a\n- id: b\n"))
    assert str(info.value) == f"{tmp_path / 'noinput.yaml'}:2: case 1: field 'input' is required"


def test_missing_input_and_unknown_field_are_reported(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"case 0: field 'input' is required"):
        load_dataset(write(tmp_path, "a.yaml", "- id: x\n"))
    with pytest.raises(DatasetError, match="inptu"):
        load_dataset(write(tmp_path, "b.yaml", "- input: x\n  inptu: y\n"))


def test_unknown_scorer_is_reported_at_load_time(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "- input: x\n  scorers: [exat_match]\n")
    with pytest.raises(DatasetError, match=r"case 0: scorers\[0\].*exat_match.*exact_match"):
        load_dataset(path)


def test_bad_scorer_parameter_is_reported_at_load_time(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", "- input: x\n  scorers: [{regex: {pattern: '('}}]\n")
    with pytest.raises(DatasetError, match="invalid pattern"):
        load_dataset(path)


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not valid YAML"):
        load_dataset(write(tmp_path, "y.yaml", "cases: [\n"))
    with pytest.raises(DatasetError, match="cannot read"):
        load_dataset(tmp_path / "missing.yaml")


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="duplicate case id 'a'"):
        load_dataset(write(tmp_path, "dup.yaml", "- {id: a, input: x}\n- {id: a, input: y}\n"))


def test_filter_by_any_or_all_tags() -> None:
    data = Dataset(
        cases=[
            Case(id="1", input="x", tags=["a", "b"]),
            Case(id="2", input="x", tags=["a"]),
            Case(id="3", input="x", tags=["c"]),
        ]
    )
    assert [c.id for c in data.filter(["a", "c"])] == ["1", "2", "3"]
    assert [c.id for c in data.filter(["a", "b"], match="all")] == ["1"]
    assert [c.id for c in data.filter(["b"])] == ["1"]
