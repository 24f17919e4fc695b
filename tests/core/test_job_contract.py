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
