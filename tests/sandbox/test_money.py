"""Credits: charging, Seedream on completion, refunds, cancel, 402, isolation, concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from phaya_notebook import catalog
from phaya_notebook.sandbox import start

from .helpers import client, create, poll


def balance(c: httpx.Client) -> float:
    return float(c.get("/user/credits").json()["credits_balance"])


def test_creates_charge_the_catalog_price_and_are_recorded(fresh_sandbox: Any) -> None:
    with client(fresh_sandbox) as c:
        assert balance(c) == 100.0
        a = create(c, "text-to-image", {"prompt": "one"})
        b = create(c, "nano-banana", {"prompt": "two", "resolution": "4K"})
        tts_prompt = "x" * 250
        t = create(c, "text-to-speech", {"prompt": tts_prompt})
        expected = 1.0 + 4.0 + catalog.estimate("text-to-speech", {"prompt": tts_prompt}).credits
        assert balance(c) == round(100.0 - expected, 6)
        tx = c.get("/user/credits/history", params={"limit": 2}).json()["transactions"]
        assert [(x["kind"], x["job_id"]) for x in tx] == [("charge", t), ("charge", b)]
        assert tx[1]["amount"] == -4.0 and tx[1]["service"] == "nano-banana"
        assert poll(c, "text-to-image", a)["credits_used"] == 1.0


def test_seedream_is_charged_on_completion(fresh_sandbox: Any) -> None:
    with client(fresh_sandbox) as c:
        r = c.post("/seedream/create", json={"prompt": "later"})
        assert r.json()["credits_used"] == 0
        assert balance(c) == 100.0
        ans = poll(c, "seedream", r.json()["job_id"])
        assert ans["status"] == "completed" and ans["credits_used"] == 1.5
        assert balance(c) == 98.5


def test_failed_jobs_are_refunded(fresh_sandbox: Any) -> None:
    with client(fresh_sandbox) as c:
        job = create(c, "sora2-text-to-video", {"prompt": "this one will [fail]"})
        assert balance(c) == 92.0
        ans = poll(c, "sora2-text-to-video", job)
        assert ans["status"] == "failed" and ans["error"] and ans["refunded"] is True
        assert ans["video_url"] is None
        assert balance(c) == 100.0
        kinds = [(x["kind"], x["amount"]) for x in c.get("/user/credits/history").json()["transactions"]]
        assert kinds == [("refund", 8.0), ("charge", -8.0)]
        up = poll(c, "text-to-image", create(c, "text-to-image", {"prompt": "[FAIL] upper case too"}))
        assert up["status"] == "FAILED"


def test_cancel_only_while_processing_and_refunds(fresh_sandbox: Any) -> None:
    with client(fresh_sandbox) as c:
        job = create(c, "veo31-video", {"prompt": "never ends [stuck]"})
        assert balance(c) == 85.0
        r = c.post(f"/veo31-video/cancel/{job}")
        assert r.status_code == 200 and r.json()["success"] is True and r.json()["message"]
        ans = c.get(f"/veo31-video/status/{job}").json()
        assert ans["status"] == "cancelled" and ans["refunded"] is True
        assert balance(c) == 100.0
        again = c.post(f"/veo31-video/cancel/{job}")
        assert again.status_code == 200 and again.json()["success"] is False
        done = create(c, "sora2-character", {"character_file_url": "https://example.com/a.mp4"})
        poll(c, "sora2-character", done)
        assert c.post(f"/sora2-character/cancel/{done}").json()["success"] is False
        assert c.post("/veo31-video/cancel/00000000-0000-0000-0000-000000000000").status_code == 404
        assert c.post(f"/text-to-image/cancel/{job}").status_code in (404, 405)


def test_not_enough_credits_is_402_and_charges_nothing() -> None:
    with start(speed=60.0, api_keys=["poor:0.5"], time_scale=10.0) as sb, client(sb) as c:
        r = c.post("/text-to-image/generate", json={"prompt": "too dear"})
        assert r.status_code == 402 and "credit" in r.json()["detail"].lower()
        r = c.post("/seedream/create", json={"prompt": "also too dear"})
        assert r.status_code == 402
        assert balance(c) == 0.5
        assert c.get("/user/credits/history").json()["transactions"] == []
        assert c.post("/image-to-video/create", json={"image_url": "https://x/y.png"}).status_code == 200
        assert balance(c) == 0.0


def test_keys_are_separate_accounts() -> None:
    with start(speed=60.0, api_keys=["alice", "bob:7"], credits=20.0, time_scale=10.0) as sb:
        assert sb.api_keys == ["alice", "bob"]
        with client(sb, "alice") as a, client(sb, "bob") as b:
            assert (balance(a), balance(b)) == (20.0, 7.0)
            job = create(a, "sora2-text-to-video", {"prompt": "mine [stuck]"})
            assert b.get(f"/sora2-text-to-video/status/{job}").status_code == 404
            assert b.post(f"/sora2-text-to-video/cancel/{job}").status_code == 404
            assert a.get(f"/sora2-text-to-video/status/{job}").status_code == 200
            img = create(a, "text-to-image", {"prompt": "alice only"})
            poll(a, "text-to-image", img)
            assert [j["job_id"] for j in a.get("/text-to-image/history").json()["jobs"]] == [img]
            assert b.get("/text-to-image/history").json()["jobs"] == []
            assert (balance(a), balance(b)) == (11.0, 7.0)
            assert a.get("/user/profile").json()["user_id"] != b.get("/user/profile").json()["user_id"]


def test_history_lists_newest_first_with_prompts(fresh_sandbox: Any) -> None:
    with client(fresh_sandbox) as c:
        ids = [create(c, "text-to-speech", {"prompt": f"line {i}"}) for i in range(3)]
        jobs = c.get("/text-to-speech/history", params={"limit": 2}).json()["jobs"]
        assert [j["job_id"] for j in jobs] == ids[::-1][:2]
        assert jobs[0]["prompt"] == "line 2" and "audio_url" in jobs[0]


def test_hundred_concurrent_creates_on_a_balance_for_ten() -> None:
    async def burst(sb: Any) -> list[int]:
        async with httpx.AsyncClient(base_url=sb.base_url, timeout=30.0,
                                     headers={"Authorization": f"Bearer {sb.api_key}"},
                                     limits=httpx.Limits(max_connections=100)) as ac:
            rs = await asyncio.gather(*(ac.post("/text-to-image/generate", json={"prompt": f"p{i} [stuck]"})
                                        for i in range(100)))
            return [r.status_code for r in rs]

    with start(speed=60.0, credits=10.0, rate_limit=1000, time_scale=10.0) as sb:
        codes = asyncio.run(burst(sb))
        assert codes.count(200) == 10 and codes.count(402) == 90, sorted(set(codes))
        with client(sb) as c:
            assert balance(c) == 0.0
            assert len(c.get("/user/credits/history", params={"limit": 500}).json()["transactions"]) == 10
