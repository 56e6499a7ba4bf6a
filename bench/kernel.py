"""Kernel overhead benchmark (run by `make bench`; not a test).

Every figure is measured in this one run, so ratios compare like with like on a busy machine.

1. Per-step cost of the Spine loop against a hand-written loop over plain dicts and `json`:
   a provider that answers instantly asks for one trivial async tool per step for 10 steps,
   then answers. The hand loop gets the same answers as OpenAI-style dicts (JSON-string
   arguments), decodes the arguments with `json`, appends dict messages and keeps nothing.
   Spine runs a default `Agent` (in-memory checkpoint store) with the tool declared
   read-only, so one checkpoint per step, and deletes each session after its run; the same
   with a side-effecting tool (two checkpoints per step) is printed beside it, and so is the
   hand loop over Spine's own types (`typed_run`: the same provider, arguments validated and
   results wrapped as Spine does, nothing else), the floor the reference's pydantic types set
   under any loop that keeps them. Best of 5 interleaved rounds. Target: <= 3x.
2. Retained memory per idle conversation in the default store (tracemalloc, 2,000 finished
   11-step conversations kept). Target: <= 10 KB.
3. Step cost deep into a long run: steps 10,010-10,210 of one run against steps 10-210 of a
   fresh run that alternates with it step by step over the same seconds (a provider whose
   cost does not grow with the history; each step's own time, the other run's excluded):
   median step, best of 3. Target: <= 1.2x.
4. `Agent.stream` overhead per token event: a streaming provider yields 2,000 text deltas;
   the time per delta through `Agent.stream` minus the time to iterate the provider alone.
   Target: <= 1.5 us.
5. 1,000 truly concurrent runs on one shared Agent (the provider awaits once per call): wall
   seconds and peak RSS.
6. Cold `import spine_core` time: median of 9 fresh interpreters (bytecode compiled, as after
   `pip install`), minus bare interpreter start-up. Target: <= 100 ms. Also checks that no
   provider SDK module is imported by `import spine_core`.

Usage: python bench/kernel.py [--runs N]
"""

from __future__ import annotations

import argparse
import compileall
import gc
import importlib
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import anyio

import spine_core
from spine_core import (
    Agent,
    ChunkType,
    Guards,
    Message,
    ModelResponse,
    StreamChunk,
    ToolCall,
    Usage,
    tool,
)

STEPS = 10  # tool-calling steps per run; each run makes STEPS + 1 model calls
SDK_MODULES = ("anthropic", "openai", "google.genai", "httpx2")
ECHO_SCHEMA = {
    "type": "function",
    "function": {
        "name": "echo",
        "description": "Echo the text.",
        "parameters": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
    },
}


class InstantProvider:
    """Asks for `echo` on each of the first `steps` calls of a turn, then answers.

    The step number comes from the history length (user turn, then assistant + tool pairs), so
    a call costs the same at step 10 and at step 10,000.
    """

    name = "instant"
    model = "instant"

    def __init__(self, steps: int = STEPS, *, yields: bool = False) -> None:
        self.steps = steps
        self.yields = yields

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> ModelResponse:
        if self.yields:
            await anyio.lowlevel.checkpoint()
        done = (len(messages) - 1) // 2
        if done < self.steps:
            call = ToolCall(id=f"c{done}", name="echo", arguments={"text": "hi"})
            message = Message.assistant(tool_calls=[call])
        else:
            message = Message.assistant("done")
        return ModelResponse(message=message, usage=Usage(input_tokens=1, output_tokens=1))


class DictProvider:
    """The same answers as `InstantProvider`, as OpenAI-style dicts."""

    async def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> dict[str, Any]:
        done = (len(messages) - 1) // 2
        if done < STEPS:
            call = {
                "id": f"c{done}",
                "type": "function",
                "function": {"name": "echo", "arguments": '{"text": "hi"}'},
            }
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
        else:
            message = {"role": "assistant", "content": "done"}
        return {"message": message, "usage": {"input_tokens": 1, "output_tokens": 1}}


@tool(read_only=True)
async def echo(text: str) -> str:
    """Echo the text."""
    return text


@tool(name="echo")
async def echo_effect(text: str) -> str:
    """Echo the text (declared with side effects: two checkpoints per step)."""
    return text


async def echo_plain(text: str) -> str:
    return text


async def spine_run(agent: Agent, keep: bool = True) -> None:
    result = await agent.run("go")
    assert result.ok and result.state.step == STEPS + 1, result.stopped_reason
    if not keep:
        await agent.checkpoint.delete(result.session_id)


