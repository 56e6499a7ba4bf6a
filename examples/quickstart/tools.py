"""The repository analyst's tools: list files, count lines per language, search text and read
a file, all confined to one directory tree.

The root is `$SPINE_REPO_ROOT` (default: the working directory), read at each call. A path
that leaves the root (`..`, an absolute path elsewhere, a symlink pointing outside) is a tool
error the model sees; version-control, virtualenv and cache folders are skipped.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from spine_core import tool

SKIP_DIRS = {
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".spine",
    ".tox",
    "dist",
    "build",
    "site",
    ".hypothesis",
}
LANGUAGES = {
    ".py": "Python",
    ".pyi": "Python",
    ".md": "Markdown",
    ".rst": "reStructuredText",
    ".toml": "TOML",
    ".yaml": "YAML",
    ".yml": "YAML",
    ".json": "JSON",
    ".js": "JavaScript",
    ".ts": "TypeScript",
    ".tsx": "TypeScript",
    ".go": "Go",
    ".rs": "Rust",
    ".java": "Java",
    ".c": "C",
    ".h": "C",
    ".cpp": "C++",
    ".hpp": "C++",
    ".sh": "Shell",
    ".sql": "SQL",
    ".html": "HTML",
    ".css": "CSS",
    ".txt": "Text",
    ".cfg": "INI",
    ".ini": "INI",
}
MAX_FILE_BYTES = 1_000_000


def repo_root() -> Path:
    """The directory the tools may read: `$SPINE_REPO_ROOT`, else the working directory."""
    return Path(os.environ.get("SPINE_REPO_ROOT") or os.getcwd()).resolve()


def confine(path: str) -> Path:
    """`path` (relative to the root, or absolute) resolved with symlinks followed.

    Raises:
        ValueError: the resolved path is outside the root.
    """
    root = repo_root()
    target = (root / path).resolve()
    if not target.is_relative_to(root):
        raise ValueError(f"'{path}' is outside the repository root")
    return target


def _files(start: Path) -> Iterator[Path]:
    """Regular files under `start` that stay inside the root, in a stable order."""
    root = repo_root()
    if start.is_file():
        yield start
        return
    for folder, dirs, names in os.walk(start):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(names):
            file = Path(folder) / name
            if file.is_symlink() and not file.resolve().is_relative_to(root):
                continue
            if file.is_file():
                yield file


def _text(file: Path) -> str | None:
    """The file's text, or None for binary or very large files."""
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            return None
        data = file.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:4096]:
        return None
    return data.decode("utf-8", errors="replace")


def _rel(file: Path) -> str:
    return file.relative_to(repo_root()).as_posix()


@tool
def list_files(path: str = ".", pattern: str = "*", limit: int = 40) -> str:
    """List the files under a directory of the repository.

    Args:
        path: Directory relative to the repository root.
        pattern: Shell-style pattern the file name must match, e.g. "*.py".
        limit: Most paths to show.
    """
    start = confine(path)
    if not start.exists():
        raise ValueError(f"'{path}' does not exist")
    found = [_rel(f) for f in _files(start) if fnmatch.fnmatch(f.name, pattern)]
    shown = ", ".join(found[:limit])
    more = f", ... ({len(found) - limit} more)" if len(found) > limit else ""
    return f"{len(found)} files matching '{pattern}' under '{path}': {shown}{more}"


@tool
def count_lines(path: str = ".") -> str:
    """Count lines of text per language (by file extension) under a directory.

    Args:
        path: Directory relative to the repository root.
    """
    start = confine(path)
    if not start.exists():
        raise ValueError(f"'{path}' does not exist")
    lines: Counter[str] = Counter()
    files: Counter[str] = Counter()
    for file in _files(start):
        language = LANGUAGES.get(file.suffix.lower())
        text = _text(file) if language else None
        if language is None or text is None:
            continue
        lines[language] += text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        files[language] += 1
    if not lines:
        return f"no source files under '{path}'"
    parts = [f"{lang} {n:,} lines in {files[lang]} files" for lang, n in lines.most_common()]
    return f"{sum(lines.values()):,} lines under '{path}': " + "; ".join(parts)


@tool
def search_text(
    pattern: str = "def ", path: str = ".", regex: bool = False, max_results: int = 10
) -> str:
    """Search the text files under a directory for a string (or a regular expression).

    Args:
        pattern: Text to find (a Python regular expression when regex is true).
        path: Directory or file relative to the repository root.
        regex: Treat pattern as a regular expression.
        max_results: Most matching lines to show.
    """
    start = confine(path)
    if not start.exists():
        raise ValueError(f"'{path}' does not exist")
    matcher = re.compile(pattern if regex else re.escape(pattern))
    hits: list[str] = []
    total = 0
    per_file: Counter[str] = Counter()
    for file in _files(start):
        text = _text(file)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if matcher.search(line):
                total += 1
                per_file[_rel(file)] += 1
                if len(hits) < max_results:
                    hits.append(f"{_rel(file)}:{number}: {line.strip()[:120]}")
    if not total:
        return f"no matches for '{pattern}' under '{path}'"
    top = ", ".join(f"{name} ({n})" for name, n in per_file.most_common(3))
    head = f"{total} matches for '{pattern}' in {len(per_file)} files (most in {top})"
    return head + "\n" + "\n".join(hits)


@tool
def read_file(path: str = "README.md", start: int = 1, max_lines: int = 60) -> str:
    """Read lines of a text file in the repository, numbered.

    Args:
        path: File relative to the repository root.
        start: First line to show (1-based).
        max_lines: Most lines to show.
    """
    file = confine(path)
    if not file.is_file():
        raise ValueError(f"'{path}' is not a file")
    text = _text(file)
    if text is None:
        raise ValueError(f"'{path}' is binary or larger than {MAX_FILE_BYTES:,} bytes")
    lines = text.splitlines()
    first = max(start, 1)
    chosen = lines[first - 1 : first - 1 + max_lines]
    end = first + len(chosen) - 1
    body = "\n".join(f"{first + i:>5}| {line}" for i, line in enumerate(chosen))
    return f"{_rel(file)} (lines {first}-{end} of {len(lines)}):\n{body}"


TOOLS = [list_files, count_lines, search_text, read_file]
"""Every tool of the analyst, in the order the spec lists them."""
