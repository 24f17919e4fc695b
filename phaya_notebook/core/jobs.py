"""A job's life, read from here downwards: create -> poll -> download -> settle credits -> log.

``AsyncPhaya.submit`` creates the job (``create.py``: one POST, never blindly repeated)
and announces it (``created`` event: the job log records the id before any poll). Then
one background task per job (:meth:`Job.start`) asks the scheduler when to poll
(``scheduler.py``, reading the job's :class:`PollState`), polls the status, and on a
terminal answer finishes: the result's files are downloaded (``results.py``), the credits
settled or released (``money.py``, the ledger) and the end announced (``events.py``: the job log).

A Job talks to its client only through :class:`JobBackend`, a small set of public
collaborators the client wires (like replicate's ``Prediction`` calling
``client.predictions``): never to the client's private members. Several waiters (a
widget, ``wait()``, the job log) share the one task's polls. Failed polls (5xx, dropped
connections) are retried on the schedule: a job is never given up before its timeout,
and after one it stays resumable with ``AsyncPhaya.job(service, id)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .. import catalog
from .errors import JobFailed, JobTimeout, PhayaError, ServerError, TransportError
from .results import Result, set_renderer
from .scheduler import Pace, PollScheduler, PollState
from .wire import epoch

__all__ = ["Job", "JobBackend", "JobEvent", "JobRegistry", "Result", "set_renderer"]

log = logging.getLogger("phaya_notebook.core")

EventKind = Literal["created", "status", "completed", "failed", "cancelled", "timeout"]
ProgressFn = Callable[["Job"], Any]


@dataclass
class JobEvent:
    kind: EventKind
    job: Job


# ----------------------------------------------------------------- what a Job asks of its client


class JobRequests(Protocol):
    """A job's own endpoints (``create.JobRequests``)."""

    async def status(self, job: Job, due: float, *, interactive: bool = False) -> dict[str, Any]: ...

    async def cancel(self, job: Job) -> bool: ...


class ResultMaker(Protocol):
    """Completed answer -> Result with downloaded files (``results.Results``)."""

    async def make(self, service: catalog.Service, job_id: str, fields: dict[str, Any],
                   charged: float | None) -> Result: ...


class JobLedger(Protocol):
    """The credits a job reserved: kept at the real charge, or given back (``money.Ledger``)."""

    def settle(self, job: Job) -> None: ...

    def release(self, job: Job) -> None: ...


class JobEvents(Protocol):
    """Where state changes go (``events.Events``: the job log listens there)."""

    def emit(self, kind: EventKind, job: Job) -> None: ...


@dataclass(frozen=True)
class JobBackend:
    """Everything a Job uses of its client: public collaborators, wired by ``AsyncPhaya``."""

    requests: JobRequests
    scheduler: PollScheduler
    results: ResultMaker
    ledger: JobLedger
    events: JobEvents
    pace: Pace  # the client's time_scale / job_speed / speed_unknown


