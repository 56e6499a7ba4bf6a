"""LoopBound: one value per event loop, so clients survive repeated run_sync calls."""

from __future__ import annotations

import anyio
import pytest

from spine_core import LoopBound, current_loop


def test_a_value_is_remade_for_each_new_event_loop() -> None:
    made: list[object] = []

    def factory() -> object:
        made.append(object())
        return made[-1]

    bound: LoopBound[object] = LoopBound(factory)

    async def twice() -> tuple[object, object]:
        return bound.get(), bound.get()

    first = anyio.run(twice)
    second = anyio.run(twice)
    third = anyio.run(twice, backend="trio")

    assert first[0] is first[1]  # one value per loop
    assert len({id(first[0]), id(second[0]), id(third[0])}) == 3
    assert len(made) == 3


def test_current_loop_is_none_outside_a_loop() -> None:
    assert current_loop() is None


@pytest.mark.anyio
async def test_peek_and_take_never_create() -> None:
    bound: LoopBound[list[int]] = LoopBound(list)
    assert bound.peek() is None
    value = bound.get()
    assert bound.peek() is value
    assert bound.take() is value and bound.peek() is None
