"""The guides' code runs: the ```python blocks of each docs/guides/*.md page, joined in page
order into one script, run offline (test providers) in a fresh folder. The guides check their
own claims with `assert`, so an outdated guide fails here. The blocks are also ruff-formatted
code, as the rest of the docs."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIDES = sorted((REPO / "docs" / "guides").glob("*.md"))
RUFF = REPO / ".venv" / "bin" / "ruff"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def _code(page: Path) -> str:
    return "\n\n".join(_BLOCK.findall(page.read_text(encoding="utf-8")))


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _needs_services(code: str) -> None:
    for scheme, port in (("redis://", 6379), ("postgresql://", 5432)):
        if scheme in code and not _answers(port):
            reason = f"the guide needs the local {scheme[:-3]} server on 127.0.0.1:{port}"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)


def test_there_are_guides() -> None:
    assert len(GUIDES) >= 8
    for page in GUIDES:
        assert _code(page).strip(), f"{page.name} has no ```python block"


@pytest.mark.parametrize("page", GUIDES, ids=lambda p: p.stem)
def test_a_guide_runs(page: Path, tmp_path: Path) -> None:
    code = _code(page)
    _needs_services(code)
    script = tmp_path / f"guide_{page.stem.replace('-', '_')}.py"
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
    env.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY"):
        env.pop(key, None)  # offline: a guide must not reach a real model
    done = subprocess.run(
        [sys.executable, script.name],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, f"{page.name}:\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("page", GUIDES, ids=lambda p: p.stem)
def test_a_guides_code_is_formatted(page: Path) -> None:
    if not RUFF.exists():
        pytest.skip("ruff is not installed in .venv (make setup)")
    for block in _BLOCK.findall(page.read_text(encoding="utf-8")):
        done = subprocess.run(
            [str(RUFF), "format", "--check", "--diff", "-"],
            input=block,
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=30,
        )
        assert done.returncode == 0, f"{page.name}: a block is not ruff-formatted:\n{done.stdout}"


@pytest.mark.parametrize("page", GUIDES, ids=lambda p: p.stem)
def test_a_guides_links_resolve(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", text):
        assert (page.parent / target).resolve().is_file(), f"{page.name}: broken link {target}"