async def hand_run(provider: DictProvider) -> None:
    """A hand-written loop: plain dict messages, `json` for the tool arguments and results."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "go"}]
    tools = [ECHO_SCHEMA]
    usage = {"input_tokens": 0, "output_tokens": 0}
    while True:
        reply = await provider.complete(messages, tools)
        for key, value in reply["usage"].items():
            usage[key] += value
        message = reply["message"]
        messages.append(message)
        calls = message.get("tool_calls")
        if not calls:
            break
        for call in calls:
            function = call["function"]
            output = await echo_plain(**json.loads(function["arguments"]))
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call["id"],
                    "name": function["name"],
                    "content": json.dumps(output),
                }
            )
    assert messages[-1]["content"] == "done"


async def typed_run(provider: InstantProvider) -> None:
    """The hand loop over Spine's own types: the provider's `ModelResponse`, each tool call's
    arguments validated by the pydantic model `@tool` built, results as `Message.tool`, usage
    banked in a `Usage`. No trace, no checkpoint, no guards, no middleware: what the
    reference's BaseModel types cost a step by themselves, the floor under any loop that
    keeps them."""
    messages = [Message.user("go")]
    usage = Usage()
    validate = echo.validate
    while True:
        reply = await provider.complete(messages)
        usage.add(reply.usage)
        message = reply.message
        messages.append(message)
        if not message.tool_calls:
            break
        for call in message.tool_calls:
            output = await echo_plain(**validate(call.arguments))
            messages.append(Message.tool(output, call.id, call.name))
    assert messages[-1].content == "done"


def _agent(provider: Any = None, steps: int = STEPS, *, effect: bool = False) -> Agent:
    return Agent(
        provider or InstantProvider(steps),
        tools=[echo_effect if effect else echo],
        guards=Guards(max_steps=steps + 2),
    )


async def step_cost(runs: int, rounds: int = 5) -> tuple[float, float, float, float, float]:
    """Microseconds per step for (spine keeping sessions, spine, spine with a side-effecting
    tool, hand loop, hand loop over Spine's types), each the best of `rounds` interleaved
    rounds of `runs` runs (the minimum is the round least disturbed by the rest of the
    machine, as `timeit` advises)."""
    hand_provider, typed_provider = DictProvider(), InstantProvider()
    steps = runs * (STEPS + 1)
    kept_agent, agent, effect_agent = _agent(), _agent(), _agent(effect=True)
    for _ in range(20):  # warm-up
        await spine_run(agent, keep=False)
        await spine_run(effect_agent, keep=False)
        await hand_run(hand_provider)
        await typed_run(typed_provider)

    async def timed(one: Callable[[], Awaitable[None]]) -> float:
        start = time.perf_counter()
        for _ in range(runs):
            await one()
        return (time.perf_counter() - start) / steps * 1e6

    kept, spine, effect, hand, typed = [], [], [], [], []
    for _ in range(rounds):
        kept.append(await timed(lambda: spine_run(kept_agent, keep=True)))
        spine.append(await timed(lambda: spine_run(agent, keep=False)))
        effect.append(await timed(lambda: spine_run(effect_agent, keep=False)))
        hand.append(await timed(lambda: hand_run(hand_provider)))
        typed.append(await timed(lambda: typed_run(typed_provider)))
    return min(kept), min(spine), min(effect), min(hand), min(typed)


async def idle_conversation_bytes(count: int = 2_000) -> float:
    """Bytes the default store retains per finished 11-step conversation."""
    agent = _agent()
    await spine_run(agent)  # imports, caches and schemas built before measuring
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(count):
        await spine_run(agent)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / count


class _Segmented:
    """Wraps a provider; each call first yields to the event loop, so two runs alternate
    step by step, and records its own step's span: `ends[i]` (before the yield of call i:
    the previous step's work is done) and `starts[i]` (after it). Step i's own cost is
    `ends[i + 1] - starts[i]`, the other run's step excluded."""

    def __init__(self, inner: InstantProvider, reached: int = -1) -> None:
        self.inner = inner
        self.name, self.model = inner.name, inner.model
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.reached = reached  # call number at which `at_depth` is set
        self.at_depth = anyio.Event()

    async def complete(
        self, messages: Sequence[Message], tools: Any = None, **settings: Any
    ) -> ModelResponse:
        self.ends.append(time.perf_counter())
        if len(self.ends) == self.reached:
            self.at_depth.set()
        await anyio.lowlevel.checkpoint()
        self.starts.append(time.perf_counter())
        return await self.inner.complete(messages, tools, **settings)

    def median_step_us(self, first: int, count: int) -> float:
        own = [self.ends[i + 1] - self.starts[i] for i in range(first, first + count)]
        return statistics.median(own) * 1e6


async def _run_once_set(event: anyio.Event, agent: Agent) -> None:
    await event.wait()
    await agent.run("go")


async def deep_step_ratio(
    depth: int = 10_000, window: int = 200, rounds: int = 3
) -> tuple[float, float]:
    """(us per step around step 10, us per step around step `depth`): median own step cost
    of a shallow run and of a run `depth` steps deep, the two alternating step by step over
    the same seconds (so the machine's drift hits both alike); best of `rounds`."""
    early = deep = float("inf")
    for _ in range(rounds):
        long = _Segmented(InstantProvider(depth + window + 20), reached=depth)
        short = _Segmented(InstantProvider(window + 20))
        agents = [
            Agent(p, tools=[echo], guards=Guards(max_steps=p.inner.steps + 5))
            for p in (long, short)
        ]

        async with anyio.create_task_group() as tg:
            tg.start_soon(agents[0].run, "go")
            tg.start_soon(_run_once_set, long.at_depth, agents[1])
        early = min(early, short.median_step_us(10, window))
        deep = min(deep, long.median_step_us(depth + 10, window))
    return early, deep


class TokenProvider:
    """Streams `tokens` one-character text deltas, then the final response."""

    name = "tokens"
    model = "tokens"

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens

    async def stream(
        self, messages: Sequence[Message], tools: Any = None, **settings: Any
    ) -> AsyncIterator[StreamChunk]:
        for _ in range(self.tokens):
            yield StreamChunk(delta="x")
        yield StreamChunk(
            type=ChunkType.RESPONSE,
            response=ModelResponse(message=Message.assistant("x" * self.tokens)),
        )


async def stream_overhead_us(tokens: int = 2_000, rounds: int = 7) -> tuple[float, float]:
    """(us per token through Agent.stream, us per token iterating the provider alone)."""
    provider = TokenProvider(tokens)
    agent = Agent(provider)

    async def through_agent() -> float:
        start = time.perf_counter()
        count = 0
        async for event in agent.stream("go"):
            count += event.type == "token"
        assert count == tokens
        return (time.perf_counter() - start) / tokens * 1e6

    async def alone() -> float:
        start = time.perf_counter()
        async for _chunk in provider.stream([Message.user("go")]):
            pass
        return (time.perf_counter() - start) / tokens * 1e6

    spine, bare = [], []
    for _ in range(rounds):
        spine.append(await through_agent())
        bare.append(await alone())
    return min(spine), min(bare)


async def concurrent_runs(count: int = 1_000) -> float:
    """Wall seconds for `count` runs started at once on one shared Agent."""
    agent = _agent(InstantProvider(yields=True))
    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(spine_run, agent, False)
    return time.perf_counter() - start


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


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(runs: int) -> dict[str, Any]:
    kept, spine, effect, hand, typed = await step_cost(runs)
    memory = await idle_conversation_bytes()
    early, deep = await deep_step_ratio()
    streamed, bare = await stream_overhead_us()
    rss_before = _peak_rss_mb()
    wall = await concurrent_runs()
    return {
        "kept": kept,
        "spine": spine,
        "effect": effect,
        "hand": hand,
        "typed": typed,
        "memory": memory,
        "early": early,
        "deep": deep,
        "streamed": streamed,
        "bare": bare,
        "wall": wall,
        "rss": _peak_rss_mb(),
        "rss_before": rss_before,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    f = anyio.run(measure, args.runs)
    ratio = f["spine"] / f["hand"]
    deep_ratio = f["deep"] / f["early"]
    token = f["streamed"] - f["bare"]
    print(f"agent loop (best of 5 interleaved rounds of {args.runs} runs x {STEPS + 1} steps)")
    print(f"  hand loop (dicts + json)   {f['hand']:8.2f} us/step   (baseline)")
    print(f"  spine                      {f['spine']:8.2f} us/step   {ratio:5.2f} x  (<= 3x)")
    print(
        f"  spine, side-effecting tool {f['effect']:8.2f} us/step"
        f"   {f['effect'] / f['hand']:5.2f} x  (two checkpoints per step)"
    )
    print(f"  spine, sessions kept       {f['kept']:8.2f} us/step   {f['kept'] / f['hand']:5.2f} x")
    print(
        f"  hand loop over Spine's types {f['typed']:6.2f} us/step"
        f"   {f['typed'] / f['hand']:5.2f} x  (the reference's BaseModel types alone)"
    )
    print(f"retained per idle conversation (default store)  {f['memory'] / 1024:6.1f} KB (<= 10)")
    print(
        f"step 10,000 against step 10, interleaved  {f['deep']:6.2f} / {f['early']:6.2f} us"
        f" = {deep_ratio:4.2f} x  (<= 1.2x; median own step)"
    )
    print(
        f"Agent.stream per token event  {f['streamed']:5.2f} us - provider alone"
        f" {f['bare']:5.2f} us = {token:5.2f} us overhead  (<= 1.5)"
    )
    print(
        f"1,000 concurrent runs on one Agent  {f['wall']:5.2f} s wall, peak RSS"
        f" {f['rss']:6.1f} MB (before: {f['rss_before']:6.1f} MB)"
    )
    cold, floor = import_cost_ms()
    print(f"import spine_core (cold, median of 9, minus bare start) {cold:6.1f} ms  (<= 100)")
    print(f"  pydantic + anyio alone, for scale (same method)        {floor:6.1f} ms")
    leaked = sdk_modules_after_import()
    print(f"provider SDK modules after import: {', '.join(leaked) or 'none'}")

    ok = (
        ratio <= 3
        and f["memory"] <= 10 * 1024
        and deep_ratio <= 1.2
        and token <= 1.5
        and cold <= 100
        and not leaked
    )
    print("PASS" if ok else "FAIL: a target was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
