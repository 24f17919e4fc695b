"""A Job needs no client: its whole life runs against a JobBackend of fakes (issue 11's contract).

create -> poll -> download -> settle credits -> log, each hop through a public collaborator;
the scheduler sees only the job's PollState.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from phaya_notebook import catalog
from phaya_notebook.core.budget import RequestBudget
from phaya_notebook.core.errors import JobFailed, ServerError
from phaya_notebook.core.jobs import Job, JobBackend, JobRegistry, Result
from phaya_notebook.core.scheduler import PollScheduler

SCALE = 100.0


class Fakes:
    """Requests, results, ledger, events and pace in one object; records every call in order."""

    def __init__(self, answers: list[Any]):
        self.answers = answers
        self.calls: list[tuple[str, Any]] = []
        self.time_scale, self.job_speed, self.speed_unknown = SCALE, 1.0, False

    async def status(self, job: Job, due: float, *, interactive: bool = False) -> dict[str, Any]:
        self.calls.append(("status", job.poll_state.polls))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)

    async def cancel(self, job: Job) -> bool:
        self.calls.append(("cancel", job.id))
        return True

    async def make(self, service: catalog.Service, job_id: str, fields: dict[str, Any],
                   charged: float | None) -> Result:
        self.calls.append(("download", job_id))
        return Result(job_id, service.name, service.media, [], [], fields, credits=charged or 0.0)

    def settle(self, job: Job) -> None:
        self.calls.append(("settle", job.charged))

    def release(self, job: Job) -> None:
        self.calls.append(("release", job.id))

    def emit(self, kind: str, job: Job) -> None:
        self.calls.append(("event", kind))


def backend(fakes: Fakes) -> JobBackend:
    sched = PollScheduler(RequestBudget(60, time_scale=SCALE), time_scale=SCALE)
    return JobBackend(requests=fakes, scheduler=sched, results=fakes, ledger=fakes, events=fakes, pace=fakes)


async def test_a_job_lives_through_its_backend_alone() -> None:
    svc = catalog.resolve_service("text-to-image")
    fakes = Fakes([ServerError("502 once"), {"status": "processing"},
                   {"status": "completed", "image_url": "http://x/a.png", "credits_used": 1.5}])
    job = Job(backend(fakes), svc, "j-1", {"prompt": "p"}, catalog.estimate(svc, {"prompt": "p"}))
    assert job.poll_state.service == "text-to-image" and job.poll_state.polls == 0
    result = await asyncio.wait_for(job.wait(), 10)
    assert result.credits == 1.5 and job.status == "completed" and job.poll_state.polls == 3
    assert fakes.calls == [("status", 0), ("status", 1), ("event", "status"), ("status", 2),
                           ("download", "j-1"), ("settle", 1.5), ("event", "completed")]


async def test_a_failed_refunded_job_releases_and_a_cancel_goes_through_the_backend() -> None:
    svc = catalog.resolve_service("text-to-image")
    fakes = Fakes([{"status": "failed", "error": "nsfw", "refunded": True}])
    job = Job(backend(fakes), svc, "j-2", {"prompt": "p"}, catalog.estimate(svc, {"prompt": "p"}))
    with pytest.raises(JobFailed, match="nsfw"):
        await asyncio.wait_for(job.wait(), 10)
    assert fakes.calls == [("status", 0), ("release", "j-2"), ("event", "failed")]

    video = catalog.resolve_service("sora2-text-to-video")
    fakes = Fakes([])
    job = Job(backend(fakes), video, "j-3", {"prompt": "p"}, catalog.estimate(video, {"prompt": "p"}))
    registry = JobRegistry()
    registry.add(job)
    assert registry.find(video.name, "j-3") is job and registry.ids(video.name) == {"j-3"}
    job.start()
    assert await job.cancel() is True and job.status == "cancelled" and job.refunded
    assert fakes.calls == [("cancel", "j-3"), ("release", "j-3"), ("event", "cancelled")]
    await asyncio.sleep(0)
    assert job.driver is not None and job.driver.done()


async def test_resume_gives_a_fresh_deadline() -> None:
    svc = catalog.resolve_service("text-to-image")
    fakes = Fakes([{"status": "completed", "image_url": "http://x/b.png"}])
    long_ago = time.time() - 3600  # created an hour ago: its deadline passed long since
    job = Job(backend(fakes), svc, "j-4", {"prompt": "p"}, catalog.estimate(svc, {"prompt": "p"}),
              created_at=long_ago)
    job.resume()
    assert (await asyncio.wait_for(job.wait(), 10)).job_id == "j-4"


def test_two_threads_taking_over_an_idle_loops_job_make_one_driver() -> None:
    """Two loops (threads) await a job whose driver sits on an idle loop (the sync facade
    between calls): exactly one of them takes the polling over. The hand-over is slowed on
    purpose (cancelling the old task on its loop takes 50 ms), so without the start lock both
    threads see the idle driver and both start one: two drivers polling side by side."""
    import threading

    svc = catalog.resolve_service("text-to-image")
    fakes = Fakes([{"status": "processing"}] * 50)
    idle = asyncio.new_event_loop()
    try:
        job = idle.run_until_complete(_make_and_start(fakes, svc))  # its driver waits on `idle`, never run again
        real = idle.call_soon_threadsafe

        def slow_call_soon_threadsafe(*args: Any, **kw: Any) -> Any:
            time.sleep(0.05)  # the other thread runs meanwhile
            return real(*args, **kw)

        idle.call_soon_threadsafe = slow_call_soon_threadsafe  # type: ignore[method-assign]
        drivers: list[Any] = []
        barrier = threading.Barrier(2)

        async def take_over() -> None:
            barrier.wait()
            drivers.append(job.start())
            await asyncio.sleep(0.3)  # keep this loop running while the other thread looks
            mine = job.driver
            if mine is not None and mine.get_loop() is asyncio.get_running_loop():
                mine.cancel()  # leave nothing polling when this loop ends

        threads = [threading.Thread(target=asyncio.run, args=(take_over(),)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(drivers) == 2 and drivers[0] is drivers[1], "two drivers for one job"
    finally:
        idle.close()


async def _make_and_start(fakes: Fakes, svc: catalog.Service) -> Job:
    job = Job(backend(fakes), svc, "j-race", {"prompt": "p"}, catalog.estimate(svc, {"prompt": "p"}))
    job.start()
    return job
