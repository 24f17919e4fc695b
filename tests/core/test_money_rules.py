"""The session budget's arithmetic, exactly: reserve, refuse, settle, release (no server).

Small and fast on purpose: these are the tests the mutation run (scripts/mutation.sh)
leans on to tell a broken money rule from a working one.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from phaya_notebook.core.client import AsyncPhaya
from phaya_notebook.core.errors import AmbiguousCreate, BudgetExceeded
from phaya_notebook.core.money import Reservation


def client(**kw: Any) -> AsyncPhaya:
    return AsyncPhaya("sk-money-rules-0000", "http://127.0.0.1:9/api/v1", time_scale=1.0, **kw)


def test_reserve_up_to_the_cap_exactly_then_refuse() -> None:
    c = client(max_credits=3.0)
    c.ledger.reserve(1.0)
    c.ledger.reserve(2.0)  # exactly at the cap: allowed
    assert c.committed_credits == 3.0
    with pytest.raises(BudgetExceeded) as ei:
        c.ledger.reserve(0.01)
    err = ei.value
    assert err.estimate == 0.01 and err.remaining == 0.0
    assert str(err) == ("this job (~0.01 credits) would exceed the session budget max_credits=3 (0 left)")
    assert c.committed_credits == 3.0  # a refusal reserves nothing


def test_refusal_says_what_is_left_and_how_chat_can_fit() -> None:
    c = client(max_credits=5.0)
    c.ledger.reserve(1.5)
    with pytest.raises(BudgetExceeded) as ei:
        c.ledger.reserve(4.0, what="chat call")
    assert ei.value.remaining == 3.5 and ei.value.estimate == 4.0
    assert str(ei.value) == ("this chat call (up to 4 credits) would exceed the session budget max_credits=5 "
                             "(3.5 left); a smaller max_tokens lowers that")


def test_no_cap_never_refuses_and_unreserve_stops_at_zero() -> None:
    c = client()
    c.ledger.reserve(1e6)
    assert c.committed_credits == 1e6
    c.ledger.unreserve(4e5)
    assert c.committed_credits == 6e5
    c.ledger.unreserve(1e7)
    assert c.committed_credits == 0.0


class _Job:
    """A stand-in job (the ledger keys reservations by the job, weakly: SimpleNamespace cannot be)."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


def _job(c: AsyncPhaya, charged: float | None, reserved: float | None = None, estimate: float = 5.0) -> Any:
    job = _Job(charged=charged, estimate=SimpleNamespace(credits=estimate))
    if reserved is not None:
        c.ledger.attach(job, Reservation(reserved))
    return job


def test_settle_lowers_the_reservation_to_the_charge_only() -> None:
    c = client()
    c.ledger.reserve(5.0)
    job = _job(c, 3.0, 5.0)
    c.ledger.settle(job)
    assert c.committed_credits == 3.0 and c.ledger.reserved(job) == 3.0
    c.ledger.settle(job)  # settling twice changes nothing
    assert c.committed_credits == 3.0
    dear = _job(c, 9.0, 3.0)  # charged above the estimate: kept
    c.ledger.settle(dear)
    assert c.committed_credits == 3.0 and c.ledger.reserved(dear) == 3.0
    unknown = _job(c, None, 3.0)
    c.ledger.settle(unknown)
    assert c.committed_credits == 3.0 and c.ledger.reserved(unknown) == 3.0
    zero = _job(c, 0.0, 3.0)  # "charged 0" for a priced job is not believed: stays reserved
    c.ledger.settle(zero)
    assert c.committed_credits == 3.0 and c.ledger.reserved(zero) == 3.0
    cheap = _job(c, 0.5, 3.0, estimate=3.0)  # a smaller real charge: the rest comes back
    c.ledger.settle(cheap)
    assert c.committed_credits == 0.5 and c.ledger.reserved(cheap) == 0.5


def test_release_gives_back_the_whole_reservation_once() -> None:
    c = client()
    c.ledger.reserve(4.0)
    job: Any = _Job()
    c.ledger.attach(job, Reservation(2.5))
    c.ledger.release(job)
    assert c.committed_credits == 1.5 and c.ledger.reserved(job) == 0.0
    c.ledger.release(job)
    assert c.committed_credits == 1.5


def test_a_job_without_a_reservation_settles_and_releases_nothing() -> None:
    c = client()
    c.ledger.reserve(2.0)
    bare = _job(c, 0.5)  # e.g. a job object that never reserved
    c.ledger.settle(bare)
    c.ledger.release(bare)
    assert c.committed_credits == 2.0 and c.ledger.reserved(bare) == 0.0


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


