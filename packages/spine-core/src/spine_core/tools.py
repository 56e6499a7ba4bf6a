"""Tools: typed Python functions the model can call.

`@tool` derives a JSON schema from the function's type hints and Google-style docstring and
validates the model's arguments with pydantic before the call; sync functions run in a worker
thread so they never block the event loop. `raw_tool` wraps a function with a schema you
supply (for adapters such as MCP); it receives the model's arguments as keywords, unvalidated.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_origin, get_type_hints, overload

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
        question: What the human is asked. A dict is taken as the payload: its "question"
            key (or its JSON) becomes the question and the dict becomes `data`.
        data: Extra JSON-ready context shown with the question.
        kind: "input" (the human answers) or "approval" (the human approves or rejects; used
            by tools that pass up a pause from elsewhere, e.g. a sub-agent's approval).
    """

    def __init__(
        self,
        question: Any = "",
        *,
        data: dict[str, Any] | None = None,
        kind: Literal["approval", "input"] = "input",
    ) -> None:
        if isinstance(question, dict):
            data = {**question, **(data or {})}
            question = str(question.get("question") or json.dumps(question, default=str))
        super().__init__(str(question))
        self.question = str(question)
        self.data = data or {}
        self.kind = kind

    @property
    def payload(self) -> dict[str, Any]:
        """What the human is shown: `{"question": ..., **data}`."""
        return {"question": self.question, **self.data}


@dataclass(eq=False)
class Tool:
    """A validated, callable capability exposed to the model.

    Attributes:
        name: Tool name the model uses.
        description: What the tool does (sent to the model).
        parameters: JSON schema of the arguments object.
        func: The Python function; called with the validated arguments as keywords. Sync
            functions run in a worker thread; async ones (and sync ones returning an
            awaitable) are awaited. A timeout (`ToolTimeout`, `Guards.timeout_s`) stops waiting
            for a sync function, but its thread cannot be killed and may keep running.
        approve: When True, each call waits for human approval (`StopReason.interrupt`).
        _model: The pydantic model that validates arguments (None: arguments pass as given).
        _is_async: Whether `func` is a coroutine function; detected from `func` whatever is
            passed.
        context_param: Name of the parameter that receives the call's `ToolContext` (hidden
            from the model); `@tool` finds it from the type hint.
        forwards_decisions: When True, a human decision on this tool's pause (approve, reject
            or answer) re-invokes the tool with `ctx.decision` instead of becoming the result;
            `Agent.as_tool` sets it to hand the decision to the sub-agent that paused.
        read_only: The tool changes nothing outside the run (a lookup, a computation; MCP's
            `readOnlyHint`). A step whose calls are all read-only writes one checkpoint, after
            the results, instead of also checkpointing the model's request before running
            them: a crash in between repeats that model call, which is harmless only when
            the tool has no side effects. False (the default) keeps both checkpoints.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    func: Callable[..., Any]
    approve: bool = False
    _model: type[BaseModel] | None = field(default=None, repr=False)
    _is_async: bool = field(default=False, repr=False)
    context_param: str | None = field(default=None, repr=False, kw_only=True)
    forwards_decisions: bool = field(default=False, repr=False, kw_only=True)
    read_only: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        self._is_async = _is_async_callable(self.func)

    @property
    def schema(self) -> dict[str, Any]:
        """Provider-facing tool declaration: `{"name", "description", "parameters"}`."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def validate(self, args: dict[str, Any]) -> dict[str, Any]:
        """The validated arguments, by parameter name.

        Raises:
            ToolValidationError: the arguments do not match the schema.
        """
        if self._model is None:
            return dict(args)
        try:
            validated = self._model.__pydantic_validator__.validate_python(args)
        except ValidationError as exc:
            raise ToolValidationError(self.name, _describe(exc)) from None
        return dict(validated.__dict__)  # field values as validated (nested models kept)

    async def call(self, args: dict[str, Any], ctx: ToolContext[Any] | None = None) -> Any:
        """Validate `args` and call the tool; `ctx` fills the tool's context parameter.

        Raises:
            ToolValidationError: the arguments do not match the schema.
            Interrupt: the tool asks a human.
            Exception: whatever the tool raises (the kernel reports it to the model).
        """
        kwargs = self.validate(args)
        if self.context_param is not None:
            kwargs[self.context_param] = ctx
        if self._is_async:
            return await self.func(**kwargs)
        # abandon_on_cancel: a timeout ends the wait; the worker thread cannot be killed and
        # may run on to completion, its result discarded.
        value = await anyio.to_thread.run_sync(
            functools.partial(self.func, **kwargs), abandon_on_cancel=True
        )
        return await value if inspect.isawaitable(value) else value


