"""When to poll which job: one scheduler per request budget (so per key).

The first poll of a job lands near its expected completion: the catalog's typical
duration, scaled by what this process has observed for the service (the ratio of real
to typical durations), taken at the high end so most jobs need a single poll. Later
polls back off (x1.5 from 5 s, capped) and are never closer than the server's 5 s
status cache. Due polls queue on the budget by due time; a watched job queues as
interactive, so it goes first. ``time_scale`` shrinks every interval for a time-scaled
sandbox.

When the budget is shared with other processes (``RequestBudget.share``), so are the
observations: each finished job's ratio goes to the shared store, and the other
processes' ratios are read back (at most every ``PEER_EVERY`` scaled seconds), so eight
kernels with a few jobs each time their polls as well as one kernel with all of them.

The scheduler knows nothing of :class:`~.jobs.Job`: each job owns a :class:`PollState`
(its clock, expected duration and poll count) and hands it to :meth:`PollScheduler.turn`.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .. import catalog
from .budget import RequestBudget

__all__ = ["Pace", "PollScheduler", "PollState", "scheduler_for"]

#: Where the first poll lands without observations, as a multiple of the typical duration:
#: high in the contract's +-30 % spread, so most jobs need one poll; the rest are found by
#: the server's progress hint (when it gives one) or the back-off.
DEFAULT_UPPER = 1.15
#: How often (in the server's seconds) other processes' observations are read back.
PEER_EVERY = 1.0


class Pace(Protocol):
    """How fast a client's server runs (``AsyncPhaya``'s public attributes; a time-scaled sandbox)."""

    time_scale: float  # divides every interval: rate window, poll floor, durations
    job_speed: float  # divides expected durations only
    speed_unknown: bool  # a local sandbox that did not say its speed: first polls come early


@dataclass
class PollState:
    """What the scheduler reads of one job: owned and updated by the job (monotonic clock)."""

    service: str
    created: float  # monotonic time the job was created
    base_seconds: float  # the catalog's typical duration, in this client's clock
    speed_unknown: bool = False  # a local sandbox that did not say its speed: look early
    polls: int = 0
    late_polls: int = 0  # polls after the typical duration (they set the back-off)
    last_poll: float = 0.0  # monotonic; 0.0 (never polled) reads as ``created``
    predicted_end: float | None = None  # from the server's progress hint, when it gives one

    def __post_init__(self) -> None:
        self.last_poll = self.last_poll or self.created

    def count(self, now: float | None = None) -> None:
        """One poll happened (answered or not)."""
        now = time.monotonic() if now is None else now
        if self.polls and now > self.created + self.base_seconds:
            self.late_polls += 1
        self.polls += 1
        self.last_poll = now


class PollScheduler:
    """Per-key poll timing, shared by every job of the key in this process."""

    def __init__(self, budget: RequestBudget, time_scale: float = 1.0):
        self.budget = budget
        self.time_scale = time_scale
        self.min_interval = 5.0 / time_scale          # the server's status cache
        self.max_interval = 60.0 / time_scale         # back-off cap
        self._obs: dict[str, deque[float]] = {}
        self._all: deque[float] = deque(maxlen=50)
        self._lock = threading.Lock()
        self._peer_after = 0        # last shared observation read
        self._peer_read = 0.0       # monotonic time of the last read

    def rescale(self, time_scale: float) -> None:
        self.time_scale = time_scale
        self.min_interval = 5.0 / time_scale
        self.max_interval = 60.0 / time_scale

    # ------------------------------------------------------------- learning

    def base_seconds(self, service: catalog.Service, params: dict, job_speed: float = 1.0) -> float:
        """The catalog's typical duration in this client's clock (speed and time scale)."""
        return catalog.typical_seconds(service, params) / (job_speed * self.time_scale)

    def observe(self, service: str, base: float, actual: float) -> None:
        """Record a finished job: actual seconds against the base expectation."""
        if base <= 0 or actual <= 0:
            return
        f = actual / base
        with self._lock:
            self._obs.setdefault(service, deque(maxlen=20)).append(f)
            self._all.append(f)
        shared = self.budget.shared
        if shared is not None and hasattr(shared, "observe"):
            self.budget.shared_call(shared.observe, service, f)

    def _read_peers(self) -> None:
        """Take in what other processes on the key observed since the last read (rate-limited)."""
        shared = self.budget.shared
        now = time.monotonic()
        if shared is None or not hasattr(shared, "observations") or now - self._peer_read < PEER_EVERY / self.time_scale:
            return
        self._peer_read = now
        got = self.budget.shared_call(shared.observations, self._peer_after)
        if not got:
            return
        with self._lock:
            for row_id, service, f in got:
                self._peer_after = max(self._peer_after, int(row_id))
                self._obs.setdefault(service, deque(maxlen=20)).append(float(f))
                self._all.append(float(f))

    def _factors(self, service: str) -> list[float]:
        with self._lock:
            own = list(self._obs.get(service, ()))
            return own if own else list(self._all)

    def _own(self, service: str) -> list[float]:
        with self._lock:
            return list(self._obs.get(service, ()))

    def typical_factor(self, service: str) -> float:
        fs = self._factors(service)
        return statistics.median(fs) if fs else 1.0

    def upper_factor(self, service: str) -> float:
        """Where the first poll goes, relative to base: the slow end of what we have seen.

        Without observations of the service, other services' observations are used only
        to detect a sped-up server (a sandbox whose speed we were not told): when jobs in
        general finish in under half their typical time, their median scales the default.
        Slower-than-typical is left to the back-off (queues make it noisy).
        """
        with self._lock:
            own = list(self._obs.get(service, ()))
            everyone = list(self._all)
        if len(own) >= 3:
            recent = sorted(own[-12:])
            return recent[int(0.75 * (len(recent) - 1) + 0.5)] * 1.03
        if own:
            return max(max(own) * 1.03, statistics.median(own) * 1.15)
        if everyone:
            g = statistics.median(everyone)
            if g < 0.5 and (len(everyone) >= 3 or g < 0.1):
                return g * DEFAULT_UPPER
        return DEFAULT_UPPER

    def expected_seconds(self, service: str, base: float) -> float:
        return base * self.typical_factor(service)

    # ------------------------------------------------------------- timing

    def next_due(self, state: PollState) -> float:
        """Monotonic time of this job's next poll."""
        self._read_peers()
        upper = state.created + state.base_seconds * self.upper_factor(state.service)
        if state.speed_unknown and not self._own(state.service):
            # a sandbox that did not say how fast it runs: look early rather than wait minutes
            upper = min(upper, state.created + self.min_interval)
        if state.polls == 0:
            return upper
        floor = state.last_poll + self.min_interval
        hint = state.predicted_end
        if hint is not None and hint > state.last_poll:
            # the server said how far along it is: look again just after the predicted end
            return max(floor, hint + 0.02 * state.base_seconds)
        k = state.late_polls
        step = min(self.max_interval, max(self.min_interval, self.min_interval * 1.5 ** k))
        due = state.last_poll + step
        if self._own(state.service):  # this service's own record says when it should be done
            due = max(due, upper)
        return max(due, floor)

    async def turn(self, state: PollState, deadline: float, done: Callable[[], bool] = lambda: False) -> float:
        """Sleep until this job's poll is due (re-planning as we learn); return the due time.

        ``done()`` ends the wait early (the job finished some other way: a refresh, a cancel).
        """
        while True:
            due = min(self.next_due(state), deadline)
            now = time.monotonic()
            if due <= now or done():
                return due
            await asyncio.sleep(min(due - now, max(0.05, 1.0 / self.time_scale)))


_REG: dict[int, PollScheduler] = {}
_REG_LOCK = threading.Lock()


def scheduler_for(budget: RequestBudget) -> PollScheduler:
    """The one scheduler of a budget."""
    with _REG_LOCK:
        if budget.scheduler is None:
            budget.scheduler = PollScheduler(budget, budget.time_scale)
        sched: PollScheduler = budget.scheduler
        return sched