async def test_try_acquire_takes_a_free_slot_only_when_nobody_waits() -> None:
    import asyncio

    from phaya_notebook.core.budget import RequestBudget

    b = RequestBudget(2, time_scale=600.0)  # 2 per ~0.15 s
    assert b.try_acquire() and b.granted == 1 and b.remaining == 1
    assert b.try_acquire() and b.granted == 2 and b.remaining == 0
    assert not b.try_acquire() and b.granted == 2  # full: no slot, nothing counted
    waiter = asyncio.ensure_future(b.acquire())
    await asyncio.sleep(0)
    assert b.waiting == 1
    await asyncio.sleep(b.window + 0.02)  # a slot frees, but the queued waiter comes first
    await asyncio.wait_for(waiter, 2)
    assert b.granted == 3
    b.pause(10.0)
    await asyncio.sleep(b.window + 0.02)
    assert not b.try_acquire() and b.granted == 3  # paused by a Retry-After: no slot either


class Server:
    """A scripted mock server: each POST gets the next planned answer; GETs by path suffix."""

    def __init__(self, posts: list[Any], gets: dict[str, Any] | None = None):
        self.plan = list(posts)
        self.gets = gets or {}
        self.seen: list[tuple[str, str]] = []

    def client(self, **kw: Any) -> AsyncPhaya:
        import httpx

        from .test_client_mock import client as mock_client

        async def handler(req: httpx.Request) -> httpx.Response:
            self.seen.append((req.method, req.url.path))
            if req.method == "POST":
                if req.url.path.endswith("/media/upload"):
                    return httpx.Response(200, json={"url": "https://store.test/up.png"})
                answer = self.plan.pop(0) if self.plan else {"job_id": "unplanned"}
                if isinstance(answer, tuple):  # (delay, answer)
                    import asyncio

                    await asyncio.sleep(answer[0])
                    answer = answer[1]
                if isinstance(answer, BaseException):
                    raise answer
                return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)
            for suffix, data in self.gets.items():
                if req.url.path.endswith(suffix):
                    if isinstance(data, httpx.Response):
                        return data
                    return httpx.Response(200, json=data() if callable(data) else data)
            return httpx.Response(200, json={"status": "PROCESSING"})

        return mock_client(handler, **kw)

    def count(self, method: str, suffix: str) -> int:
        return sum(1 for m, p in self.seen if m == method and p.endswith(suffix))


def _now() -> str:
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def _bad_gateway() -> Any:
    import httpx

    return httpx.Response(502, text="bad gateway")


async def test_a_timed_out_create_with_nothing_found_is_never_resent() -> None:
    # the planted bug of issue 10 (dropping the timeout exclusion), on a mock server
    import httpx

    srv = Server([httpx.ReadTimeout("timed out"), {"job_id": "second"}], {"/text-to-image/history": {"jobs": []}})
    c = srv.client()
    with pytest.raises(AmbiguousCreate, match="NOT sent again") as ei:
        await c.submit("text-to-image", prompt="a cat")
    assert srv.count("POST", "/text-to-image/generate") == 1 and srv.count("GET", "/text-to-image/history") == 2
    assert ei.value.service == "text-to-image" and ei.value.sent_at is not None
    assert c.committed_credits == 0 and c.job_requests.inflight == {"text-to-image": 0}
    await c.aclose()


async def test_two_candidates_are_never_guessed_between() -> None:
    import httpx

    both = {"jobs": [{"job_id": "a", "prompt": "a cat", "created_at": _NEW},
                     {"job_id": "b", "prompt": "a cat", "created_at": _NEW}]}
    srv = Server([httpx.ReadTimeout("timed out")], {"/text-to-image/history": both})
    c = srv.client()
    with pytest.raises(AmbiguousCreate):
        await c.submit("text-to-image", prompt="a cat")
    assert srv.count("POST", "/text-to-image/generate") == 1 and c.jobs == []
    await c.aclose()


@pytest.mark.parametrize("history", ["two candidates", "lookup fails"])
async def test_an_answered_failure_is_resent_only_when_the_lookup_proves_no_job(history: str) -> None:
    # a 5xx answer, then a lookup that proves nothing (two jobs with this prompt, one of which
    # may be ours, or a failed history request): sending again could charge twice
    import httpx

    both = {"jobs": [{"job_id": "a", "prompt": "a cat", "created_at": _NEW},
                     {"job_id": "b", "prompt": "a cat", "created_at": _NEW}]}
    gets = {"/text-to-image/history": both if history == "two candidates" else httpx.Response(500, text="down")}
    srv = Server([_bad_gateway(), {"job_id": "second"}], gets)
    c = srv.client()
    with pytest.raises(AmbiguousCreate, match="NOT sent again"):
        await c.submit("text-to-image", prompt="a cat")
    assert srv.count("POST", "/text-to-image/generate") == 1 and c.jobs == [] and c.committed_credits == 0
    await c.aclose()


