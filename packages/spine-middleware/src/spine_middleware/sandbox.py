"""`Sandbox`: run sync tools in a child process with CPU, memory and wall-clock limits."""

from __future__ import annotations

import importlib
import inspect
import math
import multiprocessing
import signal
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any, Literal

import anyio.to_thread
from pydantic import validate_call

from spine_core import Middleware, SpineError, Tool, ToolContext, tool, tool_output_text

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


def _child(
    conn: Connection,
    module: str,
    qualname: str,
    arguments: dict[str, Any],
    typed: bool,
    cpu_s: float | None,
    memory_mb: float | None,
) -> None:
    """Child process entry: import the tool function, set the limits, run it, report."""
    import resource

    try:
        target: Any = importlib.import_module(module)
        for part in qualname.split("."):
            target = getattr(target, part)
        func: Any = target.func if isinstance(target, Tool) else target
        call = validate_call(func) if typed else None
        if cpu_s is not None:
            # RLIMIT_CPU counts the whole process, so the budget starts after the imports above.
            usage = resource.getrusage(resource.RUSAGE_SELF)
            seconds = math.ceil(usage.ru_utime + usage.ru_stime) + max(1, math.ceil(cpu_s))
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
        if memory_mb is not None:
            limit = _address_space_bytes() + int(memory_mb * 1024 * 1024)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        value = call(**arguments) if call is not None else func(arguments)
        conn.send(("ok", tool_output_text(value)))
    except MemoryError:
        conn.send(("memory", ""))
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class Sandbox(Middleware):
    """Run sync tools in a child process under resource limits.

    The child is started with the multiprocessing "spawn" (default) or "forkserver" method, so
    it shares no threads or locks with the agent. In the child, `resource.setrlimit` sets
    RLIMIT_CPU (CPU seconds counted from when the tool starts, so the child's start-up is not
    charged; the kernel sends SIGXCPU) and RLIMIT_AS (address space); the
    parent kills the child when the wall-clock limit passes, waiting in a worker thread so the
    event loop never blocks. A limit hit is a tool error the model sees, naming the limit,
    e.g. "Tool 'crunch' failed: SandboxLimitError: CPU time limit of 1 s exceeded".

    The tool's function must be importable by module and name (a module-level function,
    decorated with `@tool` or wrapped with `raw_tool`), its arguments and result picklable.
    Async tools, tools taking a `ToolContext` and nested functions run unsandboxed.
    POSIX only (uses the `resource` module).

    Args:
        cpu_s: CPU-seconds limit (rounded up to whole seconds); None for no limit.
        memory_mb: Address space the tool may allocate beyond the child interpreter's own, in
            MiB; None for no limit.
        wall_s: Wall-clock limit, seconds (child start-up included).
        tools: Names of the tools to sandbox; None for every eligible tool.
        start_method: "spawn" or "forkserver".

    Raises:
        ValueError: a limit is not > 0.
    """

    def __init__(
        self,
        *,
        cpu_s: float | None = 5.0,
        memory_mb: float | None = 512.0,
        wall_s: float = 30.0,
        tools: Sequence[str] | None = None,
        start_method: Literal["spawn", "forkserver"] = "spawn",
    ) -> None:
        if any(v is not None and v <= 0 for v in (cpu_s, memory_mb, wall_s)):
            raise ValueError("sandbox limits must be > 0")
        self.cpu_s = cpu_s
        self.memory_mb = memory_mb
        self.wall_s = wall_s
        self.tools = None if tools is None else frozenset(tools)
        self.start_method = start_method

    def _eligible(self, target: Tool) -> tuple[bool, bool]:
        """(can sandbox, arguments are typed) for `target`."""
        func = target.func
        if func is None or "<locals>" in func.__qualname__:
            return False, False
        if self.tools is not None and target.name not in self.tools:
            return False, False
        if inspect.iscoroutinefunction(func):
            return False, False
        try:
            rebuilt = tool(func)
        except TypeError:
            return False, False
        typed = rebuilt.parameters == target.parameters
        if typed and any(
            "ToolContext" in str(p.annotation) for p in inspect.signature(func).parameters.values()
        ):
            return False, False
        return True, typed

    def run(self, func: Any, arguments: dict[str, Any], typed: bool) -> str:
        """Run `func` in a child process under the limits (blocking).

        Raises:
            SandboxLimitError: a limit was hit.
            SandboxedToolError: the tool raised.
        """
        context: Any = multiprocessing.get_context(self.start_method)
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_child,
            args=(
                send,
                func.__module__,
                func.__qualname__,
                arguments,
                typed,
                self.cpu_s,
                self.memory_mb,
            ),
            daemon=True,
        )
        process.start()
        send.close()
        outcome: tuple[str, str] | None = None
        try:
            if receive.poll(self.wall_s):
                try:
                    outcome = receive.recv()
                except EOFError:
                    outcome = None
            else:
                process.kill()
                process.join()
                raise SandboxLimitError(
                    "wall_clock", f"wall-clock limit of {self.wall_s:g} s exceeded"
                )
            process.join(self.wall_s)
        finally:
            receive.close()
            if process.is_alive():
                process.kill()
                process.join()
        if outcome is None:
            if process.exitcode in (-signal.SIGXCPU, -signal.SIGKILL):
                raise SandboxLimitError("cpu", f"CPU time limit of {self.cpu_s:g} s exceeded")
            raise SandboxedToolError(f"the sandbox process died with exit code {process.exitcode}")
        kind, text = outcome
        if kind == "ok":
            return text
        if kind == "memory":
            raise SandboxLimitError("memory", f"memory limit of {self.memory_mb:g} MiB exceeded")
        raise SandboxedToolError(text)

    async def before_tool(self, ctx: ToolContext) -> str | None:
        target = ctx.tool
        if target is None or target.func is None:
            return None
        eligible, typed = self._eligible(target)
        if not eligible:
            return None
        func = target.func

        async def sandboxed(arguments: dict[str, Any]) -> str:
            return await anyio.to_thread.run_sync(
                self.run, func, arguments, typed, abandon_on_cancel=True
            )

        ctx.tool = Tool(
            name=target.name,
            description=target.description,
            parameters=target.parameters,
            call=sandboxed,
            func=func,
        )
        return None
