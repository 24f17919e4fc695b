"""The request budget's arithmetic, priorities and Retry-After pauses (no server)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from phaya_notebook.core.budget import RequestBudget, budget_for


def _without_waiting(coro: Any) -> Any:
    """Run a coroutine that must finish without ever suspending (no sleep, no wait); its value."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise AssertionError("it waited")


async def test_window_limits_and_remaining() -> None:
    b = RequestBudget(5, time_scale=60.0)  # 5 per ~1 s
    assert b.remaining == 5
    t0 = time.monotonic()
    for _ in range(5):  # free slots are granted at once: exact, however loaded the machine is
        assert _without_waiting(b.acquire()) is not None
    assert b.remaining == 0
    with pytest.raises(AssertionError, match="it waited"):
        _without_waiting(b.acquire())  # the sixth would have to wait (its waiter is withdrawn)
    assert b.waiting == 0 and b.granted == 5
    await b.acquire()  # the sixth waits for the window to slide
    assert time.monotonic() - t0 >= 1.0
    assert b.granted == 6


async def test_interactive_and_earlier_priority_go_first() -> None:
    b = RequestBudget(1, time_scale=120.0)  # 1 per ~0.55 s
    await b.acquire()
    order: list[str] = []

    async def take(name: str, prio: float, background: bool) -> None:
        await b.acquire(prio, background=background)
        order.append(name)

    tasks = [asyncio.create_task(take("bg-late", 9.0, True)),
             asyncio.create_task(take("bg-early", 1.0, True)),
             asyncio.create_task(take("watched", 5.0, False))]
    await asyncio.gather(*tasks)
    assert order == ["watched", "bg-early", "bg-late"]


async def test_pause_stops_everyone() -> None:
    b = RequestBudget(100, time_scale=1.0)
    b.pause(0.4)
    assert b.remaining == 0
    t0 = time.monotonic()
    await asyncio.gather(b.acquire(), b.acquire())
    assert time.monotonic() - t0 >= 0.39
    assert b.rate_limited == 1


async def test_cancelled_waiter_does_not_take_a_slot() -> None:
    b = RequestBudget(1, time_scale=120.0)
    await b.acquire()
    t = asyncio.create_task(b.acquire())
    await asyncio.sleep(0.05)
    t.cancel()
    await asyncio.sleep(0.7)
    assert b.remaining == 1


def test_one_budget_per_key_and_base() -> None:
    a = budget_for("http://x/api/v1", "k1")
    assert budget_for("http://x/api/v1/", "k1") is a
    assert budget_for("http://x/api/v1", "k2") is not a