async def test_a_server_that_keeps_failing_gets_three_creates_then_a_clear_error() -> None:
    old = {"jobs": [{"job_id": "yesterday", "prompt": "a cat", "created_at": _OLD}]}
    srv = Server([_bad_gateway(), _bad_gateway(), _bad_gateway(), {"job_id": "never"}],
                 {"/text-to-image/history": old})
    c = srv.client()
    with pytest.raises(AmbiguousCreate) as ei:
        await c.submit("text-to-image", prompt="a cat")
    assert str(ei.value) == ("create text-to-image: the server kept failing; nothing was charged (checked); "
                             "try again later")
    assert ei.value.service == "text-to-image" and ei.value.sent_at is not None
    assert srv.count("POST", "/text-to-image/generate") == 3 and c.committed_credits == 0
    await c.aclose()


@pytest.mark.parametrize("answer,match", [([{"job_id": "x"}], "expected an object, got list"),
                                          ({"status": "ok"}, "the answer has no job id")])
async def test_a_create_answer_without_a_job_is_an_error_and_frees_the_reservation(answer: Any,
                                                                                  match: str) -> None:
    from phaya_notebook.core.errors import ServerError

    srv = Server([answer])
    c = srv.client()
    with pytest.raises(ServerError, match=f"^create text-to-image: {match}$"):
        await c.submit("text-to-image", prompt="a cat")
    assert c.committed_credits == 0 and c.job_requests.inflight == {"text-to-image": 0}
    await c.aclose()


async def test_a_lost_create_is_looked_up_after_the_other_creates_in_flight_finish() -> None:
    # Two creates of one prompt at once: the first fails ambiguously while the second is
    # still on its way. Only once the second's id is known can the history tell them apart.
    import asyncio

    history = {"jobs": [{"job_id": "b", "prompt": "a cat", "created_at": _NEW},
                        {"job_id": "a", "prompt": "a cat", "created_at": _NEW}]}
    srv = Server([(0.4, {"job_id": "b", "status": "PENDING"}), _bad_gateway()], {"/text-to-image/history": history})
    c = srv.client()
    one, two = await asyncio.gather(c.submit("text-to-image", prompt="a cat"),
                                    c.submit("text-to-image", prompt="a cat"))
    assert {one.id, two.id} == {"a", "b"} and srv.count("POST", "/text-to-image/generate") == 2
    assert c.stats["reconciled"] == 1 and c.job_requests.inflight == {"text-to-image": 0}
    await c.aclose()


async def test_a_sub_credit_service_is_found_in_the_ledger_and_a_list_history_is_not_used() -> None:
    ledger = {"transactions": [{"amount": -0.5, "kind": "charge", "service": "image-to-video", "job_id": "v",
                                "created_at": _now()},
                               {"amount": -0.5, "kind": "charge", "service": "sora2-character", "job_id": "ch",
                                "created_at": _now()}]}
    srv = Server([_bad_gateway(), _bad_gateway()], {"/user/credits/history": ledger})
    c = srv.client()
    video = await c.submit("image-to-video", image_url="https://x.test/a.png")
    assert video.id == "v" and video.charged == 0.5
    char = await c.submit("sora2-character", character_file_url="https://x.test/a.mp4")
    assert char.id == "ch" and srv.count("GET", "/sora2-character/list") == 0
    assert srv.count("POST", "/create") == 2
    await c.aclose()


async def test_ledger_entries_without_kind_or_amount_are_charges_of_nothing_known() -> None:
    ledger = {"transactions": [{"service": "nano-banana", "job_id": "mine", "created_at": _now()}]}
    srv = Server([_bad_gateway()], {"/user/credits/history": ledger})
    c = srv.client()
    job = await c.submit("nano-banana", prompt="a banana")
    assert job.id == "mine" and job.charged == 0.0
    await c.aclose()


async def test_history_entries_without_a_prompt_match_any_prompt() -> None:
    srv = Server([_bad_gateway()], {"/text-to-image/history": {"jobs": [{"job_id": "bare", "created_at": _now()}]}})
    c = srv.client()
    job = await c.submit("text-to-image", prompt="a cat")
    assert job.id == "bare"
    await c.aclose()


