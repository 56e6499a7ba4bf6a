"""`SpecError`: a bad agent spec, reported as one line naming file, line, key path and problem."""

from __future__ import annotations

from spine_core import SpineError

__all__ = ["SpecError", "format_path"]


def format_path(path: tuple[str | int, ...]) -> str:
    """A key path as users write it: `("tools", 0, "python")` -> `tools[0].python`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


class SpecError(SpineError):
    """An agent spec that cannot be loaded or built.

    `str(error)` is the one-line report `FILE:LINE: KEY.PATH: problem` (line and key path are
    left out when unknown).

    Attributes:
        file: The spec file, as the user named it.
        line: 1-based line number of the offending key or value, or None.
        path: Key path inside the spec, e.g. `("middleware", 0, "retry")`.
        problem: What is wrong, in one sentence.
    """

    def __init__(
        self, file: str, problem: str, *, line: int | None = None, path: tuple[str | int, ...] = ()
    ) -> None:
        self.file = file
        self.line = line
        self.path = path
        self.problem = " ".join(problem.split())
        where = file if line is None else f"{file}:{line}"
        key = format_path(path)
        super().__init__(f"{where}: {key}: {self.problem}" if key else f"{where}: {self.problem}")
