"""The process a `Sandbox` starts for one tool call: `python -I -m
spine_middleware._sandbox_child`, with a scrubbed environment, its own session and a JSON
request on stdin.

It joins the call's cgroup, isolates itself (network and mount namespaces), creates its
working directory, sets its resource limits, drops to the call's own unprivileged uid (when
started as root), imports and runs the tool, and writes one JSON outcome to the result file
descriptor: `{"status": "ok", "value": ...}`, `{"status": "error", "message": ...}`,
`{"status": "memory"}` or `{"status": "unavailable", "message": ...}`. Nothing is unpickled
on either side: a tool cannot send the agent code to run.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import math
import os
import resource
import sys
from pathlib import Path
from typing import Any

_HIDE = ["/tmp", "/var/tmp", "/dev/shm", "/run", "/var/run"]


def _report(fd: int, outcome: dict[str, Any]) -> None:
    data = json.dumps(outcome, ensure_ascii=False, default=str).encode()
    os.write(fd, data)


def _address_space_bytes() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * resource.getpagesize()


def _user_processes(uid: int) -> int:
    """Processes (threads included, as RLIMIT_NPROC counts them) owned by `uid` now."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(entry / "task"))
            except OSError:
                continue
    return count


def _limits(request: dict[str, Any], uid: int) -> None:
    cpu_s, memory_mb = request["max_cpu_s"], request["max_memory_mb"]
    if cpu_s is not None:  # counted from here: the interpreter's start-up is not charged
        used = resource.getrusage(resource.RUSAGE_SELF)
        seconds = math.ceil(used.ru_utime + used.ru_stime) + max(1, math.ceil(cpu_s))
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    if memory_mb is not None:
        limit = _address_space_bytes() + int(memory_mb * 1024 * 1024)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if request["max_processes"] is not None:
        # RLIMIT_NPROC counts every process (and thread) of the real user, this one
        # included: exact for a per-call uid; otherwise the user's other processes are
        # added to the allowance.
        base = 0 if request["uid"] is not None else _user_processes(uid) - 1
        cap = base + int(request["max_processes"])
        resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))
    if request["max_file_mb"] is not None:
        size = int(request["max_file_mb"] * 1024 * 1024)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _isolate(request: dict[str, Any], fd: int) -> str | None:
    """Namespaces, mounts and the working directory; returns the working directory, or None
    after reporting "unavailable" (a required isolation the kernel refused)."""
    from . import _sandbox_os as osx

    uid, gid = os.getuid(), os.getgid()
    target_uid = request["uid"] if request["uid"] is not None else uid
    flags = osx.CLONE_NEWNS | (0 if request["network"] else osx.CLONE_NEWNET)
    workdir = str(request["workdir"])
    try:
        if os.geteuid() == 0:
            osx.unshare(flags)
        else:
            osx.unshare(flags | osx.CLONE_NEWUSER)
            osx.map_own_ids(uid, gid)
        workdir = "/tmp/spine-sandbox"
        osx.make_private_mounts(
            hide=_HIDE, keep=request["keep_paths"], workdir=workdir, uid=target_uid
        )
    except OSError as exc:
        if request["strict"] and not request["network"]:
            _report(fd, {"status": "unavailable", "message": f"no network namespace: {exc}"})
            return None
        workdir = str(request["workdir"])  # the parent's temporary directory
        if os.geteuid() == 0 and request["uid"] is not None:
            os.chown(workdir, target_uid, target_uid)
    return workdir


def _drop_privileges(uid: int | None) -> None:
    if uid is None or os.geteuid() != 0:
        return
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def _resolve(request: dict[str, Any]) -> Any:
    sys.path[:] = request["sys_path"]
    target: Any = importlib.import_module(request["module"])
    for part in request["qualname"].split("."):
        target = getattr(target, part)
    return target


def _call(target: Any, arguments: dict[str, Any]) -> Any:
    func, kwargs = target, dict(arguments)
    from spine_core import Tool

    if isinstance(target, Tool):  # a @tool function: validate as the parent did
        func, kwargs = target.func, target.validate(kwargs)
    value = func(**kwargs)
    if inspect.isawaitable(value):

        async def wait() -> Any:
            return await value

        value = asyncio.run(wait())
    return value


def main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    fd = int(request["result_fd"])
    for procs in request["cgroup_procs"]:  # before any tool code can fork
        Path(procs).write_text(str(os.getpid()))
    workdir = _isolate(request, fd)
    if workdir is None:
        os._exit(0)
    os.chdir(workdir)
    os.environ["HOME"] = os.environ["TMPDIR"] = workdir
    _drop_privileges(request["uid"])
    from . import _sandbox_os as osx

    osx.no_new_privs()
    osx.parent_death_signal()
    try:
        target = _resolve(request)  # module-level code runs unprivileged, before the limits
        _limits(request, os.getuid())
        value = _call(target, request["arguments"])
        try:
            outcome = {"status": "ok", "value": json.loads(json.dumps(value, allow_nan=False))}
        except (TypeError, ValueError):
            from spine_core import tool_output_text

            outcome = {"status": "ok", "value": tool_output_text(value)}
    except MemoryError:
        outcome = {"status": "memory"}
    except BaseException as exc:
        outcome = {"status": "error", "message": f"{type(exc).__name__}: {exc}"}
    _report(fd, outcome)
    os._exit(0)


if __name__ == "__main__":
    main()