async def test_submit_builds_the_job_it_reserved_for() -> None:
    srv = Server([{"job_id": "j1", "status": "PROCESSING", "credits_charged": 1},
                  {"job_id": "j2", "status": "COMPLETED"}])
    c = srv.client()
    events: list[tuple[str, Any]] = []
    c.add_listener(lambda e: events.append((e.kind, e.job)))
    job = await c.submit("text-to-image", prompt="a cat", tags=("t1",))
    assert events == [("created", job)]
    assert job.raw_status == "PROCESSING" and job.charged == 1.0 and job.tags == ("t1",)
    assert job.watched is False and job.estimate.credits == 1.0 and c.ledger.reserved(job) == 1.0
    assert c.committed_credits == 1.0
    c.ledger.release(job)
    assert c.committed_credits == 0.0
    # a job found already finished still starts as not done: its result comes from a poll
    done = await c.submit("text-to-image", prompt="a dog", watch=True)
    assert done.raw_status == "PENDING" and not done.done and done.watched is True
    await c.aclose()


async def test_the_price_and_balance_checks_at_their_edges() -> None:
    from phaya_notebook.core.errors import ConfirmationRequired, InsufficientCredits

    balance = {"value": 1.0}
    srv = Server([{"job_id": "j1"}, {"job_id": "j2"}],
                 {"/user/credits": lambda: {"credits_balance": balance["value"]}})
    c = srv.client(confirm_above=1.0)
    job = await c.submit("text-to-image", prompt="costs exactly confirm_above")  # no confirm needed
    assert job.id == "j1" and srv.count("GET", "/user/credits") == 1  # but the balance was checked
    with pytest.raises(ConfirmationRequired, match=r"^seedream costs about 1\.5 credits \("):
        await c.submit("seedream", prompt="costs 1.5")
    c2 = srv.client(confirm_above=1.0)
    balance["value"] = 0.99
    with pytest.raises(InsufficientCredits):
        await c2.submit("text-to-image", prompt="one credit, 0.99 left")
    assert srv.count("POST", "/generate") == 1
    await c.aclose()
    await c2.aclose()


async def test_a_local_file_is_uploaded_and_its_url_sent(tmp_path: Any) -> None:
    pic = tmp_path / "cat.png"
    pic.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    srv = Server([{"job_id": "v"}])
    c = srv.client()
    job = await c.submit("image-to-video", image_url=pic)
    assert job.params["image_url"] == "https://store.test/up.png" and srv.count("POST", "/media/upload") == 1
    await c.aclose()


def test_the_budget_window_counts_from_the_answer_and_forgets_only_expired_slots() -> None:
    import time

    from phaya_notebook.core.budget import RequestBudget

    b = RequestBudget(2)
    sent = time.monotonic() - 5.0
    cell = [sent]
    b.settle(cell)  # the answer came now: the slot counts from now
    assert cell[0] >= sent + 5.0
    b.settle(None)  # an unbudgeted request: nothing to settle
    now = time.monotonic()
    b._sent = [[now - b.window - 1.0], [now]]  # one slot expired, one fresh
    assert b.remaining == 1 and len(b._sent) == 1


async def test_a_plain_acquire_is_interactive_and_first_in_line() -> None:
    import asyncio

    from phaya_notebook.core.budget import RequestBudget

    b = RequestBudget(1, time_scale=120.0)  # 1 per ~0.55 s
    await b.acquire()
    order: list[str] = []

    async def take(name: str, **kw: Any) -> None:
        await b.acquire(**kw)
        order.append(name)

    tasks = [asyncio.ensure_future(take("background", priority=-1.0, background=True)),
             asyncio.ensure_future(take("later", priority=0.5)),
             asyncio.ensure_future(take("plain"))]
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert order == ["plain", "later", "background"]


async def test_a_create_answer_with_a_status_that_is_not_text_starts_the_job_as_new() -> None:
    srv = Server([{"job_id": "j", "status": 3}])
    c = srv.client()
    job = await c.submit("text-to-image", prompt="a cat")
    assert job.raw_status == "PENDING"
    await c.aclose()


async def test_the_charge_a_create_answer_reports_is_kept_under_either_name() -> None:
    srv = Server([{"job_id": "used", "credits_used": 2}, {"job_id": "charged", "credits_charged": 3}])
    c = srv.client()
    assert (await c.submit("text-to-image", prompt="a cat")).charged == 2.0
    assert (await c.submit("text-to-image", prompt="a dog")).charged == 3.0
    await c.aclose()
