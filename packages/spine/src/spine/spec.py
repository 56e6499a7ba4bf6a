"""The YAML agent spec: its pydantic model, the loader and `load_agent`.

A spec names everything an `Agent` needs by import path or registered plugin name::

    name: repo-analyst
    model: ${SPINE_MODEL:-test}
    system_file: prompt.md
    tools:
      - python: tools:TOOLS
    guards: {max_steps: 8}
    middleware:
      - retry: {max_attempts: 3}
    checkpoint:
      sqlite: {path: .spine/state.db}

Environment variables expand in every string value (`${VAR}`, `${VAR:-default}`). Relative
paths (`system_file`, a checkpoint's `path`, tool modules) resolve against the spec's folder.
Any problem is a `SpecError` whose message is one line: file, line, key path and what is wrong.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    Tag,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from ._yaml import Located, read_yaml
from .errors import SpecError

if TYPE_CHECKING:
    from spine_core import Agent, CheckpointStore

__all__ = [
    "AgentSpec",
    "GuardsSpec",
    "MCPServerRef",
    "ModelSpec",
    "PluginRef",
    "SpecError",
    "ToolRef",
    "json_schema",
    "load_agent",
    "load_spec",
]

_PLUGIN_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "description": "A registered name, built with no parameters."},
        {
            "type": "object",
            "description": "`name: {params}` - a registered name and its keyword parameters.",
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": {"anyOf": [{"type": "object"}, {"type": "null"}]},
        },
    ]
}


class PluginRef(BaseModel):
    """A plugin by registered name with keyword parameters: YAML `name: {params}` or `name`."""

    model_config = ConfigDict(extra="forbid")
    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value, "params": {}}
        if isinstance(value, dict) and len(value) == 1:
            name, params = next(iter(value.items()))
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise ValueError(
                    f"the parameters of '{name}' must be a mapping (name: {{key: value}}), "
                    f"got {type(params).__name__}"
                )
            return {"name": name, "params": params}
        raise ValueError("expected `name` or a one-key mapping `name: {params}`")


Plugin = Annotated[PluginRef, WithJsonSchema(_PLUGIN_SCHEMA)]


class MCPServerRef(BaseModel):
    """An MCP server whose tools the agent gets (needs spine-mcp): `command` (+ `args`, `env`)
    for a stdio server, or `url` for streamable HTTP."""

    model_config = ConfigDict(extra="forbid")
    command: str | None = Field(default=None, description="A stdio server's executable.")
    args: list[str] = Field(default_factory=list, description="Its arguments.")
    env: dict[str, str] | None = Field(default=None, description="Extra environment variables.")
    url: str | None = Field(default=None, description="A streamable HTTP endpoint.")
    prefix: str | None = Field(default=None, description="Tool names become `{prefix}_{name}`.")
    approve: bool = Field(default=False, description="Every call waits for human approval.")
    timeout_s: PositiveFloat | None = Field(default=60.0, description="Seconds per request.")
    resources: bool = Field(default=False, description="Add a `read_resource` tool.")

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerRef:
        if (self.command is None) == (self.url is None):
            raise ValueError("give `command` (a stdio server) or `url` (HTTP), exactly one")
        if self.url is not None and (self.args or self.env):
            raise ValueError("`args` and `env` go with `command`, not `url`")
        return self


class ToolRef(BaseModel):
    """Tools by import path: `module:attr` (a `Tool` or a list of them) or `module` (every
    `Tool` defined at the top of the module). Modules next to the spec are importable. Or
    `mcp: {...}`: the tools of an MCP server."""

    model_config = ConfigDict(extra="forbid")
    python: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$",
        description="`package.module:attr` or `package.module`.",
    )
    mcp: MCPServerRef | None = Field(default=None, description="An MCP server's tools.")

    @model_validator(mode="after")
    def _one_source(self) -> ToolRef:
        if (self.python is None) == (self.mcp is None):
            raise ValueError("give `python: module:attr` or `mcp: {...}`, exactly one")
        return self


_MODEL_NAME = r"^[A-Za-z0-9_.\-]+(:.*)?$"


class PriceSpec(BaseModel):
    """USD per million tokens (see `spine_providers.Price`); a cache rate left out is the
    input rate."""

    model_config = ConfigDict(extra="forbid")
    input: NonNegativeFloat = Field(description="Uncached input, USD per million tokens.")
    output: NonNegativeFloat = Field(description="Output (reasoning included), USD per 1M.")
    cache_read: NonNegativeFloat | None = Field(default=None, description="Cache reads, USD/1M.")
    cache_write: NonNegativeFloat | None = Field(
        default=None, description="Cache writes, USD per million tokens."
    )


class ModelSpec(BaseModel):
    """A provider with its configuration: `model: {name: "openai:gpt-5.4", base_url: ...}`."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=_MODEL_NAME, description="`scheme:model`, as in the string form.")
    base_url: str | None = Field(default=None, description="The API root URL.")
    api_key_env: str | None = Field(
        default=None, description="The environment variable holding the API key."
    )
    timeout_s: PositiveFloat | None = Field(default=None, description="Seconds per request.")
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Provider settings sent on every call (its `**defaults`).",
    )
    prices: dict[str, PriceSpec] = Field(
        default_factory=dict, description="Prices by model name, USD per million tokens."
    )


