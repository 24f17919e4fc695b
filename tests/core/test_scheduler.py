"""Poll timing: first poll near the expected end, back-off after, 5 s floor, learning."""

from __future__ import annotations

from typing import Any

import pytest

from phaya_notebook import catalog
from phaya_notebook.core.budget import RequestBudget
from phaya_notebook.core.scheduler import DEFAULT_UPPER, PollScheduler, PollState


def fake_job(sched: PollScheduler, service: str, polls: int = 0, late: int = 0, last: float = 0.0,
             unknown: bool = False, predicted: float | None = None) -> Any:
    svc = catalog.resolve_service(service)
    return PollState(svc.name, 0.0, sched.base_seconds(svc, {}), speed_unknown=unknown, polls=polls,
                     late_polls=late, last_poll=last, predicted_end=predicted)


def test_first_poll_at_the_slow_end_of_the_typical_duration() -> None:
    s = PollScheduler(RequestBudget(60))
    assert s.next_due(fake_job(s, "sora2-text-to-video")) == pytest.approx(180 * DEFAULT_UPPER)
    assert s.next_due(fake_job(s, "text-to-image")) == pytest.approx(10 * DEFAULT_UPPER)
    veo = catalog.resolve_service("veo31-video")
    assert s.base_seconds(veo, {"model": "veo3"}) == 300.0


def test_backoff_and_the_status_cache_floor() -> None:
    s = PollScheduler(RequestBudget(60))
    steps = [s.next_due(fake_job(s, "text-to-image", polls=1 + k, late=k, last=100.0)) - 100.0 for k in range(8)]
    assert steps[0] == pytest.approx(5.0)  # never faster than the 5 s status cache
    assert steps[1] == pytest.approx(7.5) and steps[2] == pytest.approx(11.25)
    assert steps[-1] == pytest.approx(60.0)  # capped
    fast = PollScheduler(RequestBudget(60, time_scale=10.0), time_scale=10.0)
    assert fast.next_due(fake_job(fast, "text-to-image", polls=1, last=1.0)) - 1.0 == pytest.approx(0.5)


def test_learns_per_service_and_detects_a_fast_server() -> None:
    s = PollScheduler(RequestBudget(60))
    for f in (0.8, 1.1, 0.9):
        s.observe("text-to-music", 90.0, 90.0 * f)
    assert s.upper_factor("text-to-music") == pytest.approx(1.1 * 1.03)  # the upper quartile
    assert s.expected_seconds("text-to-music", 90.0) == pytest.approx(81.0)
    # a learned service is not polled again before its learned end, even after a miss
    job = fake_job(s, "text-to-music", polls=1, last=10.0)
    assert s.next_due(job) == pytest.approx(90 * 1.1 * 1.03)
    # other services: not moved by ordinary noise...
    assert s.upper_factor("text-to-image") == DEFAULT_UPPER
    # ...but a server running everything 50x faster is noticed
    t = PollScheduler(RequestBudget(60))
    t.observe("text-to-image", 10.0, 0.2)
    assert t.upper_factor("sora2-text-to-video") == pytest.approx(0.02 * DEFAULT_UPPER)


def test_progress_hint_schedules_the_next_poll_just_after_the_predicted_end() -> None:
    s = PollScheduler(RequestBudget(60))
    job = fake_job(s, "sora2-text-to-video", polls=1, last=200.0, predicted=215.0)
    assert s.next_due(job) == pytest.approx(215.0 + 0.02 * 180)
    soon = fake_job(s, "sora2-text-to-video", polls=1, last=200.0, predicted=201.0)
    assert s.next_due(soon) == pytest.approx(205.0)  # still never inside the status cache


def test_unknown_sandbox_speed_polls_early() -> None:
    s = PollScheduler(RequestBudget(60))
    assert s.next_due(fake_job(s, "sora2-text-to-video", unknown=True)) == pytest.approx(5.0)
