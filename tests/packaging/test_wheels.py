"""The wheels install and run on their own: every package is built with `uv build` into a
temporary `dist/`, and the umbrella `spine-agents[all]` goes into a fresh venv from those wheels
only (`--no-index --find-links dist/`), after the third-party dependencies, pinned by uv.lock,
come from the registry. There `spine --help`, `spine plugins` (every entry point must import)
and the README quickstart run offline; `spine-core` alone runs the quickstart too."""

from __future__ import annotations

import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p.parent.name for p in (REPO / "packages").glob("*/pyproject.toml"))

pytestmark = pytest.mark.slow


def _uv() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    for python in (sys.executable, shutil.which("python3")):  # `make setup`'s pip installs
        probe = [python, "-m", "uv", "--version"] if python else []
        if probe and subprocess.run(probe, capture_output=True).returncode == 0:
            return probe[:3]
    if os.environ.get("CI") == "true":
        pytest.fail("uv is not installed (make setup installs it)")
    pytest.skip("uv is not installed (make setup installs it)")


def _clean_env() -> dict[str, str]:
    """The environment without the workspace venv, Python path overrides or SPINE_ settings."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("SPINE_")}
    env.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8", "COLUMNS": "200"})
    return env


def _run(*args: str | Path, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_clean_env(),
        timeout=timeout,
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of every workspace package, built by `uv build`."""
    out = tmp_path_factory.mktemp("packaging") / "dist"
    _run(*_uv(), "build", "--all-packages", "--wheel", "-q", "-o", out, cwd=REPO, timeout=120)
    return out


def _venv(dist: Path, name: str, package: str, requirement: str) -> Path:
    """A fresh venv with the third-party pins of `package` (uv.lock, from the registry), then
    `requirement` from `dist` only; returns its bin/ folder."""
    uv = _uv()
    root = dist.parent / name
    pins = root.with_suffix(".txt")
    _run(*uv, "venv", "-q", "--python", sys.executable, root, cwd=dist.parent)
    export = [*uv, "export", "--frozen", "--package", package, "--no-dev"]
    if "[" in requirement:
        export += [f"--extra={e}" for e in requirement.split("[")[1].rstrip("]").split(",")]
    export += ["--no-emit-workspace", "--no-hashes", "--no-header", "--no-annotate"]
    _run(*export, "-q", "-o", pins, cwd=REPO)
    python = root / "bin" / "python"
    if pins.read_text().strip():
        _run(*uv, "pip", "install", "-q", "--python", python, "-r", pins, cwd=dist.parent)
    offline = ["pip", "install", "-q", "--python", python, "--no-index", "--find-links", dist]
    _run(*uv, *offline, requirement, cwd=dist.parent)
    return root / "bin"


@pytest.fixture(scope="module")
def full(dist: Path) -> Iterator[Path]:
    yield _venv(dist, "venv-all", "spine-agents", "spine-agents[all]")


def _quickstart() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart in Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "README.md has no Quickstart in Python code block"
    return match.group(1)


def _metadata(dist: Path, name: str) -> email.message.Message:
    wheel = next(dist.glob(f"{name.replace('-', '_')}-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(meta).decode())


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower()


def test_every_package_builds_a_wheel(dist: Path) -> None:
    names = {_metadata(dist, "spine-agents")["Name"]}
    for package in PACKAGES:
        text = (REPO / "packages" / package / "pyproject.toml").read_text()
        project = re.search(r'^name = "([^"]+)"', text, re.M)
        assert project is not None
        names.add(_metadata(dist, project.group(1))["Name"])
    assert len(names) == len(PACKAGES)


def test_spine_core_requires_exactly_pydantic_and_anyio(dist: Path) -> None:
    meta = _metadata(dist, "spine-core")
    required = meta.get_all("Requires-Dist") or []
    plain = {_requirement_name(r) for r in required if "extra ==" not in r}
    assert plain == {"pydantic", "anyio"}
    # the conformance kits are pytest suites: pytest comes with the `testing` extra only
    assert {_requirement_name(r) for r in required if "extra ==" in r} == {"pytest"}
    assert meta.get_all("Provides-Extra") == ["testing"]


def test_spine_core_alone_runs_the_readme_quickstart(dist: Path) -> None:
    bin_dir = _venv(dist, "venv-core", "spine-core", "spine-core")
    script = dist.parent / "quickstart.py"
    script.write_text(_quickstart(), encoding="utf-8")
    names = _run(
        bin_dir / "python",
        "-c",
        "import importlib.metadata as m, json; "
        "print(json.dumps([d.metadata['Name'].lower() for d in m.distributions()]))",
        cwd=dist.parent,
    ).stdout
    installed = set(json.loads(names))
    assert "spine-core" in installed
    assert not {n for n in installed if n.startswith("spine-") and n != "spine-core"}
    assert not {"pytest", "rich", "pyyaml", "httpx", "typer"} & installed
    done = _run(bin_dir / "python", script, cwd=dist.parent)
    answer, stopped, tokens = done.stdout.rsplit(None, 2)
    assert stopped == "final" and int(tokens) > 0 and answer


def test_spine_help_lists_the_commands(full: Path) -> None:
    out = _run(full / "spine", "--help", cwd=full.parent).stdout
    for command in ("run", "chat", "eval", "plugins", "sessions", "trace", "serve"):
        assert re.search(rf"^  {command}\s", out, re.M), f"`spine --help` lacks {command}:\n{out}"


def test_every_plugin_entry_point_resolves(full: Path) -> None:
    listed = json.loads(_run(full / "spine", "plugins", "--json", cwd=full.parent).stdout)
    providers = {p["distribution"] for p in listed}
    assert {"spine-core", "spine-providers", "spine-middleware", "spine-backends"} <= providers
    assert {"spine-eval", "spine-otel"} <= providers
    check = (
        "import importlib.metadata as m, json, sys\n"
        "from spine_core.registry import GROUPS\n"
        "bad = []\n"
        "for group in GROUPS:\n"
        "    for ep in m.entry_points(group=group):\n"
        "        try:\n"
        "            ep.load()\n"
        "        except Exception as exc:\n"
        "            bad.append(f'{group}:{ep.name} -> {ep.value}: {exc!r}')\n"
        "print(json.dumps(bad))\n"
    )
    bad = json.loads(_run(full / "python", "-c", check, cwd=full.parent).stdout)
    assert bad == []
    installed_from = _run(
        full / "python", "-c", "import spine_core; print(spine_core.__file__)", cwd=full.parent
    ).stdout
    assert Path(installed_from.strip()).is_relative_to(full.parent)  # not the workspace


def test_the_readme_quickstart_runs_from_the_wheels(full: Path) -> None:
    script = full.parent / "quickstart.py"
    script.write_text(_quickstart(), encoding="utf-8")
    done = _run(full / "python", script, cwd=full.parent)
    answer, stopped, tokens = done.stdout.rsplit(None, 2)
    assert stopped == "final" and int(tokens) > 0 and answer
    spec = full.parent / "agent.yaml"
    spec.write_text("model: test\nsystem: You answer briefly.\n", encoding="utf-8")
    ran = _run(full / "spine", "run", spec, "hello", "--json", cwd=full.parent)
    assert json.loads(ran.stdout.strip().splitlines()[-1])
