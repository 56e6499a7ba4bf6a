"""Kernel overhead benchmark (run by `make bench`; not a test).

1. Per-step cost of the Spine loop against a hand-written minimal loop doing the same work:
   a provider that answers instantly asks for one trivial async tool per step for 10 steps,
   then answers. Target: Spine <= 3x the minimal loop. The figure deletes each session from
   the in-memory checkpoint store after its run (the minimal loop keeps nothing either);
   the line above it keeps every session, which adds the garbage collector's cost of a heap
   that grows with every stored message.
2. Cold `import spine_core` time: median of 9 fresh interpreters (bytecode compiled, as
   after `pip install`), minus bare interpreter
   start-up (`python -c pass`). Target: < 150 ms. Also checks that no provider SDK module is
   imported by `import spine_core`.

Usage: python bench/kernel.py [--runs N]
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import os
import pathlib
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio

import spine_core
from spine_core import Agent, Guards, Message, ModelResponse, ToolCall, Usage, tool

STEPS = 10  # tool-calling steps per run; each run makes STEPS + 1 model calls
SDK_MODULES = ("anthropic", "openai", "google.genai", "httpx2")


class InstantProvider:
    """Asks for `echo` on each of the first STEPS calls of a turn, then answers."""

    name = "instant"
    model = "instant"

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> ModelResponse:
        done = sum(1 for m in messages if m.role == "tool")
        if done < STEPS:
            call = ToolCall(id=f"c{done}", name="echo", arguments={"text": "hi"})
            message = Message.assistant(tool_calls=[call])
        else:
            message = Message.assistant("done")
        return ModelResponse(message=message, usage=Usage(input_tokens=1, output_tokens=1))


@tool
async def echo(text: str) -> str:
    """Echo the text."""
    return text


async def echo_plain(text: str) -> str:
    return text


async def spine_run(agent: Agent, *, keep: bool = True) -> None:
    result = await agent.run("go")
    assert result.ok and result.state.step == STEPS + 1, result.stopped_reason
    if not keep:
        await agent.checkpoint.delete(result.session_id)


async def minimal_run(provider: InstantProvider) -> None:
    """The least a loop can do: call the model, run the tool, append spine Messages."""
    messages = [Message.user("go")]
    schemas = [echo.schema]  # providers take tool declarations as dicts; built once per run
    while True:
        response = await provider.complete(messages, schemas)
        messages.append(response.message)
        if not response.message.tool_calls:
            break
        for call in response.message.tool_calls:
            output = await echo_plain(**call.arguments)
            messages.append(Message.tool(output, call.id, call.name))
    assert messages[-1].text == "done"


async def measure(runs: int, rounds: int = 5) -> tuple[float, float, float]:
    """Microseconds per step for (spine keeping sessions, spine, minimal).

    Each figure is the best of `rounds` interleaved rounds of `runs` runs (as `timeit`
    advises: the minimum is the run least disturbed by the rest of the machine).
    """
    provider = InstantProvider()
    steps = runs * (STEPS + 1)
    kept_agent = Agent(provider, tools=[echo], guards=Guards(max_steps=STEPS + 2))
    agent = Agent(provider, tools=[echo], guards=Guards(max_steps=STEPS + 2))
    for _ in range(20):  # warm-up
        await spine_run(agent, keep=False)
        await minimal_run(provider)

    async def timed(one: Callable[[], Awaitable[None]]) -> float:
        start = time.perf_counter()
        for _ in range(runs):
            await one()
        return (time.perf_counter() - start) / steps * 1e6

    kept, spine, minimal = [], [], []
    for _ in range(rounds):
        kept.append(await timed(lambda: spine_run(kept_agent, keep=True)))
        spine.append(await timed(lambda: spine_run(agent, keep=False)))
        minimal.append(await timed(lambda: minimal_run(provider)))
    return min(kept), min(spine), min(minimal)


def _installed_env() -> dict[str, str]:
    """The environment of an installed package: bytecode compiled and readable.

    `pip install` compiles bytecode; a workspace's editable sources and a venv synced with
    PYTHONDONTWRITEBYTECODE set have none, which would time the compiler instead of the import.
    """
    compileall.compile_dir(pathlib.Path(spine_core.__file__).parent, quiet=1)
    for name in ("pydantic", "pydantic_core", "anyio", "typing_extensions", "annotated_types"):
        module = importlib.import_module(name)
        compileall.compile_dir(pathlib.Path(str(module.__file__)).parent, quiet=1)
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _median_wall(code: str, env: dict[str, str], repeats: int = 9) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# The kernel's two dependencies, imported and a model class defined: the floor under spine_core.
DEPENDENCIES = "import anyio, pydantic\nclass M(pydantic.BaseModel):\n    x: int"


def import_cost_ms() -> tuple[float, float]:
    """(spine_core, its dependencies alone), each minus bare interpreter start-up, in ms."""
    env = _installed_env()
    bare = _median_wall("pass", env)
    loaded = _median_wall("import spine_core", env)
    floor = _median_wall(DEPENDENCIES, env)
    return (loaded - bare) * 1000, (floor - bare) * 1000


def sdk_modules_after_import() -> list[str]:
    code = (
        f"import sys, spine_core; print(','.join(m for m in {SDK_MODULES!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return [m for m in out.stdout.strip().split(",") if m]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    kept, spine, minimal = anyio.run(measure, args.runs)
    ratio = spine / minimal
    print(
        f"agent loop (best of 5 rounds of {args.runs} runs x {STEPS + 1} steps, "
        "1 tool call per step)"
    )
    print(f"  spine, every session kept in memory {kept:8.1f} us/step ({kept / minimal:.2f} x)")
    print(f"  spine        {spine:8.1f} us/step")
    print(f"  minimal loop {minimal:8.1f} us/step")
    print(f"  ratio        {ratio:8.2f} x   (target <= 3x)")

    cold, floor = import_cost_ms()
    print(f"import spine_core (cold, median of 9, minus bare start) {cold:6.1f} ms")
    print(f"  pydantic + anyio alone, for scale (same method)        {floor:6.1f} ms")
    print("  target < 150 ms")
    leaked = sdk_modules_after_import()
    print(f"provider SDK modules after import: {', '.join(leaked) or 'none'}")

    ok = ratio <= 3 and cold < 150 and not leaked
    print("PASS" if ok else "FAIL: a target was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
