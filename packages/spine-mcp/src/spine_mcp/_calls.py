"""Running one MCP `tools/call` for a Spine tool call: approval decisions, elicitation
pauses (resolver and back-channel forms, see `_requests`), sampling by the run's provider."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types as types
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from spine_core import Interrupt, ToolContext

from ._requests import (
    MAX_ROUNDS,
    SCRATCH_KEY,
    Inflight,
    dump,
    dump_response,
    elicit_interrupt_payload,
    elicit_result,
    load_params,
    load_response,
    question_digest,
    sample,
)
from .errors import MCPToolError

__all__ = ["Calls"]

logger = logging.getLogger("spine_mcp")

Request = Callable[[str, Callable[[Any], Awaitable[Any]]], Awaitable[Any]]


def _client_session(session: Any) -> Any:
    """The `ClientSession` under an `mcp.Client` (or the session itself)."""
    from mcp import Client

    return session.session if isinstance(session, Client) else session


class Calls:
    """The tool calls of one `MCPToolset`, and its answers to server-initiated requests.

    Args:
        request: The toolset's `_request(what, send)` (timeout, reconnect).
        target: The server, for messages.
        timeout_s: The toolset's request timeout (bounds a back-channel question too).
        provider: A provider that serves sampling instead of the run's own.
    """

    def __init__(
        self, request: Request, *, target: str, timeout_s: float | None, provider: Any = None
    ) -> None:
        self._request = request
        self._target = target
        self._timeout_s = timeout_s
        self.provider = provider
        self.inflight: dict[str, Inflight] = {}
        self._contexts: dict[str, ToolContext[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- callbacks the SDK calls (back-channel form) --------------------------------------

    async def on_elicit(self, context: Any, params: types.ElicitRequestParams) -> Any:
        """`elicitation/create` from the server: park it on the oldest call in flight that
        is not already asking; the tool pauses the run with it."""
        flight = next((f for f in self.inflight.values() if f.asked is None and not f.done), None)
        if flight is None:
            logger.warning("MCP server %s elicited outside a tool call; cancelled", self._target)
            return types.ElicitResult(action="cancel")
        return await flight.ask(params)

    async def on_sample(self, context: Any, params: types.CreateMessageRequestParams) -> Any:
        """`sampling/createMessage` from the server, answered by the run's provider."""
        provider = self._provider(None)
        if provider is None:
            message = "no Spine run is in progress to sample with"
            return types.ErrorData(code=types.INVALID_REQUEST, message=message)
        try:
            return await sample(provider, params)
        except Exception as exc:  # the provider failed: the server sees a JSON-RPC error
            return types.ErrorData(code=types.INTERNAL_ERROR, message=f"sampling failed: {exc}")

    def _provider(self, ctx: ToolContext[Any] | None) -> Any:
        if self.provider is not None:
            return self.provider
        for candidate in (ctx, *self._contexts.values()):
            found = getattr(getattr(candidate, "run", None), "provider", None)
            if found is not None:
                return found
        return None

    # -- one tool call ----------------------------------------------------------------------

    async def call(
        self, tool: str, arguments: dict[str, Any], ctx: ToolContext[Any] | None, session: Any
    ) -> types.CallToolResult:
        """Call `tool`, pausing the run (`Interrupt`) when the server elicits.

        Raises:
            MCPToolError: the human rejected the call (approval), or too many input rounds.
            Interrupt: the server asks the human (the run pauses; the resume re-invokes this
                call with `ctx.decision`).
        """
        decision = ctx.decision if ctx is not None else None
        if decision is not None and decision.action == "reject" and not self._pending(ctx):
            reason = f": {decision.reason}" if decision.reason else "."
            raise MCPToolError(tool, f"The user rejected this tool call{reason}")
        key = ctx.call.id if ctx is not None else uuid.uuid4().hex
        if ctx is not None:
            self._contexts[key] = ctx
        try:
            version = getattr(session, "protocol_version", None)
            if version in HANDSHAKE_PROTOCOL_VERSIONS:
                return await self._back_channel(tool, arguments, ctx, key)
            return await self._resolver(tool, arguments, ctx, key)
        finally:
            self._contexts.pop(key, None)

    def _pending(self, ctx: ToolContext[Any] | None) -> bool:
        scratch = ctx.state.scratch.get(SCRATCH_KEY, {}) if ctx is not None else {}
        return ctx is not None and ctx.call.id in scratch

    def _interrupt(self, tool: str, params: types.ElicitRequestParams) -> Interrupt:
        question, data = elicit_interrupt_payload(params, server=self._target, tool=tool)
        return Interrupt(question, data=data)

    async def _resolver(
        self, tool: str, arguments: dict[str, Any], ctx: ToolContext[Any] | None, key: str
    ) -> types.CallToolResult:
        """2026-07-28: `InputRequiredResult` rounds; an elicitation's round is checkpointed."""
        scratch: dict[str, Any] = ctx.state.scratch.setdefault(SCRATCH_KEY, {}) if ctx else {}
        record = scratch.pop(key, None)
        responses: dict[str, Any] = {}
        state: str | None = None
        if record is not None and record.get("form") == "resolver":
            responses = {k: load_response(v) for k, v in record["responses"].items()}
            state = record["request_state"]
            requests = {k: load_params(v) for k, v in record["requests"].items()}
            asking = record["asking"]
            if ctx is not None and ctx.decision is not None:
                try:
                    responses[asking] = elicit_result(ctx.decision, requests[asking])
                except ValueError as exc:
                    scratch[key] = record
                    raise self._retry_interrupt(tool, requests[asking], exc) from None
            remaining = [k for k in requests if k not in responses]
            if remaining:
                record["asking"] = remaining[0]
                record["responses"] = {k: dump_response(v) for k, v in responses.items()}
                scratch[key] = record
                raise self._interrupt(tool, requests[remaining[0]])
        for _ in range(MAX_ROUNDS):

            async def send(
                session: Any, sent: Any = responses or None, given: str | None = state
            ) -> Any:
                return await _client_session(session).call_tool(
                    tool,
                    arguments,
                    input_responses=sent,
                    request_state=given,
                    allow_input_required=True,
                )

            result = await self._request(f"tools/call '{tool}'", send)
            if not isinstance(result, types.InputRequiredResult):
                return result  # type: ignore[no-any-return]
            state, responses = result.request_state, {}
            asked: dict[str, types.ElicitRequestParams] = {}
            for name, item in (result.input_requests or {}).items():
                if isinstance(item, types.ElicitRequest):
                    asked[name] = item.params
                elif isinstance(item, types.CreateMessageRequest):
                    responses[name] = await self._sample(tool, ctx, item.params)
                else:  # roots/list: Spine exposes no roots
                    responses[name] = types.ListRootsResult(roots=[])
            if asked:
                first = next(iter(asked))
                if ctx is not None:
                    scratch[key] = {
                        "form": "resolver",
                        "request_state": state,
                        "responses": {k: dump_response(v) for k, v in responses.items()},
                        "requests": {k: dump(p) for k, p in asked.items()},
                        "asking": first,
                    }
                raise self._interrupt(tool, asked[first])
        raise MCPToolError(tool, f"the server asked for input more than {MAX_ROUNDS} times")

    def _retry_interrupt(
        self, tool: str, params: types.ElicitRequestParams, problem: Exception
    ) -> Interrupt:
        interrupt = self._interrupt(tool, params)
        interrupt.question = f"{interrupt.question} (the last answer did not fit: {problem})"
        return interrupt

    async def _sample(
        self, tool: str, ctx: ToolContext[Any] | None, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        provider = self._provider(ctx)
        if provider is None:
            raise MCPToolError(tool, "the server asked to sample, but no provider is available")
        return await sample(provider, params)

    async def _back_channel(
        self, tool: str, arguments: dict[str, Any], ctx: ToolContext[Any] | None, key: str
    ) -> types.CallToolResult:
        """2025-11-25: the call runs in a background task while the server may elicit."""
        scratch: dict[str, Any] = ctx.state.scratch.setdefault(SCRATCH_KEY, {}) if ctx else {}
        record = scratch.pop(key, None)
        decision = ctx.decision if ctx is not None else None
        flight = self.inflight.get(key)
        if flight is not None and flight.asked is not None and decision is not None:
            try:
                flight.answer(elicit_result(decision, flight.asked))
            except ValueError as exc:
                scratch[key] = record
                raise self._retry_interrupt(tool, flight.asked, exc) from None
        elif flight is None:
            flight = Inflight(call_id=key, timeout_s=self._timeout_s)
            if record is not None and record.get("form") == "back-channel" and decision:
                # A fresh process: the server's question died with the old connection. The
                # call is issued again and the same question gets the human's answer.
                params = load_params(record["request"])
                flight.replay = (question_digest(params), elicit_result(decision, params))
            self.inflight[key] = flight
            self._start(flight, tool, arguments)
        try:
            await flight.wait()
        except BaseException:
            self._drop(flight)
            raise
        if flight.done:
            self._drop(flight)
            if isinstance(flight.outcome, BaseException):
                raise flight.outcome
            return flight.outcome  # type: ignore[no-any-return]
        assert flight.asked is not None
        if ctx is not None:
            scratch[key] = {"form": "back-channel", "request": dump(flight.asked)}
        raise self._interrupt(tool, flight.asked)

    def _start(self, flight: Inflight, tool: str, arguments: dict[str, Any]) -> None:
        async def run() -> None:
            try:
                flight.outcome = await self._request(
                    f"tools/call '{tool}'", lambda session: session.call_tool(tool, arguments)
                )
            except BaseException as exc:  # handed to the waiting tool call
                flight.outcome = exc
                if not isinstance(exc, Exception):
                    raise
            finally:
                flight.done = True
                flight.signal()

        task = asyncio.get_running_loop().create_task(run())
        flight.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _drop(self, flight: Inflight) -> None:
        if self.inflight.get(flight.call_id) is flight:
            del self.inflight[flight.call_id]
        if flight.task is not None and not flight.task.done():
            flight.task.cancel()

    async def aclose(self) -> None:
        """Cancel the back-channel calls still waiting (their runs stay paused)."""
        for flight in list(self.inflight.values()):
            self._drop(flight)
        if self._tasks:
            await asyncio.wait(list(self._tasks))