class Job:
    """One job id of one service; status is normalised (pending..completed/failed/cancelled)."""

    def __init__(self, backend: JobBackend, service: catalog.Service, job_id: str, params: dict[str, Any],
                 estimate: catalog.Estimate, *, tags: tuple[str, ...] = (), created_at: float | None = None,
                 charged: float | None = None, raw_status: str | None = None):
        self._backend = backend
        self.id = job_id
        self.service = service
        self.params = params
        self.estimate = estimate
        self.tags = tuple(tags)
        self.created_at = created_at if created_at is not None else time.time()
        self.finished_at: float | None = None
        self.raw_status = raw_status or service.statuses[0]
        self.status = catalog.normalize_status(self.raw_status)
        self.error: str | None = None
        self.refunded = False
        self.charged = charged
        self.result: Result | None = None
        self.watched = False
        self.timed_out = False
        self.fields: dict[str, Any] = {}
        pace = backend.pace
        #: what the scheduler reads of this job (this job alone writes it)
        self.poll_state = PollState(
            service.name, time.monotonic() - max(0.0, time.time() - self.created_at),
            backend.scheduler.base_seconds(service, params, pace.job_speed), pace.speed_unknown)
        self._deadline = self.poll_state.created + service.timeout_for(params) / pace.time_scale
        self._driver: asyncio.Task[None] | None = None
        self._start_lock = threading.Lock()  # waiters on two threads' loops: one replaces the driver
        self._finishing = False
        self._waiting = 0
        self._listeners: list[ProgressFn] = []

    # ------------------------------------------------------------- views

    def __repr__(self) -> str:
        return (f"<Job {self.service.name} {self.id[:8]} {self.status}"
                f"{' ' + repr(self.error) if self.error else ''}>")

    @property
    def done(self) -> bool:
        return self.status in catalog.TERMINAL

    @property
    def expected_seconds(self) -> float:
        """Seconds this job should take, as far as this client has learned."""
        return self._backend.scheduler.expected_seconds(self.service.name, self.poll_state.base_seconds)

    @property
    def elapsed(self) -> float:
        end = self.finished_at if self.finished_at is not None else time.time()
        return max(0.0, end - self.created_at)

    @property
    def progress(self) -> float:
        """0..1 from elapsed time (the server's progress field is not relied on)."""
        if self.status == "completed":
            return 1.0
        cap = 1.0 if self.done else 0.99
        return min(cap, self.elapsed / max(self.expected_seconds, 1e-6))

    @property
    def driver(self) -> asyncio.Task[None] | None:
        """The task polling this job (one at a time), if it was started."""
        return self._driver

    # ------------------------------------------------------------- polling

    def start(self) -> asyncio.Task[None] | None:
        """Make sure one task polls this job, on the running loop if the old one cannot move."""
        if self.done and self._driver is None:
            return None
        here = asyncio.get_running_loop()
        with self._start_lock:
            return self._start_on(here)

    def _start_on(self, here: asyncio.AbstractEventLoop) -> asyncio.Task[None] | None:
        d = self._driver
        if d is not None and not d.done() and d.get_loop() is not here and not d.get_loop().is_running():
            # Its loop is idle or gone (a sync facade between calls, a finished asyncio.run):
            # that task would never move again, so polling carries on here; the old task is
            # cancelled on its own loop, so the job never has two drivers.
            with contextlib.suppress(RuntimeError):
                d.get_loop().call_soon_threadsafe(d.cancel)
            self._driver = d = None
        restart = self._driver is not None and self._driver.done() and time.monotonic() < self._deadline
        if self._driver is None or restart:
            self.timed_out = False
            self._driver = here.create_task(self._drive(), name=f"phaya-job-{self.id[:8]}")
        return self._driver

    def resume(self) -> None:
        """Poll again after a timeout or a restart: a fresh deadline from now."""
        self._deadline = time.monotonic() + self.service.timeout_for(self.params) / self._backend.pace.time_scale
        self.timed_out = False
        if not self.done:
            self.start()

    async def _drive(self) -> None:
        """The poll loop: wait for the scheduler's turn, poll, take the answer; until done or timeout."""
        backend = self._backend
        while not self.done:
            due = await backend.scheduler.turn(self.poll_state, self._deadline, lambda: self.done)
            if self.done:
                break
            if time.monotonic() >= self._deadline:
                self.timed_out = True
                backend.events.emit("timeout", self)
                return
            try:
                data = await backend.requests.status(self, due)
            except (ServerError, TransportError) as exc:
                log.debug("poll of %s failed (%s); will retry on schedule", self.id, exc)
                self.poll_state.count()
                continue
            await self._take(data)

    async def _take(self, data: dict[str, Any]) -> None:
        """One status answer: counted, applied, then finished or announced."""
        self.poll_state.count()
        was_done = self.done
        changed = self._apply(data)
        if catalog.is_terminal(data.get("status")):
            if not was_done:
                await self._finish()
        elif changed:
            self._backend.events.emit("status", self)
        self._notify()

    def _apply(self, data: dict[str, Any]) -> bool:
        """Take a status answer; returns True when the status changed.

        A completed status is published only by ``_finish``, once the result (and its
        cached files) exists, so ``done`` always comes with ``result``.
        """
        self.fields = data
        raw = data.get("status")
        if not isinstance(raw, str):
            raw = self.raw_status
        changed = raw != self.raw_status
        if catalog.normalize_status(raw) != "completed":
            self.raw_status = raw
            self.status = catalog.normalize_status(raw)
        if data.get("error"):
            self.error = str(data["error"])
        if isinstance(data.get("refunded"), bool):
            self.refunded = data["refunded"]
        used = data.get("credits_used", data.get("credits_charged"))
        if isinstance(used, (int, float)) and not isinstance(used, bool):
            self.charged = float(used)
        self.poll_state.predicted_end = self._predict_end(data)
        return changed

    def _predict_end(self, data: dict[str, Any]) -> float | None:
        """When the job should end, from an optional ``progress`` (0..100) and the server's clock.

        The contract does not promise ``progress``; without it (or with nonsense) this is
        None and the scheduler backs off instead. Timing only: nothing else relies on it.
        """
        p = data.get("progress")
        start, at = epoch(data.get("created_at")), epoch(data.get("updated_at"))
        if (not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 < p < 100
                or start is None or at is None or at <= start):
            return None
        total = (at - start) * 100.0 / p
        if total > 20 * max(self.poll_state.base_seconds, 1e-3):
            return None
        return self.poll_state.created + total

    async def _finish(self) -> None:
        """The end: download the result and settle its credits, or release them; then announce it."""
        if self._finishing:
            return
        self._finishing = True
        backend = self._backend
        self.finished_at = time.time()
        if catalog.normalize_status(self.fields.get("status")) == "completed":
            start, end = epoch(self.fields.get("created_at")), epoch(self.fields.get("updated_at"))
            took = end - start if start is not None and end is not None and end >= start else \
                time.monotonic() - self.poll_state.created
            backend.scheduler.observe(self.service.name, self.poll_state.base_seconds, took)
            self.result = await backend.results.make(self.service, self.id, self.fields, self.charged)
            self.raw_status = str(self.fields.get("status"))
            self.status = "completed"
            backend.ledger.settle(self)
            backend.events.emit("completed", self)
        else:
            if self.status == "cancelled" or self.refunded:
                backend.ledger.release(self)
            backend.events.emit("failed" if self.status == "failed" else "cancelled", self)

    def _notify(self, only: ProgressFn | None = None) -> None:
        for fn in [only] if only is not None else list(self._listeners):
            try:
                fn(self)
            except Exception:  # a broken progress callback must not stop polling
                log.exception("on_progress callback failed")

    # ------------------------------------------------------------- public

    async def wait(self, *, on_progress: ProgressFn | None = None, timeout: float | None = None) -> Result:
        """Wait until the job ends; the Result on success, JobFailed / JobTimeout otherwise.

        ``on_progress(job)`` is called after every poll and about once a second between
        polls (``job.progress`` moves with elapsed time). ``timeout`` (seconds) ends this
        wait early; the job's own deadline is ``service.timeout_for(params)``.
        """
        if not self.done:
            driver = self.start()
            if on_progress is not None:
                self._listeners.append(on_progress)
            self._waiting += 1
            try:
                if driver is not None:
                    await self._watch(driver, on_progress, timeout)
            finally:
                self._waiting -= 1
                if on_progress is not None:
                    self._listeners.remove(on_progress)
            if driver is not None and driver.done() and not driver.cancelled():
                exc = driver.exception()
                if exc is not None:
                    raise exc
        if on_progress is not None:
            self._notify(on_progress)
        return self._outcome()

    async def _watch(self, driver: asyncio.Task[None], on_progress: ProgressFn | None,
                     timeout: float | None) -> None:
        """Until the driver ends or ``timeout``: ticks ``on_progress`` about once a second."""
        here = asyncio.get_running_loop()
        end = None if timeout is None else time.monotonic() + timeout
        ticked = time.monotonic()
        while not driver.done():
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                break
            tick = 1.0 if on_progress is not None else None
            step = left if tick is None else (tick if left is None else min(tick, left))
            if driver.get_loop() is here:
                await asyncio.wait([driver], timeout=step)
            else:  # driven by a loop running in another thread: look every 50 ms
                await asyncio.sleep(0.05 if step is None else min(step, 0.05))
            if on_progress is not None and not driver.done() and time.monotonic() - ticked >= 0.95:
                ticked = time.monotonic()
                self._notify(on_progress)
        if not driver.done():
            self.timed_out = True
            if self._waiting <= 1 and driver.get_loop() is here:  # nobody else waits
                driver.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await driver
            self._backend.events.emit("timeout", self)

    def _outcome(self) -> Result:
        if self.status == "completed" and self.result is not None:
            return self.result
        if self.status in ("failed", "cancelled"):
            refund = "credits refunded" if self.refunded else "not refunded"
            raise JobFailed(f"{self.service.name} job {self.id} {self.status}: {self.error or 'no reason given'}"
                            f" ({refund})", job=self, error=self.error, refunded=self.refunded)
        raise JobTimeout(f"{self.service.name} job {self.id} still {self.status} after {self.elapsed:.0f} s; "
                         f"resume later with client.job({self.service.name!r}, {self.id!r})", job=self)

    async def refresh(self) -> Job:
        """One status request now (it counts against the budget, interactive priority)."""
        await self._take(await self._backend.requests.status(self, time.monotonic(), interactive=True))
        return self

    async def cancel(self) -> bool:
        """Cancel while processing (only services with cancel); True if the server agreed."""
        if not self.service.cancel:
            raise PhayaError(f"{self.service.name} jobs cannot be cancelled (the service has no cancel endpoint)")
        if self.done:
            return False
        if ok := await self._backend.requests.cancel(self):
            self.raw_status = self.service.server_status("cancelled")
            self.status = "cancelled"
            self.refunded = True
            self.finished_at = time.time()
            self._backend.ledger.release(self)
            if self._driver is not None and not self._driver.done():
                self._driver.cancel()
            self._backend.events.emit("cancelled", self)
            self._notify()
        return ok


class JobRegistry(dict[tuple[str, str], Job]):
    """The jobs one client knows, by (service name, job id): one Job per id."""

    def add(self, job: Job) -> Job:
        self[(job.service.name, job.id)] = job
        return job

    def find(self, service: str, job_id: str) -> Job | None:
        return self.get((service, job_id))

    def ids(self, service: str) -> set[str]:
        return {jid for (name, jid) in self if name == service}

    def stop_polling(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel the poll tasks running on ``loop`` (the jobs stay resumable)."""
        for d in [job.driver for job in self.values()]:
            if d is not None and not d.done() and d.get_loop() is loop:
                d.cancel()
