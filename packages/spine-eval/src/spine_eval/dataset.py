"""Datasets of evaluation cases: `Case`, `Dataset` and `load_dataset` for YAML / JSON files.

File format (YAML or JSON) — a mapping with `cases:` or a bare list of cases::

    name: quickstart            # optional; default: the file name without extension
    scorers:                    # optional; applied to every case
      - cost_budget: {max_usd: 0.01}
    cases:
      - id: lists-files         # optional; default "case-<n>", n its 0-based position
        input: "What files are in this repository?"
        expected: "list_files"  # optional reference value read by scorers without a value
        tags: [tools]
        metadata: {owner: docs}
        scorers:                # optional; scorers for this case only
          - contains: {values: [list_files, count_lines], mode: all}
          - tool_called: {name: list_files}
          - "regex:pattern=Tool results"

A scorer entry is a name (`exact_match`), `"name:params"` (see `parse_scorer_spec`) or a
one-key mapping `{name: {param: value}}`; names resolve through the `spine.scorers` registry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spine_core import Message, SpineError

from .scoring import ScorerRef, ScorerSpec, build_scorer, parse_scorer_spec

__all__ = ["MAX_YAML_VALUES", "Case", "Dataset", "DatasetError", "load_dataset"]

MAX_YAML_VALUES = 100_000
"""Most values (scalars, mappings, lists) a YAML dataset may expand to, aliases included: bounds
the work an alias bomb (a few hundred bytes of nested `*alias` lists) causes in scoring and
reports, which walk the expanded data."""


class DatasetError(SpineError, ValueError):
    """A dataset file could not be read; the message names the file, the case index (0-based)
    and the field. A `ValueError`, as the reference's `load_dataset` raises."""


class Case(BaseModel):
    """One evaluation case.

    Attributes:
        id: Unique id within the dataset (reports and baselines match cases by it).
        input: The user's message, or a list of messages.
        expected: The reference value (answer text, structured output, ...) scorers read when
            they are not given their own value.
        metadata: Free-form data carried into the report.
        tags: Labels for `Dataset.filter`.
        scorers: Scorers for this case only, on top of the ones given to `evaluate`.
    """

    model_config = ConfigDict(extra="forbid")
    id: str
    input: str | list[Message]
    expected: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    scorers: list[ScorerRef] = Field(default_factory=list)

    @property
    def input_text(self) -> str:
        """The input as text (messages joined by newlines)."""
        if isinstance(self.input, str):
            return self.input
        return "\n".join(m.text for m in self.input)


class Dataset(BaseModel):
    """An ordered collection of `Case`s with unique ids.

    Attributes:
        name: Shown in reports.
        cases: The cases, in order.
        scorers: Scorers applied to every case of this dataset.

    Raises:
        ValueError: two cases share an id.
    """

    name: str = "dataset"
    cases: list[Case] = Field(default_factory=list)
    scorers: list[ScorerRef] = Field(default_factory=list)

    def model_post_init(self, context: Any, /) -> None:
        seen: set[str] = set()
        for case in self.cases:
            if case.id in seen:
                raise ValueError(f"duplicate case id '{case.id}'")
            seen.add(case.id)

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[Case]:  # type: ignore[override]
        return iter(self.cases)

    def filter(self, tags: Iterable[str], *, match: Literal["any", "all"] = "any") -> Dataset:
        """The cases tagged with any (default) or all of `tags`, as a new dataset."""
        wanted = set(tags)
        test = wanted.issubset if match == "all" else (lambda have: bool(wanted & have))
        kept = [case for case in self.cases if test(set(case.tags))]
        return Dataset(name=self.name, cases=kept, scorers=list(self.scorers))


