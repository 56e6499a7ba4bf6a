"""Operating-system pieces of the `Sandbox`: Linux namespaces and mounts through libc (ctypes),
cgroups for whole-tree limits, and killing every process of a sandbox.

Sources: unshare(2), mount(2), mount_namespaces(7), user_namespaces(7), prctl(2)
(PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG), setrlimit(2), the kernel's cgroup v1 `pids` and
`memory` controller documentation and cgroup v2 (Documentation/admin-guide/cgroup-v2.rst).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

__all__ = [
    "CLONE_NEWNET",
    "CLONE_NEWNS",
    "CLONE_NEWUSER",
    "Cgroup",
    "kill_uid",
    "make_private_mounts",
    "no_new_privs",
    "parent_death_signal",
    "unshare",
]

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
_MS_RDONLY = 0x1
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18
_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
_O_PATH = getattr(os, "O_PATH", 0o10000000)

_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    """unshare(2) the given namespaces for this process.

    Raises:
        OSError: the kernel refused (no privilege, user namespaces disabled, ...).
    """
    _check(_c().unshare(ctypes.c_int(flags)), "unshare")


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    _check(
        _c().mount(
            None if source is None else source.encode(),
            target.encode(),
            None if fstype is None else fstype.encode(),
            ctypes.c_ulong(flags),
            None if data is None else data.encode(),
        ),
        f"mount {target}",
    )


def map_own_ids(uid: int, gid: int) -> None:
    """In a fresh user namespace, map our uid / gid to themselves (user_namespaces(7))."""
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def _blocked_ancestor(path: str) -> str | None:
    """The outermost directory on the way to `path` that other users cannot traverse."""
    current = Path("/")
    for part in Path(path).parts[1:]:
        current = current / part
        try:
            mode = current.stat().st_mode
        except OSError:
            return None
        if current.is_dir() and not mode & 0o001 and str(current) != path:
            return str(current)
    return None


def make_private_mounts(*, hide: list[str], keep: list[str], workdir: str, uid: int) -> None:
    """In a new mount namespace: stop mount propagation, put an empty tmpfs over each
    directory in `hide` and over every directory on the way to a `keep` path that other
    users cannot traverse (e.g. /root, mode 0700), bind the `keep` paths (the interpreter,
    its libraries, the tool's module) back in place, and create `workdir` (on the tmpfs of
    /tmp) owned by `uid`, mode 0700.

    Raises:
        OSError: a mount failed.
    """
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)
    keep = sorted({os.path.realpath(p) for p in keep if os.path.exists(p)})
    keep = [p for p in keep if not any(p != q and p.startswith(q + "/") for q in keep)]
    covers = {os.path.realpath(h) for h in hide if os.path.isdir(h) and not os.path.islink(h)}
    covers |= {b for p in keep if (b := _blocked_ancestor(p)) is not None}
    covers = {c for c in covers if not any(c != d and c.startswith(d + "/") for d in covers)}
    hidden = [p for p in keep if any(p == c or p.startswith(c + "/") for c in covers)]
    handles = {p: os.open(p, _O_PATH) for p in hidden}
    try:
        for cover in sorted(covers):
            _mount("tmpfs", cover, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=64m")
        for path, fd in handles.items():
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.makedirs(path, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                Path(path).touch()
            _mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC, None)
    finally:
        for fd in handles.values():
            os.close(fd)
    os.makedirs(workdir, mode=0o700, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(workdir, uid, uid)


def no_new_privs() -> None:
    """prctl(PR_SET_NO_NEW_PRIVS): set-user-ID programs (su, sudo) cannot raise privileges."""
    _check(_c().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def parent_death_signal() -> None:
    """prctl(PR_SET_PDEATHSIG, SIGKILL): die with the process that started us."""
    _check(_c().prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0), "prctl(PDEATHSIG)")


def kill_uid(uid: int) -> None:
    """SIGKILL every process of `uid` (a helper switches to `uid` and calls kill(-1)), which
    also reaches processes that left the sandbox's process group or session. Only for a uid
    used by nothing else (the sandbox allocates one per call); needs root."""
    code = f"import os,signal;os.setgid({uid});os.setuid({uid});os.kill(-1,signal.SIGKILL)"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [sys.executable, "-I", "-S", "-c", code],
            env={},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )


class Cgroup:
    """One sandbox call's cgroup: `pids.max` = `max_processes` and a memory limit over the
    whole process tree. cgroup v2 (unified) or v1 (`pids` and `memory` hierarchies), under
    this process's own cgroup; None from `create` when cgroups are not writable here.

    Attributes:
        procs: The `cgroup.procs` files the child writes its pid into.
    """

    def __init__(self, dirs: dict[str, Path]) -> None:
        self.dirs = dirs
        self.procs = [str(d / "cgroup.procs") for d in dict.fromkeys(dirs.values())]

    @staticmethod
    def _own(controller: str) -> Path | None:
        try:
            lines = Path("/proc/self/cgroup").read_text().splitlines()
        except OSError:
            return None
        for line in lines:
            _, names, path = line.split(":", 2)
            if controller in names.split(","):
                root = Path("/sys/fs/cgroup") / controller
                return root / path.lstrip("/") if root.is_dir() else None
        return None

    @classmethod
    def create(cls, max_processes: int | None, memory_bytes: int | None) -> Cgroup | None:
        """A fresh cgroup with the limits set, or None when this cannot be done here."""
        if sys.platform != "linux" or os.geteuid() != 0:
            return None
        name = f"spine-sandbox-{uuid.uuid4().hex[:12]}"
        made: dict[str, Path] = {}
        try:
            unified = Path("/sys/fs/cgroup/cgroup.controllers")
            if unified.is_file():  # cgroup v2
                here = Path("/proc/self/cgroup").read_text().strip().split("::", 1)[-1]
                parent = Path("/sys/fs/cgroup") / here.lstrip("/")
                wanted = {"pids", "memory"} - set(
                    (parent / "cgroup.subtree_control").read_text().split()
                )
                if wanted:
                    return None
                group = parent / name
                group.mkdir()
                made = {"pids": group, "memory": group}
                if max_processes is not None:
                    (group / "pids.max").write_text(str(max_processes))
                if memory_bytes is not None:
                    (group / "memory.max").write_text(str(memory_bytes))
                    with contextlib.suppress(OSError):  # absent without swap accounting
                        (group / "memory.swap.max").write_text("0")
            else:  # cgroup v1
                for controller in ("pids", "memory"):
                    base = cls._own(controller)
                    if base is None:
                        raise OSError(f"no cgroup v1 {controller} hierarchy")
                    (base / name).mkdir()
                    made[controller] = base / name
                if max_processes is not None:
                    (made["pids"] / "pids.max").write_text(str(max_processes))
                if memory_bytes is not None:
                    (made["memory"] / "memory.limit_in_bytes").write_text(str(memory_bytes))
        except OSError:
            Cgroup(made).remove()
            return None
        return cls(made)

    def pids(self) -> set[int]:
        found: set[int] = set()
        for procs in self.procs:
            with contextlib.suppress(OSError, ValueError):
                found |= {int(p) for p in Path(procs).read_text().split()}
        return found

    def oom_killed(self) -> bool:
        """Whether the memory limit killed a process of the group."""
        group = self.dirs.get("memory")
        if group is None:
            return False
        with contextlib.suppress(OSError, ValueError):
            events = (group / "memory.events").read_text()  # v2
            return any(
                line.split()[0] == "oom_kill" and int(line.split()[1]) > 0
                for line in events.splitlines()
            )
        with contextlib.suppress(OSError, ValueError):
            return int((group / "memory.failcnt").read_text()) > 0  # v1
        return False

    def kill_all(self) -> None:
        """SIGKILL every process in the group, until it is empty (`pids.max` bounds how many
        a fork loop can add meanwhile)."""
        for _ in range(100):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        for group in dict.fromkeys(self.dirs.values()):
            for _ in range(50):
                try:
                    group.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # still has (dying) processes
                    self.kill_all()
                    os.sched_yield()
