"""Reading a spec file: YAML with the line of every key, and `${VAR}` environment expansion."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import SpecError

__all__ = ["Located", "expand_env", "read_yaml"]

KeyPath = tuple[str | int, ...]

MAX_VALUES = 100_000
"""Most values (scalars, mappings, lists) a spec may expand to, aliases included: bounds the
work an alias bomb (a few hundred bytes of nested `*alias` lists) can cause."""

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists a spec may use."""

_ENV = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(text: str, env: Mapping[str, str]) -> str:
    """Expand `${VAR}` and `${VAR:-default}` (default when VAR is unset or empty); `$${`
    stays a literal `${`.

    Raises:
        KeyError: a `${VAR}` without default names an unset variable (the name is the key).
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value:
            return value
        if default is not None:
            return default
        if value is not None:
            return value
        raise KeyError(name)

    return _ENV.sub(replace, text)


@dataclass(slots=True)
class Located:
    """Parsed spec data and the 1-based line of each key path in it."""

    file: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def error(self, path: KeyPath, problem: str) -> SpecError:
        """A `SpecError` at `path`."""
        return SpecError(self.file, problem, line=self.line_of(path), path=path)


def read_yaml(path: Path, *, label: str, env: Mapping[str, str] | None = None) -> Located:
    """Parse the YAML file at `path` into plain data, expanding environment variables in
    string values and recording the line of every key and list item.

    Args:
        path: The file to read.
        label: How error messages name the file.
        env: Variables for `${VAR}` expansion (default `os.environ`).

    Raises:
        SpecError: the file is missing or unreadable, is not valid YAML, is not a mapping, or
            uses an unset variable without a default.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(label, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(label, f"cannot read the file: {exc}") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(label, f"YAML syntax error: {problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise SpecError(label, f"YAML syntax error: {exc}") from None
    except RecursionError:
        raise SpecError(label, f"values nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
    located = Located(file=label, data=None)
    if node is None:
        raise SpecError(label, "the spec is empty (expected a mapping with at least `model`)")
    if not isinstance(node, yaml.MappingNode):
        raise SpecError(
            label, "the spec must be a mapping of keys (name, model, tools, ...)", line=1
        )
    walk = _Walk(located, os.environ if env is None else env)
    located.data = walk.convert(node, ())
    return located


@dataclass(slots=True)
class _Walk:
    """Converts composed YAML nodes to plain data, counting values (aliases expand to shared
    nodes, so a bomb is cheap to compose and exponential to convert) and refusing cycles."""

    located: Located
    env: Mapping[str, str]
    values: int = 0
    open: set[int] = field(default_factory=set)

    def convert(self, node: yaml.Node, path: KeyPath) -> Any:
        line = node.start_mark.line + 1
        self.values += 1
        if self.values > MAX_VALUES:
            raise SpecError(
                self.located.file,
                f"the spec expands to more than {MAX_VALUES:,} values through YAML aliases "
                "(an alias bomb?)",
                line=self.located.line_of(path[:1]),
                path=path[:1],
            )
        if id(node) in self.open:
            raise SpecError(
                self.located.file,
                f"recursive YAML alias: the value anchored at line {line} contains itself",
                line=self.located.line_of(path[:1]),
                path=path[:1],
            )
        if len(path) > MAX_DEPTH:
            raise self.located.error(path[:1], f"values nested deeper than {MAX_DEPTH} levels")
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            return _convert_scalar(node, path, line, self.located, self.env)
        self.open.add(id(node))
        try:
            return _convert_collection(self, node, path, line)
        finally:
            self.open.discard(id(node))


def _convert_collection(
    walk: _Walk, node: yaml.MappingNode | yaml.SequenceNode, path: KeyPath, line: int
) -> Any:
    located = walk.located
    located.lines.setdefault(path, line)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if not isinstance(key, str):
                raise located.error(path, f"keys must be strings, got {key!r}")
            child = (*path, key)
            located.lines[child] = key_node.start_mark.line + 1
            if key in out:
                raise SpecError(
                    located.file, f"duplicate key '{key}'", line=located.lines[child], path=child
                )
            out[key] = walk.convert(value_node, child)
        return out
    return [walk.convert(item, (*path, i)) for i, item in enumerate(node.value)]


def _convert_scalar(
    node: yaml.Node, path: KeyPath, line: int, located: Located, env: Mapping[str, str]
) -> Any:
    located.lines.setdefault(path, line)
    try:
        value = _scalar(node)
    except yaml.constructor.ConstructorError as exc:
        raise located.error(path, f"unsupported YAML value: {exc.problem}") from None
    if isinstance(value, str) and "$" in value:
        try:
            return expand_env(value, env)
        except KeyError as exc:
            raise SpecError(
                located.file,
                f"environment variable {exc.args[0]} is not set "
                f"(set it, or give a default: ${{{exc.args[0]}:-value}})",
                line=line,
                path=path,
            ) from None
    return value


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return node.value
    return _CONSTRUCTOR.construct_object(node, deep=True)