def _model_form(value: Any) -> str:
    return "mapping" if isinstance(value, dict) else "string"


ModelField = Annotated[
    Annotated[str, Field(pattern=_MODEL_NAME), Tag("string")]
    | Annotated[ModelSpec, Tag("mapping")],
    Discriminator(_model_form),
]


class GuardsSpec(BaseModel):
    """Run ceilings (see `spine_core.Guards`)."""

    model_config = ConfigDict(extra="forbid")
    max_steps: PositiveInt = Field(default=12, description="Model calls per turn.")
    max_cost_usd: PositiveFloat | None = Field(default=None, description="Spend per turn, USD.")
    max_tokens: PositiveInt | None = Field(
        default=None, description="Input + output tokens per turn."
    )
    timeout_s: PositiveFloat | None = Field(default=None, description="Wall-clock seconds per run.")
    max_depth: NonNegativeInt = Field(default=8, description="Deepest sub-agent delegation.")
    max_retries_per_step: PositiveInt = Field(
        default=8, description="Model-call attempts per step."
    )


class AgentSpec(BaseModel):
    """A Spine agent described in YAML (exported as `docs/agent-spec.schema.json`)."""

    model_config = ConfigDict(extra="forbid", title="Spine agent spec")
    name: str = Field(default="agent", description="Agent name (in traces and stored sessions).")
    description: str | None = Field(default=None, description="What the agent is for.")
    model: ModelField = Field(
        description="`scheme:model`, e.g. `anthropic:claude-sonnet-4-6` or `test`; or a "
        "mapping `{name, base_url, api_key_env, timeout_s, settings, prices}`.",
    )
    system: str | None = Field(default=None, description="The system prompt, inline.")
    system_file: str | None = Field(
        default=None, description="A file holding the system prompt (relative to the spec)."
    )
    tools: list[ToolRef] = Field(
        default_factory=list, description="Tools by import path, or MCP servers."
    )
    guards: GuardsSpec = Field(default_factory=GuardsSpec)
    middleware: list[Plugin] = Field(
        default_factory=list, description="Registered middleware, outermost first."
    )
    checkpoint: Plugin | None = Field(
        default=None,
        description="Where sessions are stored; default SQLite at .spine/state.db "
        "(in memory when spine-backends is not installed).",
    )
    output: Annotated[
        Any,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "object", "description": "A JSON schema the answer must match."},
                    {"type": "string", "description": "`module:Model`, a pydantic model."},
                ]
            }
        ),
    ] = Field(default=None, description="Typed final answer: a JSON schema or `module:Model`.")
    output_retries: NonNegativeInt = Field(default=2, description="Repair requests for bad output.")
    parallel_tools: bool = Field(
        default=False, description="Run a batch of tool calls concurrently."
    )
    tenant_id: str | None = Field(default=None, description="Recorded on every session.")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Provider settings sent on every call."
    )
    _source: Located | None = PrivateAttr(None)
    _base: Path = PrivateAttr(default_factory=Path.cwd)

    @field_validator("output")
    @classmethod
    def _output_shape(cls, value: Any) -> Any:
        if value is None or isinstance(value, dict):
            return value
        if isinstance(value, str) and ":" in value:
            return value
        raise ValueError("expected a JSON schema mapping or a `module:Model` import path")

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in this spec resolve against."""
        return self._base

    def error(self, path: tuple[str | int, ...], problem: str) -> SpecError:
        """A `SpecError` pointing at `path` in this spec's file."""
        if self._source is None:
            return SpecError("<spec>", problem, path=path)
        return self._source.error(path, problem)


