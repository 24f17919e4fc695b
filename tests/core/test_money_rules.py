"""The session budget's arithmetic, exactly: reserve, refuse, settle, release (no server).

Small and fast on purpose: these are the tests the mutation run (scripts/mutation.sh)
leans on to tell a broken money rule from a working one.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from phaya_notebook.core.client import AsyncPhaya
from phaya_notebook.core.errors import BudgetExceeded


def client(**kw: Any) -> AsyncPhaya:
    return AsyncPhaya("sk-money-rules-0000", "http://127.0.0.1:9/api/v1", time_scale=1.0, **kw)


def test_reserve_up_to_the_cap_exactly_then_refuse() -> None:
    c = client(max_credits=3.0)
    c._reserve(1.0)
    c._reserve(2.0)  # exactly at the cap: allowed
    assert c.committed_credits == 3.0
    with pytest.raises(BudgetExceeded) as ei:
        c._reserve(0.01)
    err = ei.value
    assert err.estimate == 0.01 and err.remaining == 0.0
    assert str(err) == ("this job (~0.01 credits) would exceed the session budget max_credits=3 (0 left)")
    assert c.committed_credits == 3.0  # a refusal reserves nothing


def test_refusal_says_what_is_left_and_how_chat_can_fit() -> None:
    c = client(max_credits=5.0)
    c._reserve(1.5)
    with pytest.raises(BudgetExceeded) as ei:
        c._reserve(4.0, what="chat call")
    assert ei.value.remaining == 3.5 and ei.value.estimate == 4.0
    assert str(ei.value) == ("this chat call (up to 4 credits) would exceed the session budget max_credits=5 "
                             "(3.5 left); a smaller max_tokens lowers that")


def test_no_cap_never_refuses_and_unreserve_stops_at_zero() -> None:
    c = client()
    c._reserve(1e6)
    assert c.committed_credits == 1e6
    c._unreserve(4e5)
    assert c.committed_credits == 6e5
    c._unreserve(1e7)
    assert c.committed_credits == 0.0


def test_settle_lowers_the_reservation_to_the_charge_only() -> None:
    c = client()
    c._reserve(5.0)
    job: Any = SimpleNamespace(charged=3.0, _reserved=5.0)
    c._settle(job)
    assert c.committed_credits == 3.0 and job._reserved == 3.0
    c._settle(job)  # settling twice changes nothing
    assert c.committed_credits == 3.0
    dear: Any = SimpleNamespace(charged=9.0, _reserved=3.0)  # charged above the estimate: kept
    c._settle(dear)
    assert c.committed_credits == 3.0 and dear._reserved == 3.0
    unknown: Any = SimpleNamespace(charged=None, _reserved=3.0)
    c._settle(unknown)
    assert c.committed_credits == 3.0 and unknown._reserved == 3.0
    free: Any = SimpleNamespace(charged=0.0, _reserved=3.0)  # charged nothing: all of it back
    c._settle(free)
    assert c.committed_credits == 0.0 and free._reserved == 0.0


def test_release_gives_back_the_whole_reservation_once() -> None:
    c = client()
    c._reserve(4.0)
    job: Any = SimpleNamespace(_reserved=2.5)
    c._release(job)
    assert c.committed_credits == 1.5 and job._reserved == 0.0
    c._release(job)
    assert c.committed_credits == 1.5


def test_a_job_without_a_reservation_settles_and_releases_nothing() -> None:
    c = client()
    c._reserve(2.0)
    bare: Any = SimpleNamespace(charged=0.5)  # e.g. a job object that never reserved
    c._settle(bare)
    c._release(bare)
    assert c.committed_credits == 2.0 and bare._reserved == 0.0


def test_a_pause_lasts_what_retry_after_says_and_never_less_than_nothing() -> None:
    from phaya_notebook.core.budget import RequestBudget

    b = RequestBudget(60)
    b.pause(-5.0)
    assert b.paused_for == 0.0 and b.rate_limited == 1
    b.pause(0.2)
    assert 0.0 < b.paused_for <= 0.2
    b.pause(0.05)  # a shorter pause never cuts a longer one short
    assert b.paused_for > 0.05 and b.rate_limited == 3


# ------------------------------------------------------------------ finding a lost create
# A create that failed ambiguously is looked up before anything is sent again; picking
# the wrong job, or none, means a lost result or a second charge. Mock servers here, so
# each odd listing shape, old entry and foreign entry is exact.

_NEW, _OLD = "2099-01-01T00:00:00Z", "2000-01-01T00:00:00Z"


def _mock(history_path: str, listing: dict[str, Any], posts: list[str], looks: list[dict[str, str]]) -> AsyncPhaya:
    import httpx

    from .test_client_mock import client as mock_client

    def handler(req: httpx.Request) -> httpx.Response:
        if req.method == "POST":
            posts.append(req.url.path)
            return httpx.Response(502, text="bad gateway")  # answered: the handler may have run
        if req.url.path.endswith(history_path):
            looks.append(dict(req.url.params))
            return httpx.Response(200, json=listing)
        return httpx.Response(200, json={"status": "PROCESSING"})

    return mock_client(handler)


@pytest.mark.parametrize("key", ["jobs", "history", "data"])
async def test_history_lookup_finds_only_the_new_unknown_job_with_this_prompt(key: str) -> None:
    posts: list[str] = []
    looks: list[dict[str, str]] = []
    c = _mock("/text-to-image/history", {key: [
        {"prompt": "a cat", "status": "PENDING", "created_at": _NEW},                  # no id
        {"job_id": "stale", "prompt": "a cat", "status": "COMPLETED", "created_at": _OLD},
        {"job_id": "dog", "prompt": "a dog", "status": "PENDING", "created_at": _NEW},
        {"job_id": "wide", "prompt": "a cat", "aspect_ratio": "16:9", "created_at": _NEW},
        {"job_id": "mine", "prompt": "a cat", "aspect_ratio": "1:1", "status": "PENDING", "created_at": _NEW},
    ]}, posts, looks)
    job = await c.submit("text-to-image", prompt="a cat", aspect_ratio="1:1")
    assert job.id == "mine" and posts == ["/api/v1/text-to-image/generate"] and c.stats["reconciled"] == 1
    assert looks == [{"limit": "50"}]
    await c.aclose()


@pytest.mark.parametrize("key", ["transactions", "history", "data"])
async def test_ledger_lookup_finds_only_the_new_charge_of_this_service(key: str) -> None:
    posts: list[str] = []
    looks: list[dict[str, str]] = []
    c = _mock("/user/credits/history", {key: [
        {"amount": 2.0, "kind": "refund", "service": "nano-banana", "job_id": "back", "created_at": _NEW},
        {"amount": -8.0, "kind": "charge", "service": "sora2-text-to-video", "job_id": "sora", "created_at": _NEW},
        {"amount": -2.0, "kind": "charge", "service": "nano-banana", "created_at": _NEW},          # no id
        {"amount": -2.0, "kind": "charge", "service": "nano-banana", "job_id": "old", "created_at": _OLD},
        {"amount": -2.0, "kind": "charge", "service": "nano-banana", "job_id": "mine", "created_at": _NEW},
    ]}, posts, looks)
    job = await c.submit("nano-banana", prompt="a banana")
    assert job.id == "mine" and job.charged == 2.0 and posts == ["/api/v1/nano-banana/create"]
    assert looks == [{"limit": "50"}]
    await c.aclose()
