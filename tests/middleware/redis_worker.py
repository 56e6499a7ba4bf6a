"""One worker process of the shared-state tests: an agent whose middleware keeps its state in a
real Redis (`RedisKeyValueStore`), run as `python redis_worker.py SCENARIO URL PREFIX ARG`.

Prints one JSON object on stdout with what the worker saw.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from spine_backends import RedisKeyValueStore
from spine_core import (
    Agent,
    FunctionProvider,
    Message,
    ModelResponse,
    ProviderError,
    ScriptedProvider,
    ToolCall,
    Usage,
    tool,
)
from spine_middleware import Cache, CircuitBreaker, Idempotency, RateLimit, TenantBudget

SIDE_EFFECTS = Path(sys.argv[4]) if len(sys.argv) > 4 else Path("/dev/null")


@tool
def send_email(to: str) -> str:
    """Send an e-mail (a side effect: one line per execution in the side-effect file).

    Args:
        to: Recipient.
    """
    with SIDE_EFFECTS.open("a") as handle:
        handle.write(f"sent to {to}\n")
    hold = SIDE_EFFECTS.with_suffix(".hold")
    while hold.exists():  # the test holds the call open (then kills or releases us)
        time.sleep(0.01)
    return f"sent to {to}"


def _ask_send() -> Message:
    return Message.assistant(
        tool_calls=[ToolCall(id="c1", name="send_email", arguments={"to": "ann@example.com"})]
    )


async def rate_limit(store: RedisKeyValueStore, calls: int) -> dict[str, Any]:
    times: list[float] = []

    def answer(messages: list[Message], tools: Any, settings: Any) -> str:
        times.append(time.time())
        return "ok"

    agent = Agent(FunctionProvider(answer), middleware=[RateLimit(10, 1.0, store=store)])
    for _ in range(calls):
        await agent.run("hi")
    return {"times": times}


async def tenant_budget(store: RedisKeyValueStore, runs: int) -> dict[str, Any]:
    called = 0

    def answer(messages: list[Message], tools: Any, settings: Any) -> ModelResponse:
        nonlocal called
        called += 1
        return ModelResponse(
            message=Message.assistant("ok"), usage=Usage(input_tokens=2, output_tokens=2)
        )

    budget = TenantBudget(max_tokens=10, store=store)
    agent = Agent(FunctionProvider(answer), middleware=[budget], tenant_id="acme")
    reasons = [(await agent.run("hi")).stopped_reason.value for _ in range(runs)]
    return {"called": called, "reasons": reasons}


async def idempotency(store: RedisKeyValueStore, wait_s: float) -> dict[str, Any]:
    provider = ScriptedProvider([_ask_send(), "done"])
    middleware = [Idempotency(store=store, tools=["send_email"], wait_s=wait_s)]
    result = await Agent(provider, tools=[send_email], middleware=middleware).run("mail ann")
    [reply] = [m for m in result.state.messages if m.role == "tool"]
    return {"result": reply.text, "is_error": reply.is_error}


async def cache(store: RedisKeyValueStore, _: Any) -> dict[str, Any]:
    provider = ScriptedProvider(["cached answer"])
    result = await Agent(provider, middleware=[Cache(store=store)]).run("same question")
    return {"answer": result.answer, "provider_calls": len(provider.calls)}


async def breaker(store: RedisKeyValueStore, healthy: str) -> dict[str, Any]:
    outcomes: list[Any] = (
        ["fine"] if healthy == "yes" else [ProviderError("down", kind="server")] * 3
    )
    provider = ScriptedProvider(outcomes, name="shared", model="m1")
    breaker = CircuitBreaker(threshold=2, cooldown_s=60, store=store, message="circuit open")
    agent = Agent(provider, middleware=[breaker])
    results = [await agent.run("hi") for _ in range(1 if healthy == "yes" else 3)]
    return {
        "errors": [r.error for r in results],
        "answers": [r.answer for r in results],
        "provider_calls": len(provider.calls),
    }


SCENARIOS = {
    "rate_limit": rate_limit,
    "tenant_budget": tenant_budget,
    "idempotency": idempotency,
    "cache": cache,
    "breaker": breaker,
}


async def main() -> None:
    scenario, url, prefix, _, arg = sys.argv[1:6]
    store = RedisKeyValueStore(url, prefix=prefix)
    try:
        value: Any = float(arg) if arg.replace(".", "", 1).isdigit() else arg
        if scenario in ("rate_limit", "tenant_budget"):
            value = int(value)
        print(json.dumps(await SCENARIOS[scenario](store, value)), flush=True)
    finally:
        await store.aclose()


if __name__ == "__main__":
    anyio.run(main)
