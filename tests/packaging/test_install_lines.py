"""Every `pip install` line in the READMEs and docs names a distribution this repository builds,
with extras it declares, and each package's README says how to install that package."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = sorted([REPO / "README.md", *REPO.glob("packages/*/README.md"), *REPO.glob("docs/**/*.md")])
# Third-party packages the docs tell people to install beside Spine.
THIRD_PARTY = {"opentelemetry-exporter-otlp-proto-http", "opentelemetry-sdk", "pytest"}
_REQ = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[([A-Za-z0-9_,.-]+)\])?$")


def _distributions() -> dict[str, set[str]]:
    """Name -> declared extras of every workspace package."""
    found: dict[str, set[str]] = {}
    for pyproject in REPO.glob("packages/*/pyproject.toml"):
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        found[project["name"]] = set(project.get("optional-dependencies", {}))
    return found


def _requirements(line: str) -> list[str]:
    found = []
    for match in re.finditer(r"pip install((?:[ \t]+(?:\"[^\"]+\"|'[^']+'|[^\s#`]+))+)", line):
        for token in match.group(1).split():
            token = token.strip("\"'`).,;")
            if token and not token.startswith("-"):
                found.append(token)
    return found


def _install_lines() -> list[tuple[str, int, str]]:
    lines = []
    for page in PAGES:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            for requirement in _requirements(line):
                lines.append((str(page.relative_to(REPO)), number, requirement))
    return lines


def test_the_pages_have_install_lines() -> None:
    pages = {page for page, _, _ in _install_lines()}
    assert "README.md" in pages
    assert {"packages/spine-core/README.md", "packages/spine/README.md"} <= pages


@pytest.mark.parametrize(
    ("page", "line", "requirement"),
    _install_lines(),
    ids=[f"{p}:{n}:{r}" for p, n, r in _install_lines()],
)
def test_an_install_line_names_a_real_distribution_and_extras(
    page: str, line: int, requirement: str
) -> None:
    match = _REQ.match(requirement)
    assert match is not None, f"{page}:{line}: cannot read `pip install {requirement}`"
    name, extras = match.group(1), match.group(2)
    if name in THIRD_PARTY:
        return
    known = _distributions()
    assert name in known, (
        f"{page}:{line}: `pip install {requirement}`: no distribution {name!r} here "
        f"(the umbrella is spine-agents; built: {', '.join(sorted(known))})"
    )
    missing = set((extras or "").split(",")) - {""} - known[name]
    assert not missing, f"{page}:{line}: {name} has no extra(s) {sorted(missing)}"


@pytest.mark.parametrize(
    "readme", sorted(REPO.glob("packages/*/README.md")), ids=lambda p: p.parent.name
)
def test_each_package_readme_says_how_to_install_it(readme: Path) -> None:
    pyproject = tomllib.loads((readme.parent / "pyproject.toml").read_text(encoding="utf-8"))
    name = pyproject["project"]["name"]
    named = {
        _REQ.match(r).group(1)  # type: ignore[union-attr]
        for r in _requirements(readme.read_text(encoding="utf-8"))
        if _REQ.match(r)
    }
    assert name in named, f"{readme.relative_to(REPO)} has no `pip install {name}` line"