def load_dataset(path: str | Path) -> Dataset:
    """Read a dataset from a `.yaml` / `.yml` or `.json` file (format in the module docstring).

    Scorer entries are resolved while loading, so an unknown scorer name or a bad parameter is
    reported here rather than mid-run.

    Raises:
        DatasetError: the file is missing or malformed, or a case is invalid; the message names
            the file, the line (YAML), the case index and the field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read dataset: {exc.strerror or exc}") from None
    try:
        if _format(path) == "JSON":
            data = json.loads(text)
        else:
            _check_aliases(path, yaml.compose(text))
            data = yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DatasetError(f"{path}: not valid {_format(path)}: {exc}") from None
    except RecursionError:
        raise DatasetError(f"{path}: values nested too deeply") from None
    name = path.stem
    shared: list[ScorerSpec] = []
    if isinstance(data, dict):
        unknown = set(data) - {"name", "description", "scorers", "cases"}
        if unknown:
            raise DatasetError(f"{path}: unknown top-level field(s): {', '.join(sorted(unknown))}")
        name = str(data.get("name") or name)
        shared = _scorers(path, data.get("scorers") or [], f"{path}: scorers")
        data = data.get("cases")
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a list of cases (or a mapping with 'cases:')")
    lines = _case_lines(text) if _format(path) == "YAML" else []
    cases = [
        _case(path, index, raw, lines[index] if index < len(lines) else None)
        for index, raw in enumerate(data)
    ]
    try:
        return Dataset(name=name, cases=cases, scorers=shared)
    except ValidationError as exc:
        raise DatasetError(f"{path}: {exc.errors(include_url=False)[0]['msg']}") from None


def _format(path: Path) -> str:
    return "JSON" if path.suffix.lower() == ".json" else "YAML"


def _check_aliases(path: Path, root: yaml.Node | None) -> None:
    """Refuse a YAML document that contains itself through an alias, or that expands to more
    than `MAX_YAML_VALUES` values; linear in the composed document's size.

    Raises:
        DatasetError: naming the file and the line of the offending anchored value.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        known = sizes.get(key)
        if known is not None:
            return known
        line = node.start_mark.line + 1
        if key in open_nodes:
            raise DatasetError(
                f"{path}:{line}: recursive YAML alias: the value anchored here contains itself"
            )
        total = 1
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            open_nodes.add(key)
            children: list[yaml.Node] = (
                [n for pair in node.value for n in pair]
                if isinstance(node, yaml.MappingNode)
                else list(node.value)
            )
            for child in children:
                total += size(child)
                if total > MAX_YAML_VALUES:
                    raise DatasetError(
                        f"{path}:{line}: the dataset expands to more than {MAX_YAML_VALUES:,} "
                        "values through YAML aliases (an alias bomb?)"
                    )
            open_nodes.discard(key)
        sizes[key] = total
        return total

    if root is None:
        return
    try:
        size(root)
    except RecursionError:
        raise DatasetError(f"{path}: values nested too deeply") from None


_Lines = tuple[int, dict[str, int]]
"""A YAML case's 1-based line and the line of each of its keys."""


def _case_lines(text: str) -> list[_Lines]:
    """The line of every case in a YAML dataset (a list, or the list under `cases:`)."""
    root = yaml.compose(text)
    if isinstance(root, yaml.MappingNode):
        root = next((v for k, v in root.value if getattr(k, "value", None) == "cases"), None)
    if not isinstance(root, yaml.SequenceNode):
        return []
    found = []
    for item in root.value:
        keys = {}
        if isinstance(item, yaml.MappingNode):
            keys = {str(k.value): k.start_mark.line + 1 for k, _ in item.value}
        found.append((item.start_mark.line + 1, keys))
    return found


def _case(path: Path, index: int, raw: Any, lines: _Lines | None) -> Case:
    case_line, key_lines = lines if lines is not None else (None, {})

    def at(key: str | None = None) -> str:
        line = key_lines.get(key, case_line) if key is not None else case_line
        return f"{path}:{line}: case {index}" if line is not None else f"{path}: case {index}"

    if not isinstance(raw, dict):
        raise DatasetError(f"{at()}: expected a mapping, got {type(raw).__name__}")
    if "input" not in raw:
        raise DatasetError(f"{at()}: field 'input' is required")
    fields = dict(raw)
    fields.setdefault("id", f"case-{index}")
    fields["id"] = str(fields["id"])
    fields["scorers"] = _scorers(path, fields.get("scorers") or [], f"{at('scorers')}: scorers")
    try:
        return Case.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in err["loc"]) or "(case)"
        first = str(err["loc"][0]) if err["loc"] else None
        raise DatasetError(
            f"{at(first)} ('{fields['id']}'): field '{field}': {err['msg']}"
        ) from None


def _scorers(path: Path, raw: Any, where: str) -> list[ScorerSpec]:
    if not isinstance(raw, list):
        raise DatasetError(f"{path}: {where}: expected a list of scorers")
    specs = []
    for i, item in enumerate(raw):
        try:
            spec = parse_scorer_spec(item)
            build_scorer(spec)
        except (SpineError, ValueError, TypeError) as exc:
            raise DatasetError(f"{where}[{i}]: {exc}") from None
        specs.append(spec)
    return specs
