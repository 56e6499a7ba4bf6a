"""The scorer contract: `Scorer`, its `Score`, and building scorers from names.

A scorer reads one case and the `Result` of running it and returns a `Score` in [0, 1] with a
pass / fail verdict. Scorers are plugins (entry point group `spine.scorers`); a factory takes
keyword parameters and returns the scorer, so `contains:values=[a, b],mode=all` and
`{contains: {values: [a, b], mode: all}}` build the same one.
"""

from __future__ import annotations

import inspect
import json
from typing import TYPE_CHECKING, Annotated, Any, Protocol, runtime_checkable

import yaml
from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from spine_core import Result, Usage, lookup
from spine_core.registry import SCORERS

if TYPE_CHECKING:
    from .dataset import Case

__all__ = [
    "Score",
    "Scorer",
    "ScorerRef",
    "ScorerSpec",
    "build_scorer",
    "parse_scorer_spec",
    "run_scorer",
]


class Score(BaseModel):
    """One scorer's verdict on one run of a case (the reference's
    `Score(name=, value=, passed=, detail=)`).

    Attributes:
        name: The scorer's name (also accepted as `scorer=`, Spine's earlier keyword, and
            readable as `score.scorer`).
        value: Score in [0, 1] (1 is best).
        passed: Whether the run meets the scorer's bar.
        detail: Why, in one line a person reads in a report (also accepted as `reason=`,
            readable as `score.reason`).
        usage: Tokens and cost (USD) the scorer itself spent (LLM judges), counted apart from
            the agent's own usage.
    """

    name: str = Field(validation_alias=AliasChoices("name", "scorer"))
    value: float
    passed: bool
    detail: str = Field("", validation_alias=AliasChoices("detail", "reason"))
    usage: Usage | None = None

    @property
    def scorer(self) -> str:
        """The scorer's name (Spine's earlier name of `name`)."""
        return self.name

    @property
    def reason(self) -> str:
        """Why the run scored so (Spine's earlier name of `detail`)."""
        return self.detail


@runtime_checkable
class Scorer(Protocol):
    """What `evaluate` calls for each run of each case: the reference's protocol.

    A scorer has a `name` and an async `score(case, result) -> Score`. A scorer that also
    takes a `latency_s` keyword (or `**kwargs`) is given the run's wall-clock seconds;
    one written to the reference's two-argument form is called without it.

    Attributes:
        name: Shown in reports; scorers with the same name are averaged together.
    """

    name: str

    async def score(self, case: Case, result: Result) -> Score:
        """Judge `result`, the outcome of running `case`."""
        ...


def _takes_latency(scorer: Any) -> bool:
    try:
        params = inspect.signature(scorer.score).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable: call it the reference's way
        return False
    return any(p.name == "latency_s" or p.kind is p.VAR_KEYWORD for p in params)


async def run_scorer(scorer: Scorer, case: Case, result: Result, *, latency_s: float) -> Score:
    """`scorer.score(case, result)`, with `latency_s=` (seconds) when the scorer takes it.

    Raises:
        Exception: whatever the scorer raises.
        TypeError: the scorer returned something other than a `Score`.
    """
    method: Any = scorer.score
    if _takes_latency(scorer):
        verdict = await method(case, result, latency_s=latency_s)
    else:
        verdict = await method(case, result)
    if not isinstance(verdict, Score):
        raise TypeError(f"scorer {scorer.name!r} returned {type(verdict).__name__}, not a Score")
    return verdict


class ScorerSpec(BaseModel):
    """A scorer by registered name with its keyword parameters (what datasets store)."""

    model_config = ConfigDict(frozen=True)
    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    def __str__(self) -> str:
        if not self.params:
            return self.name
        return f"{self.name}:{json.dumps(self.params, separators=(',', ':'))}"


def parse_scorer_spec(spec: str | dict[str, Any] | ScorerSpec) -> ScorerSpec:
    """Parse a scorer reference.

    Accepted forms: a `ScorerSpec`; a name (`"exact_match"`); `"name:PARAMS"` where PARAMS is a
    JSON object (`'regex:{"pattern": "\\\\d+"}'`) or comma-separated `key=value` pairs whose
    values are read as YAML scalars / flow sequences (`"contains:values=[a, b],mode=all"`); or a
    one-key mapping `{name: {key: value}}` (`{name: None}` for no parameters).

    Raises:
        ValueError: the reference is malformed.
    """
    if isinstance(spec, ScorerSpec):
        return spec
    if isinstance(spec, dict):
        if "name" in spec and set(spec) <= {"name", "params"}:  # a serialised ScorerSpec
            return ScorerSpec.model_validate(spec)
        if len(spec) != 1:
            raise ValueError(f"a scorer mapping needs exactly one key (its name), got {spec!r}")
        ((name, params),) = spec.items()
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ValueError(f"parameters of scorer '{name}' must be a mapping, got {params!r}")
        return ScorerSpec(name=str(name), params=params)
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"not a scorer reference: {spec!r}")
    name, _, raw = spec.strip().partition(":")
    return ScorerSpec(name=name.strip(), params=_parse_params(name, raw.strip()))


def _parse_params(name: str, raw: str) -> dict[str, Any]:
    if not raw:
        return {}
    if raw.startswith("{"):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"parameters of scorer '{name}' are not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise ValueError(f"parameters of scorer '{name}' must be a JSON object")
        return value
    params: dict[str, Any] = {}
    for pair in _split_top_level(raw):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"scorer '{name}': expected key=value, got {pair!r}")
        try:
            params[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            params[key.strip()] = value
    return params


def _split_top_level(raw: str) -> list[str]:
    """Split on commas outside brackets and quotes."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in raw:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


ScorerRef = Annotated[ScorerSpec, BeforeValidator(lambda value: parse_scorer_spec(value))]
"""A `ScorerSpec` field that also accepts every form `parse_scorer_spec` reads."""


def build_scorer(spec: str | dict[str, Any] | ScorerSpec | Scorer) -> Scorer:
    """A scorer instance from a reference (see `parse_scorer_spec`) or an instance as is.

    Raises:
        PluginNotFoundError: no scorer has that name (the message lists the installed ones).
        ValueError: the reference is malformed or a parameter is invalid.
        TypeError: a parameter the scorer does not take.
    """
    if isinstance(spec, Scorer):
        return spec
    parsed = parse_scorer_spec(spec)
    scorer = lookup(SCORERS, parsed.name)(**parsed.params)
    if not isinstance(scorer, Scorer):
        raise TypeError(f"scorer '{parsed.name}' built {scorer!r}, which has no async score()")
    return scorer
