"""`MCPToolset`: one MCP server's tools, resources and prompts for a Spine agent.

Built on the `mcp` SDK 2.3's `Client`, which negotiates the protocol revision (`mode="auto"`:
a `server/discover` probe for 2026-07-28, falling back to the `initialize` handshake of
2025-11-25 and older servers, such as those built on the TypeScript SDK).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

import anyio
import mcp_types as types

from spine_core import Message, Tool, ToolContext, ToolValidationError

from ._calls import Calls
from ._connection import Connection, is_link_error, link_down
from ._convert import content_parts, content_text, prompt_messages, resource_message, resource_text
from .errors import MCPToolError
from .images import record_images

if TYPE_CHECKING:
    import httpx2

__all__ = ["MCPToolset"]

logger = logging.getLogger("spine_mcp")

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_CTX = "_spine_mcp_tool_context"  # the hidden parameter that receives the call's ToolContext
_LISTED_RESOURCES = 50  # resources named in the resource tool's description, at most


class MCPToolset:
    """Connects to one MCP server and exposes its tools to a Spine agent.

    Usage::

        async with MCPToolset(url="https://mcp.example.com/mcp") as mcp:
            agent = Agent("anthropic:claude-sonnet-4-6", tools=await mcp.load_tools())
            await agent.run("...")

    Pass ``session=`` to drive an existing, already connected ``mcp.Client`` or
    ``mcp.ClientSession`` (the toolset then never closes it; used in tests).

    Each server tool becomes a Spine `Tool` whose parameters are the tool's `inputSchema`.
    The model's arguments are checked against that schema before the call (a mismatch goes
    back to the model as a tool error). A result's text blocks become the tool result; its
    images become placeholders in the text and image parts the model sees through
    `MCPImages`; `structuredContent` is checked by the SDK against the tool's
    `outputSchema` and given as JSON when the result has no text. An `isError` result
    raises `MCPToolError`, which the kernel returns to the model as a tool error.

    Args:
        url: Streamable HTTP endpoint, e.g. "http://127.0.0.1:8000/mcp".
        command: Executable of a stdio server, started as a subprocess.
        args: Its command-line arguments.
        env: Environment variables for the subprocess, over the SDK's minimal default
            (HOME, LOGNAME, PATH, SHELL, TERM, USER).
        session: An already connected `mcp.Client` or `mcp.ClientSession` to use instead.
        approve: When True, every call of these tools waits for human approval
            (`StopReason.interrupt`, then `Agent.resume`).
        timeout_s: Seconds one request (tool call, listing, read) may take before it fails
            as a tool error; None waits forever.
        prefix: Prepended to each tool name as ``"{prefix}_{name}"`` (two servers with the
            same tool names in one agent).
        http_client: An `httpx2.AsyncClient` for the HTTP transport (headers, auth, proxies,
            or an in-process `httpx2.ASGITransport`).
        mode: Protocol negotiation: "auto" (default), "legacy" (initialize only), or a modern
            revision such as "2026-07-28".
        sampling_provider: A Spine provider that answers the server's sampling requests;
            default the provider of the run whose tool call is in progress.

    Server-initiated requests: an elicitation pauses the run with an `Interrupt` (kind
    "input", `data["mcp_elicitation"]` = server, tool, mode, message, requested_schema or
    url); `agent.resume(token, answer={...})` (or "decline" / "cancel") answers it and the
    call continues. Under protocol 2026-07-28 (the resolver form) the pending round is in
    the checkpoint and a fresh process resumes it; under 2025-11-25 (back-channel requests)
    the server waits on the live connection, so answer within `timeout_s` from the same
    process, or a fresh process re-issues the call and gives the same question the answer.
    A sampling request is answered by one call of the run's provider.

    Raises:
        ValueError: none of url, command and session is given.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        command: str | None = None,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        session: Any = None,
        approve: bool = False,
        timeout_s: float | None = 60.0,
        prefix: str | None = None,
        http_client: httpx2.AsyncClient | None = None,
        mode: Literal["auto", "legacy"] | str = "auto",
        sampling_provider: Any = None,
    ) -> None:
        if session is None and url is None and command is None:
            raise ValueError("MCPToolset needs a url, a command, or an explicit session")
        self.url = url
        self.command = command
        self.args = args or []
        self.env = env
        self.approve = approve
        self.timeout_s = timeout_s
        self.prefix = prefix
        self.mode = mode
        self.skipped: dict[str, str] = {}
        """Server tools left out by `load_tools`, by name, with the reason (a bad schema)."""
        self._http_client = http_client
        self._session: Any = session
        self._connection: Connection | None = None
        self._calls = Calls(
            self._request, target=self._target(), timeout_s=timeout_s, provider=sampling_provider
        )

    # -- connection ---------------------------------------------------------------------

    async def connect(self) -> None:
        """Start the server (stdio) or open the HTTP session, and negotiate the protocol.

        Idempotent. The connection is kept by a background task of this toolset, so tool
        calls from any task (parallel tools, several servers) are safe; after the link breaks
        (the server exited or restarted) the next request reconnects, with a bounded
        backoff (`spine_mcp._connection.BACKOFF_S`).

        Raises:
            MCPConnectError: the server could not be started or reached, or the handshake
                failed (the cause is chained).
        """
        if self._session is not None or self._connection is not None:
            return
        connection = Connection(self._new_client, target=self._target(), timeout_s=self.timeout_s)
        await connection.open()
        self._connection = connection

    def _new_client(self) -> Any:
        from mcp import Client, StdioServerParameters

        server: Any
        if self.url is not None:
            if self._http_client is not None:
                from mcp.client.streamable_http import streamable_http_client

                server = streamable_http_client(self.url, http_client=self._http_client)
            else:
                server = self.url
        else:
            server = StdioServerParameters(command=self.command or "", args=self.args, env=self.env)
        return Client(
            server,
            read_timeout_seconds=self.timeout_s,
            mode=self.mode,
            elicitation_callback=self._calls.on_elicit,
            sampling_callback=self._calls.on_sample,
        )

    def _target(self) -> str:
        return self.url or " ".join([self.command or "", *self.args]).strip() or "(session)"

    @property
    def session(self) -> Any:
        """The connected `mcp.Client` (or the `session` given); None before `connect`.

        Share it to build a second toolset on the same connection, e.g.
        ``MCPToolset(session=mcp.session, approve=True)``."""
        if self._session is not None:
            return self._session
        return self._connection.client if self._connection is not None else None

    @property
    def protocol_version(self) -> str | None:
        """The negotiated MCP protocol revision, e.g. "2026-07-28" or "2025-11-25"."""
        return getattr(self.session, "protocol_version", None)

    @property
    def server_info(self) -> types.Implementation | None:
        """The server's name and version, when it sent them."""
        return getattr(self.session, "server_info", None)

    async def aclose(self) -> None:
        """Close the connection this toolset opened (a given `session` is left open)."""
        await self._calls.aclose()
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.aclose()

    async def __aenter__(self) -> MCPToolset:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request(self, what: str, send: Callable[[Any], Awaitable[Any]]) -> Any:
        """Run `send(session)` under `timeout_s`; a hang raises `TimeoutError` naming it, and
        a broken link is reported so that the next request reconnects.

        When the link was already down before the request went out (the server exited or
        restarted between calls), nothing reached the server, so the request is sent once
        more on a new connection: the first call after a restart succeeds.
        """
        await self.connect()
        for attempt in (1, 2):
            if self._session is not None:
                session = self._session
            else:
                assert self._connection is not None
                session = await self._connection.current()
            down_before = link_down(session)
            try:
                with anyio.fail_after(self.timeout_s):
                    return await send(session)
            except TimeoutError:
                if self.timeout_s is None:
                    raise
                raise TimeoutError(
                    f"MCP server {self._target()} did not answer {what} within {self.timeout_s:g} s"
                ) from None
            except Exception as exc:
                if self._connection is None or not is_link_error(exc):
                    raise
                self._connection.broken(session)
                if attempt == 2 or not down_before:
                    raise
        raise AssertionError("unreachable")

    async def _list(self, method: str, field: str) -> list[Any]:
        """Every item of a paginated list method (`tools/list`, `resources/list`, ...)."""
        from mcp import Client

        items: list[Any] = []
        cursor: str | None = None

        async def fetch(session: Any) -> Any:
            page = getattr(session, method)
            if cursor is None:
                return await page()
            if isinstance(session, Client):
                return await page(cursor=cursor)
            return await page(params=types.PaginatedRequestParams(cursor=cursor))  # ClientSession

        while True:
            result = await self._request(method, fetch)
            items.extend(getattr(result, field))
            cursor = getattr(result, "next_cursor", None)
            if not cursor:
                return items

    # -- tools --------------------------------------------------------------------------

    async def load_tools(self, *, resources: bool = False) -> list[Tool]:
        """Connect (if needed), list the server's tools, and wrap them.

        Args:
            resources: Also add the `read_resource` tool (see `resource_tool`).

        Returns:
            One Spine `Tool` per server tool (named ``"{prefix}_{name}"`` with a prefix).
            A tool whose `inputSchema` is not a valid JSON schema is left out (a provider
            would reject the whole request) and named in `skipped` with the reason.

        Raises:
            MCPConnectError: connecting failed.
        """
        tools: list[Tool] = []
        for spec in await self._list("list_tools", "tools"):
            built = self._wrap(spec)
            if built is not None:
                tools.append(built)
        if resources:
            tools.append(await self.resource_tool())
        return tools

    def _name(self, name: str) -> str:
        return f"{self.prefix}_{name}" if self.prefix else name

    def _wrap(self, spec: types.Tool) -> Tool | None:
        schema = _object_schema(spec.input_schema)
        try:
            validator = _validator(schema)
        except Exception as exc:  # jsonschema.SchemaError, or a schema that is not a dict
            reason = f"invalid inputSchema: {getattr(exc, 'message', exc)}"
            logger.warning("MCP tool '%s' from %s skipped: %s", spec.name, self._target(), reason)
            self.skipped[spec.name] = reason
            return None
        name = self._name(spec.name)
        description = spec.description or spec.title or spec.name

        async def call(**arguments: Any) -> str:
            ctx: ToolContext[Any] | None = arguments.pop(_CTX, None)
            problems = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
            if problems:
                detail = "; ".join(_problem(p) for p in problems)
                raise ToolValidationError(name, detail)
            await self.connect()
            result = await self._calls.call(spec.name, arguments, ctx, self.session)
            text = content_text(result.content, result.structured_content)
            if result.is_error:
                raise MCPToolError(spec.name, text)
            record_images(ctx, content_parts(result.content))
            return text

        return Tool(
            name,
            description,
            schema,
            call,
            approve=self.approve,
            context_param=_CTX,
            forwards_decisions=True,  # an approval or an elicitation answer comes back here
        )

    # -- resources ----------------------------------------------------------------------

    async def list_resources(self) -> list[types.Resource]:
        """The server's resources (`resources/list`, every page): uri, name, mime_type, ..."""
        return await self._list("list_resources", "resources")

    async def list_resource_templates(self) -> list[types.ResourceTemplate]:
        """The server's resource templates (`resources/templates/list`), e.g. "note://{id}"."""
        return await self._list("list_resource_templates", "resource_templates")

    async def read_resource(
        self, uri: str
    ) -> list[types.TextResourceContents | types.BlobResourceContents]:
        """The contents of resource `uri` (`resources/read`): text items, or blob items with
        base64 `blob`.

        Raises:
            mcp.MCPError: the server does not know `uri` (JSON-RPC error).
        """
        result: types.ReadResourceResult = await self._request(
            f"resources/read '{uri}'", lambda session: session.read_resource(uri)
        )
        return list(result.contents)

    async def resource_message(self, uri: str) -> Message:
        """Resource `uri` as a user message to attach to a run (text and image parts), e.g.
        ``agent.run(..., message_history=[await mcp.resource_message(uri)])``."""
        return resource_message(uri, await self.read_resource(uri))

    async def resource_tool(self, name: str = "read_resource") -> Tool:
        """A tool the model calls with ``{"uri": ...}`` to read one of the server's
        resources; its description lists up to 50 resources and every template.

        Args:
            name: Tool name (the toolset's prefix is prepended).
        """
        await self.connect()
        capabilities = getattr(self.session, "server_capabilities", None)
        listed: list[str] = []
        if capabilities is None or capabilities.resources is not None:
            for res in (await self.list_resources())[:_LISTED_RESOURCES]:
                about = f": {res.description}" if res.description else ""
                listed.append(f"- {res.uri} ({res.name}){about}")
            for tpl in await self.list_resource_templates():
                about = f": {tpl.description}" if tpl.description else ""
                listed.append(f"- {tpl.uri_template} (template){about}")
        description = "Read a resource of this MCP server by URI."
        if listed:
            description += " Available:\n" + "\n".join(listed)

        schema = {
            "type": "object",
            "properties": {"uri": {"type": "string", "description": "The resource URI."}},
            "required": ["uri"],
            "additionalProperties": False,
        }
        validator = _validator(schema)
        tool_name = self._name(name)

        async def read(**arguments: Any) -> str:
            ctx: ToolContext[Any] | None = arguments.pop(_CTX, None)
            problems = list(validator.iter_errors(arguments))
            if problems:
                raise ToolValidationError(tool_name, "; ".join(_problem(p) for p in problems))
            contents = await self.read_resource(arguments["uri"])
            blocks = [types.EmbeddedResource(type="resource", resource=item) for item in contents]
            record_images(ctx, content_parts(blocks))
            return resource_text(contents)

        return Tool(
            tool_name,
            description,
            schema,
            read,
            approve=self.approve,
            context_param=_CTX,
        )

    # -- prompts ------------------------------------------------------------------------

    async def list_prompts(self) -> list[types.Prompt]:
        """The server's prompts (`prompts/list`, every page), with their arguments."""
        return await self._list("list_prompts", "prompts")

    async def get_prompt(
        self, name: str, arguments: dict[str, str] | None = None
    ) -> types.GetPromptResult:
        """Render prompt `name` with `arguments` (`prompts/get`; argument values are strings
        by the MCP spec).

        Raises:
            mcp.MCPError: unknown prompt or missing required arguments.
        """
        result: types.GetPromptResult = await self._request(
            f"prompts/get '{name}'", lambda session: session.get_prompt(name, arguments)
        )
        return result

    async def prompt_messages(
        self, name: str, arguments: dict[str, str] | None = None
    ) -> list[Message]:
        """Prompt `name` rendered as Spine messages (user / assistant), ready for
        ``agent.run(..., message_history=...)``."""
        return prompt_messages(await self.get_prompt(name, arguments))


def _object_schema(schema: Any) -> dict[str, Any]:
    """The tool's `inputSchema` as an object schema (MCP requires `"type": "object"`; a
    missing schema or type is filled in). A non-dict is returned unchanged for the validator
    to reject."""
    if not schema:
        return dict(_EMPTY_SCHEMA)
    if isinstance(schema, dict) and "type" not in schema:
        return {"type": "object", **schema}
    return schema  # type: ignore[no-any-return]


def _validator(schema: dict[str, Any]) -> Any:
    """A jsonschema validator for `schema`, by its `$schema` (draft 2020-12 by default, the
    MCP spec's default dialect since 2025-11-25).

    Raises:
        jsonschema.SchemaError: the schema itself is invalid.
        TypeError: the schema is not an object with `"type": "object"`.
    """
    import jsonschema  # type: ignore[import-untyped]  # a dependency of mcp

    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise TypeError(f"inputSchema must be a JSON object schema, got {schema!r:.80}")
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def _problem(error: Any) -> str:
    where = ".".join(str(p) for p in error.path) or "(arguments)"
    return f"{where}: {error.message}"
