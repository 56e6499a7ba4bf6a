"""`Sandbox`: run tools in an isolated child process: scrubbed environment, own working
directory and uid, no network, process, memory, CPU and wall-clock limits."""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import anyio.to_thread

from spine_core import Middleware, SpineError, Tool, ToolContext

from . import _sandbox_os

__all__ = ["Sandbox", "SandboxLimitError", "SandboxUnavailableError", "SandboxedToolError"]

_log = logging.getLogger("spine_middleware.sandbox")


class SandboxLimitError(SpineError):
    """A sandboxed tool call hit a limit.

    Attributes:
        limit: "cpu", "memory", "file_size" or "wall_clock".
    """

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


class SandboxedToolError(SpineError):
    """A sandboxed tool raised; the message is the child's "ExceptionType: message"."""


class SandboxUnavailableError(SpineError):
    """An isolation the sandbox was asked for cannot be had on this machine (e.g. no network
    namespace: not Linux, or user namespaces disabled). The message says what is missing;
    `Sandbox(network=True)` or `Sandbox(strict=False)` opts out."""


_UID_BASE = 1 << 24  # per-call uids are drawn from [2**24, 2**25): used by nobody else
_UID_SPAN = 1 << 24
_MEMORY_SLACK_MB = 64  # the child interpreter's own memory, on top of `max_memory_mb`
_RESULT_CAP = 64 * 1024 * 1024
_SAFE_ENV = ("PATH", "LANG", "LC_ALL", "TZ")


def _keep_paths(func: Any) -> list[str]:
    """What the child must still see: the interpreter, its libraries, every import path and
    the tool's own file."""
    paths = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths |= {os.path.abspath(p) for p in sys.path if p and os.path.exists(p)}
    module = sys.modules.get(getattr(func, "__module__", ""), None)
    source = getattr(module, "__file__", None)
    if source:
        paths.add(os.path.dirname(os.path.abspath(source)))
    return sorted(paths)


