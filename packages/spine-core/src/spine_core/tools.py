"""Tools: typed Python functions the model can call.

`@tool` derives a JSON schema from the function's type hints and Google-style docstring and
validates the model's arguments with pydantic before the call; sync functions run in a worker
thread so they never block the event loop. `raw_tool` wraps a function that takes the raw
argument dict with a schema you supply (for adapters such as MCP).
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal, get_type_hints, overload

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic.fields import FieldInfo

from .context import ToolContext
from .errors import SpineError, ToolValidationError

__all__ = ["Interrupt", "Tool", "raw_tool", "tool", "tool_output_text"]


class Interrupt(SpineError):
    """Raise inside a tool to pause the run and ask a human.

    The run stops with `StopReason.interrupt` and a resume token; `Agent.resume(token,
    answer="...")` continues it, and the answer becomes this tool call's result.

    Args:
        question: What the human is asked.
        data: Extra JSON-ready context shown with the question.
        kind: "input" (the human answers) or "approval" (the human approves or rejects; used
            by tools that pass up a pause from elsewhere, e.g. a sub-agent's approval).
    """

    def __init__(
        self,
        question: str,
        *,
        data: dict[str, Any] | None = None,
        kind: Literal["approval", "input"] = "input",
    ) -> None:
        super().__init__(question)
        self.question = question
        self.data = data or {}
        self.kind = kind


class Tool:
    """A callable the model can invoke.

    Attributes:
        name: Tool name the model uses.
        description: What the tool does (sent to the model).
        parameters: JSON schema of the arguments object.
        approve: When True, each call waits for human approval (`StopReason.interrupt`).
        func: The wrapped Python function (None for tools built another way).
        forwards_decisions: When True, a human decision on this tool's pause (approve, reject
            or answer) re-invokes the tool with `ctx.decision` instead of becoming the result;
            `Agent.as_tool` sets it to hand the decision to the sub-agent that paused.
    """

    __slots__ = (
        "_call",
        "_context_param",
        "_model",
        "approve",
        "description",
        "forwards_decisions",
        "func",
        "name",
        "parameters",
    )

    def __init__(
        self,
        *,
        name: str,
        description: str,
        parameters: dict[str, Any],
        call: Callable[..., Awaitable[Any]],
        model: type[BaseModel] | None = None,
        context_param: str | None = None,
        approve: bool = False,
        func: Callable[..., Any] | None = None,
        forwards_decisions: bool = False,
    ) -> None:
        self.name = name
        self.forwards_decisions = forwards_decisions
        self.func = func
        self.description = description
        self.parameters = parameters
        self.approve = approve
        self._call = call
        self._model = model
        self._context_param = context_param

    def __repr__(self) -> str:
        return f"Tool(name={self.name!r}, approve={self.approve})"

    async def invoke(self, arguments: dict[str, Any], ctx: ToolContext | None = None) -> Any:
        """Validate `arguments` and call the tool.

        Raises:
            ToolValidationError: the arguments do not match the schema.
            Interrupt: the tool asks a human.
            Exception: whatever the tool raises (the kernel reports it to the model).
        """
        if self._model is None:
            return await self._call(arguments)
        try:
            validated = self._model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolValidationError(self.name, _describe(exc)) from None
        kwargs = dict(validated.__dict__)  # the validated fields, by name (extra is forbidden)
        if self._context_param is not None:
            kwargs[self._context_param] = ctx
        return await self._call(**kwargs)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_SECTION = re.compile(r"^\s*[A-Z][A-Za-z ]*:\s*$")
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {param: description})."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    description: list[str] = []
    params: dict[str, str] = {}
    i = 0
    while i < len(lines) and not _ARGS_HEADER.match(lines[i]) and not _SECTION.match(lines[i]):
        description.append(lines[i])
        i += 1
    current: str | None = None
    in_args = False
    for line in lines[i:]:
        if _ARGS_HEADER.match(line):
            in_args = True
            continue
        if _SECTION.match(line) and not line.startswith((" ", "\t")):
            in_args = False
            continue
        if not in_args:
            continue
        match = _ARG_LINE.match(line)
        indent = len(line) - len(line.lstrip())
        if match and indent <= 4:
            current = match.group(1).lstrip("*")
            params[current] = match.group(2).strip()
        elif current and line.strip():
            params[current] = f"{params[current]} {line.strip()}".strip()
    return " ".join(" ".join(description).split()), params


def _is_context(annotation: Any) -> bool:
    return annotation is ToolContext or (
        isinstance(annotation, str) and annotation.split(".")[-1] == "ToolContext"
    )


def _build(func: Callable[..., Any], name: str | None, description: str | None) -> Tool:
    hints = get_type_hints(func, include_extras=True)
    doc_description, doc_params = _parse_docstring(func.__doc__)
    fields: dict[str, Any] = {}
    context_param: str | None = None
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"@tool {func.__name__}: *args / **kwargs are not supported")
        annotation = hints.get(param.name, Any)
        if _is_context(annotation):
            context_param = param.name
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        if isinstance(default, FieldInfo):
            fields[param.name] = (annotation, default)
        else:
            # Pass a description only when the docstring has one, so an `Annotated[...,
            # Field(description=...)]` on the parameter is not overwritten with None.
            doc = doc_params.get(param.name)
            info = (
                FieldInfo(default=default, description=doc) if doc else FieldInfo(default=default)
            )
            fields[param.name] = (annotation, info)
    tool_name = name or func.__name__
    model = create_model(f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    if inspect.iscoroutinefunction(func):
        call: Callable[..., Awaitable[Any]] = func
    else:

        async def call(**kwargs: Any) -> Any:
            return await anyio.to_thread.run_sync(functools.partial(func, **kwargs))

    return Tool(
        name=tool_name,
        description=description or doc_description or tool_name,
        parameters=schema,
        call=call,
        model=model,
        context_param=context_param,
        func=func,
    )


@overload
def tool(func: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None, approve: bool = False
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    approve: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Turn a typed function into a `Tool`.

    Use as `@tool` or `@tool(name=..., description=..., approve=True)`. Parameter types and
    defaults become the JSON schema; the docstring's first paragraph becomes the description
    and its `Args:` section the parameter descriptions. A parameter annotated `ToolContext`
    receives the call's context and is hidden from the model.

    Raises:
        TypeError: the function takes *args or **kwargs.
    """

    def wrap(f: Callable[..., Any]) -> Tool:
        built = _build(f, name, description)
        built.approve = approve
        return built

    return wrap(func) if func is not None else wrap


def raw_tool(
    name: str,
    description: str,
    parameters: dict[str, Any],
    func: Callable[[dict[str, Any]], Any],
    *,
    approve: bool = False,
) -> Tool:
    """A tool whose function receives the model's argument dict as is (no validation).

    Args:
        name: Tool name.
        description: What it does.
        parameters: JSON schema of the arguments object.
        func: Sync or async function of one dict argument.
        approve: Require human approval for each call.
    """
    if inspect.iscoroutinefunction(func):
        call: Callable[..., Awaitable[Any]] = func
    else:

        async def call(arguments: dict[str, Any]) -> Any:
            return await anyio.to_thread.run_sync(func, arguments)

    return Tool(
        name=name,
        description=description,
        parameters=parameters,
        call=call,
        approve=approve,
        func=func,
    )


def tool_output_text(value: Any) -> str:
    """The text a tool's return value becomes in the conversation (str as is, else JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value, default=str, ensure_ascii=False)