def _is_async_callable(func: Any) -> bool:
    while isinstance(func, functools.partial):
        func = func.func
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


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
    """True for `ToolContext` and `ToolContext[Deps]` (also as unresolved strings)."""
    if annotation is ToolContext or get_origin(annotation) is ToolContext:
        return True
    return isinstance(annotation, str) and annotation.split("[")[0].split(".")[-1] == "ToolContext"


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
    return Tool(
        tool_name,
        description or doc_description or tool_name,
        schema,
        func,
        _model=model,
        context_param=context_param,
    )


@overload
def tool(func: Callable[..., Any]) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    approve: bool = False,
    read_only: bool = False,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    approve: bool = False,
    read_only: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Turn a typed function into a `Tool`.

    Use as `@tool` or `@tool(name=..., description=..., approve=True, read_only=True)`
    (`read_only`: see `Tool.read_only`). Parameter types and
    defaults become the JSON schema; the docstring's first paragraph becomes the description
    and its `Args:` section the parameter descriptions. A parameter annotated `ToolContext`
    receives the call's context and is hidden from the model.

    Raises:
        TypeError: the function takes *args or **kwargs.
    """

    def wrap(f: Callable[..., Any]) -> Tool:
        built = _build(f, name, description)
        built.approve = approve
        built.read_only = read_only
        return built

    return wrap(func) if func is not None else wrap


def raw_tool(
    name: str,
    description: str,
    parameters: dict[str, Any],
    func: Callable[..., Any],
    *,
    approve: bool = False,
    is_async: bool = True,
    read_only: bool = False,
) -> Tool:
    """Build a `Tool` from a ready-made JSON schema and callable.

    For adapters (MCP, A2A) that already have a tool's schema and a remote invoker. The
    model's arguments are passed to `func` as keyword arguments, unvalidated (validation is
    the remote side's); the model still sees `parameters`.

    Args:
        name: Tool name.
        description: What it does.
        parameters: JSON schema of the arguments object.
        func: Sync or async function taking the arguments as keywords.
        approve: Require human approval for each call.
        is_async: Accepted for compatibility; whether `func` is async is detected.
        read_only: The tool has no side effects (see `Tool.read_only`).
    """
    del is_async  # detected from func (a sync function marked async used to break)
    return Tool(name, description, parameters, func, approve, read_only=read_only)


def tool_output_text(value: Any) -> str:
    """The text a tool's return value becomes in the conversation (str as is, else JSON).

    Lone surrogates (e.g. `os.listdir` on a non-UTF-8 file name gives "\\udce9"), which no
    store or API can encode, are replaced visibly with U+FFFD.
    """
    if isinstance(value, str):
        text = value
    elif isinstance(value, BaseModel):
        text = value.model_dump_json()
    else:
        text = json.dumps(value, default=str, ensure_ascii=False)
    return text if text.isascii() else valid_unicode(text)


def valid_unicode(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD (unchanged when it has none)."""
    return _SURROGATE.sub("\ufffd", text)


_SURROGATE = re.compile("[\ud800-\udfff]")
