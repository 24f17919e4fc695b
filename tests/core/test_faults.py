"""Faults injected by the sandbox are survived: no job lost, no double charge."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from phaya_notebook import catalog
from phaya_notebook.core.errors import AmbiguousCreate, InvalidParams, JobFailed, JobTimeout, PhayaError

from .conftest import SECRET


async def charges_by_job(c: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for t in await c.credits_history(limit=500):
        if t.get("job_id"):
            out[t["job_id"]] = out.get(t["job_id"], 0.0) - t["amount"]
    return out


async def charge_count(c: Any, service: str) -> int:
    return sum(1 for t in await c.credits_history(limit=500) if t["service"] == service and t["kind"] == "charge")


async def charged_jobs(c: Any, service: str) -> set[str]:
    """Ids of the jobs of ``service`` the sandbox charged for (its ledger, not our bookkeeping)."""
    return {t["job_id"] for t in await c.credits_history(limit=500)
            if t["service"] == service and t["kind"] == "charge"}


def posts(admin: Any, path: str) -> int:
    """Create POSTs the sandbox received on ``path`` (e.g. "/text-to-image/generate") for SECRET."""
    return admin.paths_of(SECRET).get(f"/api/v1{path}", 0)


@pytest.mark.parametrize("kind,service,params", [
    ("500", "text-to-image", {"prompt": "fault 500 image"}),       # history lookup, then resent
    ("503", "sora2-text-to-video", {"prompt": "fault 503 sora"}),  # credits-ledger lookup, then resent
    ("malformed", "text-to-music", {"prompt": "fault malformed music"}),
    ("drop", "text-to-speech", {"prompt": "fault drop speech"}),
    ("drop", "seedance-video", {"prompt": "fault drop seedance", "resolution": "480p", "duration": "4"}),
    ("429", "nano-banana", {"prompt": "fault 429 banana"}),
])
async def test_create_faults_make_exactly_one_charged_job(make_client: Any, admin: Any, kind: str,
                                                          service: str, params: dict[str, Any]) -> None:
    c = make_client()
    before = await charge_count(c, service)
    balance0 = await c.credits()
    create = catalog.SERVICES[service].create_path
    p0 = posts(admin, create)
    admin.fault(kind, 1, paths=f"/{service}/")
    res = await c.generate(service, **params)
    assert res.path is not None and res.path.exists()
    assert await charge_count(c, service) == before + 1
    # the faulted POST never reached the service (the gate answered for it): exactly one resend
    assert posts(admin, create) - p0 == 2
    job = c.jobs[-1]
    assert await c.credits() == pytest.approx(balance0 - (job.charged or 0.0))
    await c.aclose()


async def test_create_that_times_out_is_looked_up_and_never_resent(make_client: Any, admin: Any) -> None:
    # The sandbox's "slow" fault acts on the request at once and only holds the answer back
    # (like a slow real server), so a timed-out create has landed and been charged: the
    # client must find it in the history and use it, never send it again.
    c = make_client(http_timeout=1.0)  # the answer comes 4 s later: no race even on a starved loop
    before = await charge_count(c, "text-to-image")
    p0 = admin.paths_of(SECRET)
    admin.fault("slow", 1, paths="/text-to-image/generate", seconds=5.0)
    job = await c.submit("text-to-image", prompt="slow create, looked up")
    assert c.stats["reconciled"] == 1
    p1 = admin.paths_of(SECRET)
    assert p1.get("/api/v1/text-to-image/generate", 0) - p0.get("/api/v1/text-to-image/generate", 0) == 1
    assert p1.get("/api/v1/text-to-image/history", 0) - p0.get("/api/v1/text-to-image/history", 0) >= 1
    result = await job.wait()
    assert result.urls and result.job_id == job.id
    assert await charge_count(c, "text-to-image") == before + 1  # exactly one charge
    await c.aclose()


async def test_a_timed_out_create_is_told_apart_from_a_known_job_with_the_same_prompt(make_client: Any,
                                                                                      admin: Any) -> None:
    c = make_client(http_timeout=2.0)  # an unfaulted create answers well within it, even under load
    p0 = posts(admin, "/text-to-image/generate")
    first = await c.submit("text-to-image", prompt="the same prompt twice")
    admin.fault("slow", 1, paths="/text-to-image/generate", seconds=6.0)
    second = await c.submit("text-to-image", prompt="the same prompt twice")
    # the history shows both; the one this client already knows is not the one it lost
    assert c.stats["reconciled"] == 1 and second.id != first.id
    assert posts(admin, "/text-to-image/generate") - p0 == 2
    await asyncio.gather(first.wait(), second.wait())
    await c.aclose()


async def test_create_that_cannot_be_reconciled_is_not_resent(make_client: Any, admin: Any) -> None:
    c = make_client(http_timeout=1.0)
    before = await charged_jobs(c, "seedream")
    p0 = posts(admin, "/seedream/create")
    admin.fault("slow", 1, paths="/seedream/create", seconds=5.0)
    with pytest.raises(AmbiguousCreate, match="NOT sent again") as ei:
        await c.submit("seedream", prompt="slow seedream")
    assert "seedream" in str(ei.value)
    assert posts(admin, "/seedream/create") - p0 == 1  # sent once, never again
    assert c.committed_credits == 0
    # the create did land (a slow answer, not a lost request): seedream charges on completion,
    # and the sandbox charges that one job exactly once
    new: set[str] = set()
    for _ in range(100):
        new = await charged_jobs(c, "seedream") - before
        if new:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert len(await charged_jobs(c, "seedream") - before) == len(new) == 1
    assert posts(admin, "/seedream/create") - p0 == 1
    await c.aclose()


@pytest.mark.parametrize("service,lookup", [
    ("text-to-image", "/text-to-image/history"),  # looked up in the service's history
    ("nano-banana", "/user/credits/history"),     # looked up in the credits ledger
])
async def test_create_that_timed_out_and_cannot_be_looked_up_is_charged_once_never_resent(
        make_client: Any, admin: Any, service: str, lookup: str) -> None:
    # The create lands and is charged (the "slow" fault only holds the answer back), the
    # client times out, and every lookup fails: nothing proves the job absent, so it must
    # raise AmbiguousCreate rather than send (and pay for) the create a second time.
    c = make_client(http_timeout=1.0)
    create = catalog.SERVICES[service].create_path
    before = await charged_jobs(c, service)
    balance0 = await c.credits()
    p0 = posts(admin, create)
    admin.fault("slow", 1, paths=create, seconds=5.0)
    admin.fault("500", 1000, paths=lookup)
    with pytest.raises(AmbiguousCreate, match="NOT sent again"):
        await c.submit(service, prompt=f"timed out, lookup down: {service}")
    assert posts(admin, create) - p0 == 1
    assert admin.paths_of(SECRET).get(f"/api/v1{lookup}", 0) >= 1  # it did try to look
    assert c.committed_credits == 0
    admin.clear()
    new = await charged_jobs(c, service) - before
    price = catalog.SERVICES[service].min_price
    assert len(new) == 1 and await c.credits() == pytest.approx(balance0 - price)
    assert posts(admin, create) - p0 == 1
    await c.aclose()


async def test_polls_survive_5xx_malformed_drops_and_429_storms(make_client: Any, admin: Any) -> None:
    c = make_client()
    jobs = [await c.submit("text-to-image", prompt=f"poll storm {i}") for i in range(4)]
    admin.fault("500", 3, paths="/status/")
    admin.fault("malformed", 2, paths="/status/")
    admin.fault("drop", 2, paths="/status/")
    admin.fault("503", 2, paths="/status/")
    admin.fault("429", 6, paths="/api/v1/")
    results = await asyncio.gather(*(j.wait() for j in jobs))
    assert all(r.path and r.path.exists() for r in results)
    assert c.stats["rate_limited"] >= 1
    charges = await charges_by_job(c)
    assert all(charges[j.id] == pytest.approx(1.0) for j in jobs)
    await c.aclose()


async def test_slow_status_answers(make_client: Any) -> None:
    c = make_client()
    res = await c.generate("text-to-speech", prompt="[slow] take your time")
    assert res.path and res.path.exists()
    await c.aclose()


async def test_failed_job_is_refunded_and_says_so(make_client: Any) -> None:
    c = make_client(max_credits=50)
    balance0 = await c.credits()
    with pytest.raises(JobFailed) as ei:
        await c.generate("sora2-text-to-video", prompt="[fail] this one breaks")
    err = ei.value
    assert err.refunded and err.error and "refunded" in str(err) and err.job is not None
    assert await c.credits() == pytest.approx(balance0)
    assert c.committed_credits == 0  # the session budget got its reservation back
    hist = [t for t in await c.credits_history(limit=50) if t["job_id"] == err.job.id]
    assert sorted(t["kind"] for t in hist) == ["charge", "refund"]
    await c.aclose()


async def test_stuck_job_times_out_resumes_and_cancels(make_client: Any) -> None:
    c = make_client()
    balance0 = await c.credits()
    job = await c.submit("sora2-text-to-video", prompt="[stuck] forever")
    seen: list[float] = []
    with pytest.raises(JobTimeout) as ei:
        await job.wait(timeout=2.2, on_progress=lambda j: seen.append(j.progress))
    assert len(seen) >= 2 and seen == sorted(seen) and 0 < seen[-1] <= 0.99  # ticks between polls
    assert ei.value.job is job and job.id in str(ei.value) and "client.job(" in str(ei.value)
    # a second client (e.g. after a kernel restart) re-attaches by id
    c2 = make_client()
    again = await c2.job("sora2-text-to-video", job.id)
    assert again.id == job.id and again.status == "processing"
    assert await again.cancel() is True
    assert again.status == "cancelled" and again.refunded
    with pytest.raises(JobFailed, match="cancelled"):
        await again.wait()
    assert await c.credits() == pytest.approx(balance0)
    with pytest.raises(PhayaError, match="cannot be cancelled"):
        await (await c.submit("text-to-image", prompt="x")).cancel()
    await c.aclose()
    await c2.aclose()


async def test_validation_failures_send_no_request(make_client: Any, admin: Any) -> None:
    c = make_client()
    await c.credits()
    before = admin.requests_of(SECRET)
    bad = [("text-to-image", {"prompt": "x", "aspect_ratio": "7:3"}), ("sora2-video", {"prompt": "x"}),
           ("seedance-video", {"prompt": "ab"}), ("veo31-video", {"prompt": "x", "seeds": 5}),
           ("text-to-speech", {"prompt": "x", "voice": "Bob"}), ("kling", {"input_urls": ["u"]}),
           ("text-to-music", {"prompt": "x", "style_weight": 2}), ("nope", {"prompt": "x"})]
    for service, params in bad:
        with pytest.raises(InvalidParams) as ei:
            await c.submit(service, **params)
        assert ei.value.field and ei.value.allowed
    with pytest.raises(InvalidParams):
        await c.chat("hi", model=3)
    with pytest.raises(InvalidParams):
        await c.embed([])
    assert admin.requests_of(SECRET) == before
    await c.aclose()


async def test_fifty_concurrent_submits_never_overshoot_max_credits(make_client: Any, admin: Any) -> None:
    from phaya_notebook.core.errors import BudgetExceeded

    c = make_client(max_credits=10.0)
    before = await charged_jobs(c, "text-to-image")
    balance0 = await c.credits()
    p0 = posts(admin, "/text-to-image/generate")
    outcomes = await asyncio.gather(*(c.submit("text-to-image", prompt=f"race {i}") for i in range(50)),
                                    return_exceptions=True)
    made = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, BudgetExceeded)]
    assert len(made) == 10 and len(refused) == 40
    await asyncio.gather(*(j.wait() for j in made))
    assert c.committed_credits == pytest.approx(10.0)
    # what the server saw and charged, not what the client believes: 10 creates, 10 credits
    assert posts(admin, "/text-to-image/generate") - p0 == 10
    new = await charged_jobs(c, "text-to-image") - before
    assert new == {j.id for j in made}
    assert await c.credits() == pytest.approx(balance0 - 10.0)
    await c.aclose()
