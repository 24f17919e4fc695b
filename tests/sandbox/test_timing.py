"""Timing the client can rely on: the health answer, slow answers, on-time jobs under a burst."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx
import pytest

from phaya_notebook.sandbox import producers, start

from .helpers import admin, client, create, poll


def test_health_tells_speed_and_time_scale_without_a_token() -> None:
    with start(speed=7.5, time_scale=4.0) as sb:
        ans = httpx.get(sb.root_url + "/_sandbox/health").json()
        assert ans["ok"] is True
        assert ans["speed"] == 7.5 and ans["time_scale"] == 4.0
        assert isinstance(ans["speed"], float) and isinstance(ans["time_scale"], float)
        assert sb.api_key not in str(ans) and sb.admin_token not in str(ans)


def test_health_is_what_the_client_learns_from() -> None:
    """The core client, not told about this sandbox, picks its speed up from /_sandbox/health."""
    import asyncio

    from phaya_notebook.core.client import AsyncPhaya

    async def learn(sb: Any) -> tuple[float, float, bool]:
        async with AsyncPhaya(sb.api_key, sb.base_url) as aio:
            await aio._learn_sandbox_speed()
            return aio.job_speed, aio.time_scale, aio.speed_unknown

    with start(speed=12.0, time_scale=3.0) as sb:
        assert asyncio.run(learn(sb)) == (12.0, 3.0, False)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture()
def server_log() -> Any:
    """Everything uvicorn logs (it does not propagate to the root logger, so caplog misses it)."""
    handler = _Records()
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def test_slow_create_lands_and_charges_though_the_client_timed_out(fresh_sandbox: Any, server_log: Any) -> None:
    sb = fresh_sandbox
    with client(sb) as c, admin(sb) as adm:
        before = c.get("/user/credits").json()["credits_balance"]
        adm.post("/_sandbox/faults", json={"kind": "slow", "seconds": 1.0, "paths": "/text-to-image/generate"})
        t = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            c.post("/text-to-image/generate", json={"prompt": "timed out but made"}, timeout=0.3)
        # the action happened before the answer was due: the job exists and is charged
        jobs = c.get("/text-to-image/history").json()["jobs"]
        assert [j["prompt"] for j in jobs] == ["timed out but made"]
        assert c.get("/user/credits").json()["credits_balance"] < before
        assert poll(c, "text-to-image", jobs[0]["job_id"])["status"] == "COMPLETED"
        time.sleep(max(0.0, 1.2 - (time.monotonic() - t)))  # the late answer meets a closed socket
        assert c.get("/user/credits").status_code == 200  # the server is fine
    assert not [r for r in server_log if r.levelno >= logging.ERROR], [r.getMessage() for r in server_log]


def test_slow_fault_delays_the_answer_not_the_work() -> None:
    with start(speed=10.0) as sb, client(sb) as c, admin(sb) as adm:  # an image takes 0.7-1.3 s here
        adm.post("/_sandbox/faults", json={"kind": "slow", "seconds": 0.8, "paths": "/generate"})
        t = time.monotonic()
        r = c.post("/text-to-image/generate", json={"prompt": "patience"})
        assert r.status_code == 200 and time.monotonic() - t >= 0.75
        ans = c.get(f"/text-to-image/status/{r.json()['job_id']}").json()
        # the job was created when the request arrived, not when the late answer left
        assert ans["status"] == "COMPLETED" or ans["progress"] >= 40, ans


def test_quick_jobs_finish_on_time_behind_a_video_burst(monkeypatch: pytest.MonkeyPatch) -> None:
    """Speech created right after a burst of videos is not queued behind their encodes."""
    threads: dict[str, set[str]] = {"text-to-speech": set(), "sora2-text-to-video": set()}
    for name in threads:  # which pool's threads make each kind (a timing-free check)
        def traced(*args: Any, _make: Any = producers.PRODUCERS[name], _name: str = name) -> Any:
            threads[_name].add(threading.current_thread().name.rsplit("-", 1)[0])
            return _make(*args)
        monkeypatch.setitem(producers.PRODUCERS, name, traced)
    with start(speed=30.0, credits=1e6, rate_limit=10**6, status_cache_seconds=0.0) as sb, client(sb) as c:
        videos = [create(c, "sora2-text-to-video", {"prompt": f"burst {i}"}) for i in range(8)]
        speech = [create(c, "text-to-speech", {"prompt": f"quick {i}"}) for i in range(3)]
        jobs = sb.sandbox.state.jobs
        heavy = sb.sandbox.pools.heavy
        encode = producers.PRODUCERS["sora2-text-to-video"]

        def videos_queued() -> int:  # videos no encoder has taken up yet
            with heavy._cv:
                return sum(1 for item in heavy._heap if item[3] is encode)

        fresh = len(videos) - heavy.workers  # queued while the first encodes run
        at_finish: dict[str, int] = {}
        deadline = time.monotonic() + 30
        while len(at_finish) < len(speech) and time.monotonic() < deadline:
            queued = videos_queued()
            for j in speech:
                if jobs[j].terminal and j not in at_finish:
                    at_finish[j] = queued
            time.sleep(0.01)
        for j in speech:
            job = jobs[j]
            assert job.terminal == "completed", (job.terminal, job.error)
            late = job.updated_at - job.created_at - job.duration
            # On time; or, on a machine so busy that even speech runs late, finished before
            # any video encode did (no encoder took up a queued video yet): it did not wait
            # for the burst. A shared or FIFO pool makes it wait for a video encode first.
            assert late < 0.5 or at_finish[j] >= fresh, (
                f"speech due after {job.duration:.2f} s finished {late:.2f} s late, after "
                f"{fresh - at_finish[j]} video encode(s)")
        for j in videos:  # leave nothing encoding behind
            c.post(f"/sora2-text-to-video/cancel/{j}")
    # speech never runs on a video encoder's thread, whatever the machine's speed (on a quiet
    # machine an encode is so short that a shared pool still finishes speech "on time")
    assert threads["text-to-speech"] == {"phaya-sandbox-media"}, threads
    assert "phaya-sandbox-video" in threads["sora2-text-to-video"], threads
