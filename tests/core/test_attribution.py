"""The balance-window rule on its own: when a drop can be pinned on one job, and when it cannot."""

from __future__ import annotations

import pytest

from phaya_notebook.core.attribution import MoneyTimeline


def test_one_job_in_its_window_gets_the_whole_drop_minus_known_calls() -> None:
    t = MoneyTimeline()
    t.reading(0.0, 1.0, 100.0)
    t.open("a", 2.0)
    t.call(3.0, 3.5, 0.25)  # a chat call with a known price, inside the window
    t.close("a", 5.0)
    t.reading(6.0, 6.5, 87.75)
    att = t.attribute("a")
    assert att.amount == pytest.approx(12.0) and "minus 0.25" in att.note


def test_ambiguity_is_said_in_words() -> None:
    t = MoneyTimeline()
    assert t.attribute("x").amount is None and "did not run" in t.attribute("x").note
    t.open("a", 2.0)
    assert "end was not seen" in t.attribute("a").note
    t.close("a", 5.0)
    assert "no balance reading before" in t.attribute("a").note
    t.reading(0.0, 1.0, 100.0)
    assert "no balance reading after" in t.attribute("a").note
    t.reading(6.0, 6.5, 90.0)
    t.open("b", 3.0)  # a second job, still running, in the same window
    assert t.attribute("a").amount is None and "job b" in t.attribute("a").note
    t.close("b", 5.5)
    assert "unknown charge" in t.attribute("a").note
    t.known("b", 4.0)  # the history named b: a is what is left
    assert t.attribute("a").amount == pytest.approx(6.0)
    t.open("c", 0.5)  # began before the window opened: overlaps, cannot be split
    t.close("c", 2.5)
    t.known("c", 1.0)
    assert "overlapped" in t.attribute("a").note


def test_spans_are_bounded() -> None:
    t = MoneyTimeline(keep=10)
    for i in range(50):
        t.call(float(i), float(i) + 0.5, 0.001)
    assert len(t._spans) == 10


async def test_a_burst_of_submits_reads_the_balance_before_it_once() -> None:
    # every request counts against the key's 60/min: the reading that opens the first balance
    # window is shared by the whole burst, not one /user/credits per job
    import asyncio

    import httpx

    from .test_client_mock import client as mock_client

    seen: list[str] = []

    async def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.url.path)
        if req.url.path.endswith("/user/credits"):
            await asyncio.sleep(0.05)  # slow enough that the whole burst is waiting on it
            return httpx.Response(200, json={"credits_balance": 100.0})
        if req.method == "POST":
            return httpx.Response(200, json={"job_id": f"j{len(seen)}", "status": "processing"})
        return httpx.Response(200, json={"status": "PROCESSING"})

    c = mock_client(handler)
    c.timeline.enabled = True
    jobs = await asyncio.gather(*(c.submit("text-to-image", prompt=f"p{i}") for i in range(6)))
    assert len(jobs) == 6 and sum(p.endswith("/generate") for p in seen) == 6
    assert sum(p.endswith("/user/credits") for p in seen) == 1, seen
    assert c.timeline.has_reading_before(10**12)
    await c.aclose()
