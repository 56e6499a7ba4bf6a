"""`Sandbox`: run sync tools in a child process with CPU, memory and wall-clock limits."""

from __future__ import annotations

import importlib
import math
import multiprocessing
import signal
import sys
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from typing import Any, Literal

import anyio.to_thread

from spine_core import Middleware, SpineError, Tool, ToolContext, tool_output_text

__all__ = ["Sandbox", "SandboxLimitError", "SandboxedToolError"]


class SandboxLimitError(SpineError):
    """A sandboxed tool call hit a limit.

    Attributes:
        limit: "cpu", "memory" or "wall_clock".
    """

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


class SandboxedToolError(SpineError):
    """A sandboxed tool raised; the message is the child's "ExceptionType: message"."""


def _address_space_bytes() -> int:
    """The process's current virtual memory size (Linux /proc), or 0 when unknown."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    import resource

    return pages * resource.getpagesize()


def _resolve(module: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _child(
    conn: Connection,
    module: str,
    qualname: str,
    arguments: dict[str, Any],
    cpu_s: float | None,
    memory_mb: float | None,
) -> None:
    """Child process entry: import the tool, set the limits, run it, report."""
    import resource

    try:
        target = _resolve(module, qualname)
        if isinstance(target, Tool):  # a @tool function: validate as the parent did
            func, kwargs = target.func, target.validate(arguments)
        else:  # a function given to raw_tool: keyword arguments as they came
            func, kwargs = target, arguments
        if cpu_s is not None:
            # RLIMIT_CPU counts the whole process, so the budget starts after the imports above.
            usage = resource.getrusage(resource.RUSAGE_SELF)
            seconds = math.ceil(usage.ru_utime + usage.ru_stime) + max(1, math.ceil(cpu_s))
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
        if memory_mb is not None:
            limit = _address_space_bytes() + int(memory_mb * 1024 * 1024)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        value = func(**kwargs)
        try:
            conn.send(("ok", value))
        except Exception:  # not picklable: send the text the model would see
            conn.send(("ok", tool_output_text(value)))
    except MemoryError:
        conn.send(("memory", ""))
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class Sandbox(Middleware):
    """Run sync tools in a resource-limited child process.

    The child is started with the multiprocessing "spawn" (default) or "forkserver" method, so
    it shares no threads or locks with the agent. In the child, `resource.setrlimit` sets
    RLIMIT_CPU (CPU seconds counted from when the tool starts, so the child's start-up is not
    charged; the kernel sends SIGXCPU) and RLIMIT_AS (address space); the parent kills the
    child when the wall-clock limit passes, waiting in a worker thread so the event loop never
    blocks. A limit hit is a tool error the model sees, naming the limit, e.g. "Tool 'crunch'
    failed: SandboxLimitError: CPU time limit of 1 s exceeded". A shorter `ctx.timeout_s`
    (`ToolTimeout`) or the run's remaining time also bounds the child.

    The sandboxed call still goes through the kernel's tool path (argument validation,
    `ToolTimeout`, `on_error`, the other tool middleware); approved calls of a
    human-in-the-loop pause are sandboxed too. The tool's function must be importable by
    module and name (a module-level function, decorated with `@tool` or given to `raw_tool`),
    its arguments and result picklable (a result that is not is sent back as its text). Async
    tools, tools taking a `ToolContext`, nested functions and lambdas run unsandboxed, as do
    all tools off POSIX systems (no `resource` module).

    Args:
        tools: Names of the tools to sandbox; None for every eligible (sync) tool.
        timeout_s: Wall-clock limit, seconds (child start-up included).
        max_cpu_s: CPU-seconds limit (rounded up to whole seconds); None for no limit.
        max_memory_mb: Address space the tool may allocate beyond the child interpreter's
            own, in MiB; None for no limit.
        start_method: "spawn" or "forkserver".

    Raises:
        ValueError: a limit is not > 0.
    """

    def __init__(
        self,
        *,
        tools: Iterable[str] | None = None,
        timeout_s: float = 5.0,
        max_cpu_s: float | None = 5,
        max_memory_mb: float | None = 512,
        start_method: Literal["spawn", "forkserver"] = "spawn",
    ) -> None:
        if any(v is not None and v <= 0 for v in (timeout_s, max_cpu_s, max_memory_mb)):
            raise ValueError("sandbox limits must be > 0")
        self.tools = None if tools is None else frozenset(tools)
        self.timeout_s = timeout_s
        self.max_cpu_s = max_cpu_s
        self.max_memory_mb = max_memory_mb
        self.start_method = start_method

    def applies(self, target: Tool | None) -> bool:
        """Whether calls to `target` run sandboxed."""
        if target is None or sys.platform == "win32":
            return False
        if self.tools is not None and target.name not in self.tools:
            return False
        if target._is_async or target.context_param is not None:
            return False
        return _importable(target.func)

    def run(
        self, func: Callable[..., Any], arguments: dict[str, Any], timeout_s: float | None = None
    ) -> Any:
        """Run the tool function `func` with `arguments` in a child process under the limits
        (blocking); `timeout_s` shortens the wall-clock limit.

        Raises:
            SandboxLimitError: a limit was hit.
            SandboxedToolError: the tool raised.
        """
        wall = self.timeout_s if timeout_s is None else min(self.timeout_s, timeout_s)
        context: Any = multiprocessing.get_context(self.start_method)
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_child,
            args=(
                send,
                func.__module__,
                func.__qualname__,
                arguments,
                self.max_cpu_s,
                self.max_memory_mb,
            ),
            daemon=True,
        )
        process.start()
        send.close()
        outcome: tuple[str, Any] | None = None
        try:
            if receive.poll(wall):
                try:
                    outcome = receive.recv()
                except EOFError:
                    outcome = None
            else:
                process.kill()
                process.join()
                raise SandboxLimitError("wall_clock", f"wall-clock limit of {wall:g} s exceeded")
            process.join(wall)
        finally:
            receive.close()
            if process.is_alive():
                process.kill()
                process.join()
        if outcome is None:
            if process.exitcode in (-signal.SIGXCPU, -signal.SIGKILL):
                raise SandboxLimitError("cpu", f"CPU time limit of {self.max_cpu_s:g} s exceeded")
            raise SandboxedToolError(f"the sandbox process died with exit code {process.exitcode}")
        kind, value = outcome
        if kind == "ok":
            return value
        if kind == "memory":
            raise SandboxLimitError(
                "memory", f"memory limit of {self.max_memory_mb:g} MiB exceeded"
            )
        raise SandboxedToolError(value)

    async def before_tool(self, ctx: ToolContext[Any]) -> None:
        target = ctx.tool
        if target is None or not self.applies(target):
            return
        func = target.func

        async def sandboxed(**arguments: Any) -> Any:
            target.validate(arguments)  # invalid arguments: a ToolValidationError, as unsandboxed
            limits = [t for t in (ctx.timeout_s, ctx.run.time_left()) if t is not None]
            wall = max(min(limits), 0.001) if limits else None
            return await anyio.to_thread.run_sync(
                self.run, func, arguments, wall, abandon_on_cancel=True
            )

        # Swap the tool for this call only, so the kernel still applies timeouts and on_error.
        ctx.tool = Tool(target.name, target.description, target.parameters, sandboxed)


def _importable(func: Any) -> bool:
    """Whether the child can import `func` by module and name (itself, or the @tool over it)."""
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        return False
    try:
        found = _resolve(module, qualname)
    except (ImportError, AttributeError):
        return False
    return found is func or (isinstance(found, Tool) and found.func is func)