def load_spec(path: str | Path, *, env: Mapping[str, str] | None = None) -> AgentSpec:
    """Read and validate the spec at `path`.

    Args:
        path: The YAML file.
        env: Variables for `${VAR}` expansion (default `os.environ`).

    Raises:
        SpecError: the file is missing, not YAML, or not a valid spec.
    """
    label = str(path)
    file = Path(path)
    located = read_yaml(file, label=label, env=env)
    try:
        spec = AgentSpec.model_validate(located.data)
    except ValidationError as exc:
        raise _first_error(located, exc.errors(include_url=False)) from None
    spec._source = located
    spec._base = file.resolve().parent
    if spec.system is not None and spec.system_file is not None:
        raise spec.error(("system_file",), "give `system` or `system_file`, not both")
    return spec


def load_agent(
    path: str | Path,
    *,
    model: str | None = None,
    max_steps: int | None = None,
    checkpoint: CheckpointStore | None = None,
    env: Mapping[str, str] | None = None,
) -> Agent:
    """Build the `Agent` a spec file describes.

    Args:
        path: The YAML spec.
        model: Overrides the spec's `model` ("scheme:model").
        max_steps: Overrides `guards.max_steps`.
        checkpoint: A store to use instead of the spec's `checkpoint`.
        env: Variables for `${VAR}` expansion (default `os.environ`).

    Raises:
        SpecError: anything wrong with the spec, one line naming file, line and key path.
    """
    from .build import build_agent

    spec = load_spec(path, env=env)
    return build_agent(spec, model=model, max_steps=max_steps, checkpoint=checkpoint)


def json_schema() -> dict[str, Any]:
    """The JSON schema of the spec format (what `docs/agent-spec.schema.json` holds)."""
    schema = AgentSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


_FIELDS = tuple(AgentSpec.model_fields)


def _first_error(located: Located, errors: list[ErrorDetails]) -> SpecError:
    # A misspelt key first: it is why a required one is missing, and it gets a "did you mean".
    err = min(errors, key=lambda e: e["type"] != "extra_forbidden")
    loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
    if loc[:1] == ("model",) and loc[1:2] in (("string",), ("mapping",)):
        loc = loc[:1] + loc[2:]  # the tag of the model field's form is not a YAML key
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f" (allowed: {', '.join(allowed)})"
        problem = f"unknown key '{key}'{hint}"
    elif kind == "missing":
        problem = "missing required key"
    else:
        message = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        problem = f"{message}{shown}"
    return located.error(loc, problem + more)


def _allowed_keys(parent: tuple[str | int, ...]) -> list[str]:
    if parent == ("guards",):
        return list(GuardsSpec.model_fields)
    if parent == ("model",):
        return list(ModelSpec.model_fields)
    if len(parent) == 3 and parent[:2] == ("model", "prices"):
        return list(PriceSpec.model_fields)
    if len(parent) == 2 and parent[0] == "tools":
        return list(ToolRef.model_fields)
    if len(parent) == 3 and parent[0] == "tools" and parent[2] == "mcp":
        return list(MCPServerRef.model_fields)
    return list(_FIELDS)