class Sandbox(Middleware):
    """Run tools in an isolated, resource-limited child process.

    Each sandboxed call starts a fresh interpreter (`python -I -m
    spine_middleware._sandbox_child`, its own session and process group) that:

    - gets an environment with only `PATH`, `LANG`, `LC_ALL`, `TZ`, the variables named in
      `pass_env` and those given in `env` (never the agent's `OPENAI_API_KEY` & co.);
    - works in its own empty temporary directory (also `HOME` and `TMPDIR`), removed after;
    - on Linux, runs in new network and mount namespaces: no network at all (not even
      loopback: no local Redis or Postgres) unless `network=True`; an empty tmpfs over
      `/tmp`, `/var/tmp`, `/dev/shm` and `/run` (hiding their files and Unix sockets) and
      over unreadable directories such as `/root`, with only the interpreter, its libraries
      and the tool's module bound back in;
    - started as root, drops to a uid of its own (one per call, no groups, no new
      privileges: set-user-ID programs cannot raise it back), so it cannot write system
      files such as `/etc/passwd`, read other processes' environments or signal them;
    - has limits: CPU seconds (RLIMIT_CPU, per process), address space per process
      (RLIMIT_AS), `max_processes` processes and threads in all (a cgroup `pids.max` where
      cgroups are writable, else RLIMIT_NPROC), memory in all (a cgroup memory limit of
      `max_memory_mb` plus 64 MiB for the interpreter, where writable), file size
      (RLIMIT_FSIZE) and no core dumps;
    - is killed with everything it started when the call ends or `timeout_s` passes: the
      cgroup's processes, every process of its uid, and its process group, so grandchildren
      that called `setsid()` die too.

    `isolation()` reports which of these this machine provides. With `strict` (default) a
    call fails with `SandboxUnavailableError` when network isolation was asked for and the
    kernel refuses it, instead of running with network; `strict=False` runs it anyway (and
    logs a warning).

    What it does not protect against: reading files every user may read (the project's
    source, world-readable configuration); kernel exploits; covert channels; a tool's
    effects through the arguments or result it returns; without root, the uid drop and
    per-call process count (the limit then counts all of your user's processes) and the
    uid-wide kill; off Linux (macOS), the namespaces and cgroups - only the environment,
    working directory, rlimits and process-group kill apply there; on Windows it does not
    run tools at all (they run unsandboxed).

    The tool must be importable by module and name (a module-level function, decorated with
    `@tool` or given to `raw_tool`); async tools run in the child's own event loop. Its
    arguments and result travel as JSON (a result that is not JSON comes back as its text).
    With `tools=None`, every eligible tool is sandboxed and one that cannot be (a nested
    function, a lambda, a tool taking a `ToolContext`, e.g. a sub-agent) runs in-process
    with a warning; a tool named in `tools=` that cannot be sandboxed is refused: the call
    fails with a tool error and never runs in-process. A limit hit is a tool error the model
    sees, naming the limit ("... SandboxLimitError: CPU time limit of 1 s exceeded"). The
    call goes through the kernel's tool path as usual (argument validation, `ToolTimeout` -
    which also bounds the child - `on_error`, the other tool middleware, approvals).

    Args:
        tools: Names of the tools to sandbox; None for every eligible tool.
        timeout_s: Wall-clock limit, seconds (child start-up included).
        max_cpu_s: CPU-seconds limit per process (rounded up to whole seconds); None for
            none.
        max_memory_mb: Memory the tool may allocate, MiB (address space per process beyond
            the interpreter's own; and, with cgroups, in all); None for no limit.
        max_processes: Processes and threads the call may have at once, itself included;
            None for no limit.
        max_file_mb: Largest file the tool may write, MiB; None for no limit.
        network: Allow network access.
        env: Environment variables the tool gets.
        pass_env: Names of the agent's environment variables the tool gets.
        strict: Refuse to run a tool when network isolation is unavailable.
        start_method: Ignored (kept for compatibility: the child is always a fresh
            interpreter).

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
        max_processes: int | None = 16,
        max_file_mb: float | None = 64,
        network: bool = False,
        env: Mapping[str, str] | None = None,
        pass_env: Iterable[str] = (),
        strict: bool = True,
        start_method: str = "spawn",
    ) -> None:
        limits = (timeout_s, max_cpu_s, max_memory_mb, max_processes, max_file_mb)
        if any(v is not None and v <= 0 for v in limits):
            raise ValueError("sandbox limits must be > 0")
        self.tools = None if tools is None else frozenset(tools)
        self.timeout_s = timeout_s
        self.max_cpu_s = max_cpu_s
        self.max_memory_mb = max_memory_mb
        self.max_processes = max_processes
        self.max_file_mb = max_file_mb
        self.network = network
        self.env = dict(env or {})
        self.pass_env = tuple(pass_env)
        self.strict = strict
        self._warned: set[str] = set()

    @staticmethod
    def isolation() -> dict[str, str | None]:
        """What this machine gives a sandboxed call: for each of "network", "filesystem",
        "processes", "memory" and "kill", the mechanism, or None when it is not enforced."""
        linux = sys.platform == "linux"
        root = hasattr(os, "geteuid") and os.geteuid() == 0
        cgroup = _sandbox_os.Cgroup.create(1, None) if linux and root else None
        if cgroup is not None:
            cgroup.remove()
        netns = _probe_namespaces() if linux else False
        return {
            "network": "network namespace" if netns else None,
            "filesystem": ("own uid + private mounts" if root else "private mounts")
            if netns
            else ("own uid" if root else None),
            "processes": "cgroup pids.max"
            if cgroup
            else ("RLIMIT_NPROC (own uid)" if root else "RLIMIT_NPROC (your user)"),
            "memory": "cgroup memory limit + RLIMIT_AS" if cgroup else "RLIMIT_AS per process",
            "kill": "cgroup + uid + process group" if root else "process group",
        }

    def eligible(self, target: Tool | None) -> bool:
        """Whether calls to `target` can run sandboxed."""
        if target is None or sys.platform == "win32" or target.context_param is not None:
            return False
        return _importable(target.func)

    def applies(self, target: Tool | None) -> bool:
        """Whether calls to `target` run sandboxed (named, or any eligible tool)."""
        if target is None or (self.tools is not None and target.name not in self.tools):
            return False
        return self.eligible(target)

    def run(
        self, func: Callable[..., Any], arguments: dict[str, Any], timeout_s: float | None = None
    ) -> Any:
        """Run the tool function `func` with `arguments` (JSON) in a sandbox (blocking);
        `timeout_s` shortens the wall-clock limit.

        Raises:
            SandboxLimitError: a limit was hit.
            SandboxedToolError: the tool raised.
            SandboxUnavailableError: a required isolation is not available here.
        """
        wall = self.timeout_s if timeout_s is None else min(self.timeout_s, timeout_s)
        root = hasattr(os, "geteuid") and os.geteuid() == 0
        uid = _UID_BASE + secrets.randbelow(_UID_SPAN) if root else None
        memory = None
        if self.max_memory_mb is not None:
            memory = int((self.max_memory_mb + _MEMORY_SLACK_MB) * 1024 * 1024)
        cgroup = _sandbox_os.Cgroup.create(self.max_processes, memory) if root else None
        workdir = tempfile.mkdtemp(prefix="spine-sandbox-")
        result_path = os.path.join(workdir, ".result")
        env = {k: os.environ[k] for k in (*_SAFE_ENV, *self.pass_env) if k in os.environ}
        env.setdefault("PATH", os.defpath)
        env.update(self.env)
        env["HOME"] = env["TMPDIR"] = workdir
        try:
            with open(result_path, "wb") as result_file, open(os.devnull, "wb") as devnull:
                os.chmod(workdir, 0o700)
                request = {
                    "module": func.__module__,
                    "qualname": func.__qualname__,
                    "arguments": arguments,
                    "sys_path": [os.path.abspath(p) if p else os.getcwd() for p in sys.path],
                    "keep_paths": _keep_paths(func),
                    "workdir": workdir,
                    "uid": uid,
                    "network": self.network,
                    "strict": self.strict,
                    "max_cpu_s": self.max_cpu_s,
                    "max_memory_mb": self.max_memory_mb,
                    "max_processes": None if cgroup is not None else self.max_processes,
                    "max_file_mb": self.max_file_mb,
                    "cgroup_procs": cgroup.procs if cgroup is not None else [],
                    "result_fd": result_file.fileno(),
                }
                outcome = self._spawn(
                    request, env, workdir, result_file, devnull, wall, uid, cgroup
                )
        finally:
            if cgroup is not None:
                cgroup.remove()
            shutil.rmtree(workdir, ignore_errors=True)
        return outcome

    def _spawn(
        self,
        request: dict[str, Any],
        env: dict[str, str],
        workdir: str,
        result_file: Any,
        devnull: Any,
        wall: float,
        uid: int | None,
        cgroup: _sandbox_os.Cgroup | None,
    ) -> Any:
        process = subprocess.Popen(
            [sys.executable, "-I", "-m", "spine_middleware._sandbox_child"],
            stdin=subprocess.PIPE,
            stdout=devnull,
            stderr=devnull,
            cwd=workdir,
            env=env,
            pass_fds=(result_file.fileno(),),
            start_new_session=True,
            close_fds=True,
        )
        timed_out = False
        try:
            assert process.stdin is not None
            process.stdin.write(json.dumps(request).encode())
            process.stdin.close()
            process.wait(wall)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_everything(process, uid, cgroup)
        if timed_out:
            raise SandboxLimitError("wall_clock", f"wall-clock limit of {wall:g} s exceeded")
        with open(result_file.name, "rb") as reader:
            raw = reader.read(_RESULT_CAP + 1)
        return self._outcome(raw, process.returncode, cgroup)

    def _outcome(self, raw: bytes, code: int | None, cgroup: _sandbox_os.Cgroup | None) -> Any:
        if len(raw) > _RESULT_CAP:
            raise SandboxedToolError(f"the tool's result is over {_RESULT_CAP} bytes")
        try:
            outcome = json.loads(raw) if raw else None
        except ValueError:
            outcome = None
        if not isinstance(outcome, dict):
            if (cgroup is not None and cgroup.oom_killed()) or code == -signal.SIGKILL:
                raise SandboxLimitError(
                    "memory", f"memory limit of {self.max_memory_mb:g} MiB exceeded"
                )
            if code in (-signal.SIGXCPU,):
                raise SandboxLimitError("cpu", f"CPU time limit of {self.max_cpu_s:g} s exceeded")
            if code == -signal.SIGXFSZ:
                raise SandboxLimitError(
                    "file_size", f"file size limit of {self.max_file_mb:g} MiB exceeded"
                )
            raise SandboxedToolError(f"the sandbox process died with exit code {code}")
        status = outcome.get("status")
        if status == "ok":
            return outcome.get("value")
        if status == "memory":
            raise SandboxLimitError(
                "memory", f"memory limit of {self.max_memory_mb:g} MiB exceeded"
            )
        if status == "unavailable":
            raise SandboxUnavailableError(
                f"{outcome.get('message')}; the tool did not run (Sandbox(network=True) allows "
                "network, Sandbox(strict=False) runs without network isolation)"
            )
        raise SandboxedToolError(str(outcome.get("message", "the tool failed")))

    async def before_tool(self, ctx: ToolContext[Any]) -> None:
        target = ctx.tool
        if target is None or (self.tools is not None and target.name not in self.tools):
            return
        if not self.eligible(target):
            if self.tools is not None:  # named: never run it unsandboxed
                reason = (
                    "it takes a ToolContext"
                    if target.context_param is not None
                    else "it is not importable by module and name"
                    if sys.platform != "win32"
                    else "sandboxing is not supported on Windows"
                )
                ctx.result = f"Tool '{target.name}' refused: it must run sandboxed, but {reason}."
                ctx.is_error = True
                ctx.skip = True
            elif target.name not in self._warned:
                self._warned.add(target.name)
                _log.warning(
                    "Sandbox: tool %r cannot be sandboxed and runs in-process", target.name
                )
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


def _kill_everything(
    process: subprocess.Popen[bytes], uid: int | None, cgroup: _sandbox_os.Cgroup | None
) -> None:
    """Kill the child and all it started: its cgroup, every process of its uid, its process
    group; then reap it."""
    if cgroup is not None:
        cgroup.kill_all()
    if uid is not None:
        _sandbox_os.kill_uid(uid)
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait()


_NAMESPACES_OK: bool | None = None


def _probe_namespaces() -> bool:
    """Whether this process may create network and mount namespaces (checked once, in a
    throwaway child)."""
    global _NAMESPACES_OK
    if _NAMESPACES_OK is None:
        code = (
            "import os,sys\n"
            "from spine_middleware import _sandbox_os as o\n"
            "f=o.CLONE_NEWNS|o.CLONE_NEWNET\n"
            "u,g=os.getuid(),os.getgid()\n"
            "o.unshare(f if os.geteuid()==0 else f|o.CLONE_NEWUSER)\n"
            "os.geteuid()==0 or o.map_own_ids(u,g)\n"
        )
        try:
            done = subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                timeout=30,
                check=False,
            )
            _NAMESPACES_OK = done.returncode == 0
        except (OSError, subprocess.SubprocessError):
            _NAMESPACES_OK = False
    return _NAMESPACES_OK


def _resolve(module: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


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
