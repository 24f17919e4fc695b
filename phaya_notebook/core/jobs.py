"""A job: created once, polled on the scheduler's timing, finished into a Result.

One :class:`Job` per job id and client. Polling runs in one background task per job
(started at submit), so several waiters (a widget, a ``wait()``, the job log) share
its polls. The job's id is announced (``created`` event) before any poll, so a job log
can record it first. Failures of single polls (5xx, dropped connections) are retried
on the schedule: a job is never given up before its timeout, and after a timeout it
stays resumable with ``AsyncPhaya.job(service, id)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pathlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from .. import catalog
from .errors import JobFailed, JobTimeout, PhayaError, ServerError, TransportError

if TYPE_CHECKING:  # pragma: no cover
    from .client import AsyncPhaya

__all__ = ["Job", "JobEvent", "Result", "set_renderer"]

log = logging.getLogger("phaya_notebook.core")

EventKind = Literal["created", "status", "completed", "failed", "cancelled", "timeout"]


@dataclass(repr=False)
class Result:
    """A finished job: its URLs, the cached files (same order) and the raw answer."""

    job_id: str
    service: str
    media: str
    urls: list[str]
    paths: list[pathlib.Path]
    fields: dict[str, Any]
    credits: float = 0.0
    character_id: str | None = None
    #: The result that is not a file: a transcript, or a Sora character id.
    text: str | None = None
    mime_types: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    download_errors: list[str] = field(default_factory=list)
    #: Set by a Session: writes a rating to its job log (core knows no log).
    rater: Callable[[str, int], Any] | None = field(default=None, compare=False)

    def rate(self, rating: int) -> None:
        """Keep (1), reject (-1) or clear (0) this result in the job log (``jobs()``' rating)."""
        if self.rater is None:
            raise PhayaError("rate: this result belongs to no job log; connect with "
                             "phaya_notebook.connect() to rate results")
        self.rater(self.job_id, rating)

    def __repr__(self) -> str:
        what = (repr(self.text[:60] + ("…" if len(self.text) > 60 else "")) if self.text and not self.character_id
                else self.character_id or ", ".join(str(p) for p in self.paths) or self.url)
        note = "; not cached yet (download failed, retrying)" if not self.cached else ""
        return (f"<Result {self.service} {self.job_id[:8]} {self.media}: {what} "
                f"({catalog.credits_text(self.credits)}{note})>")

    @property
    def cached(self) -> bool:
        """False while a failed download of this paid result waits for its retry."""
        return not self.download_errors

    @property
    def url(self) -> str | None:
        return self.urls[0] if self.urls else None

    @property
    def path(self) -> pathlib.Path | None:
        return self.paths[0] if self.paths else None

    @property
    def mime_type(self) -> str | None:
        return self.mime_types[0] if self.mime_types else None

    def read_bytes(self, i: int = 0) -> bytes:
        return self.paths[i].read_bytes()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        """Rich display through ``phaya_notebook.display.render`` (docs/interfaces.md).

        The display layer is imported lazily, only when a notebook shows a Result (an allowed
        upward arrow, like launch -> sandbox); :func:`set_renderer` can replace it.
        """
        if _RENDERER is not None:
            return _RENDERER(self)._repr_mimebundle_(include=include, exclude=exclude)
        try:
            from ..display import render
        except ImportError:  # a core-only install: plain text
            return {"text/plain": repr(self)}
        return render(self)._repr_mimebundle_(include=include, exclude=exclude)


_RENDERER: Callable[[Result], Any] | None = None


def set_renderer(fn: Callable[[Result], Any] | None) -> None:
    """The display layer's hook: how a Result shows itself in a notebook."""
    global _RENDERER
    _RENDERER = fn


@dataclass
class JobEvent:
    kind: EventKind
    job: Job


ProgressFn = Callable[["Job"], Any]


def _ts(value: Any) -> float | None:
    """ISO 8601 (or epoch seconds) -> epoch seconds; None when unreadable."""
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class Job:
    """One job id of one service; status is normalised (pending..completed/failed/cancelled)."""

    def __init__(self, client: AsyncPhaya, service: catalog.Service, job_id: str, params: dict[str, Any],
                 estimate: catalog.Estimate, *, tags: tuple[str, ...] = (), created_at: float | None = None,
                 charged: float | None = None, raw_status: str | None = None):
        self._client = client
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
        sched = client._scheduler
        self._base_seconds = sched.base_seconds(service, params, client.job_speed)
        self._created_mono = time.monotonic() - max(0.0, time.time() - self.created_at)
        self._polls = 0
        self._late_polls = 0
        self._last_poll_mono = self._created_mono
        self._last_processing_mono: float | None = None
        self._predicted_end: float | None = None  # monotonic, from the server's progress hint
        self._driver: asyncio.Task[None] | None = None
        self._finishing = False
        self._waiting = 0
        self._done_evt: asyncio.Event | None = None
        self._listeners: list[ProgressFn] = []
        self._deadline_mono = self._created_mono + service.timeout_for(params) / client.time_scale

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
        return self._client._scheduler.expected_seconds(self.service.name, self._base_seconds)

    @property
    def elapsed(self) -> float:
        end = self.finished_at if self.finished_at is not None else time.time()
        return max(0.0, end - self.created_at)

    @property
    def progress(self) -> float:
        """0..1 from elapsed time (the server's progress field is not relied on)."""
        if self.status == "completed":
            return 1.0
        if self.done:
            return min(1.0, self.elapsed / max(self.expected_seconds, 1e-6))
        return min(0.99, self.elapsed / max(self.expected_seconds, 1e-6))

    # ------------------------------------------------------------- state from the server

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
        self._predicted_end = self._predict_end(data)
        return changed

    def _predict_end(self, data: dict[str, Any]) -> float | None:
        """When the job should end, from an optional ``progress`` (0..100) and the server's clock.

        The contract does not promise ``progress``; without it (or with nonsense) this is
        None and the scheduler backs off instead. Timing only: nothing else relies on it.
        """
        p = data.get("progress")
        start, at = _ts(data.get("created_at")), _ts(data.get("updated_at"))
        if (not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 < p < 100
                or start is None or at is None or at <= start):
            return None
        total = (at - start) * 100.0 / p
        if total > 20 * max(self._base_seconds, 1e-3):
            return None
        return self._created_mono + total

    def _server_duration(self) -> float | None:
        start, end = _ts(self.fields.get("created_at")), _ts(self.fields.get("updated_at"))
        if start is None or end is None or end < start:
            return None
        return end - start

    # ------------------------------------------------------------- driving

    def _ensure_driver(self) -> asyncio.Task[None] | None:
        if self.done and self._driver is None:
            return None
        here = asyncio.get_running_loop()
        d = self._driver
        if d is not None and not d.done() and d.get_loop() is not here and not d.get_loop().is_running():
            # Its loop is idle or gone (a sync facade between calls, a finished asyncio.run):
            # that task would never move again, so polling carries on here; the old task is
            # cancelled on its own loop, so the job never has two drivers.
            with contextlib.suppress(RuntimeError):
                d.get_loop().call_soon_threadsafe(d.cancel)
            self._driver = d = None
        restart = self._driver is not None and self._driver.done() and time.monotonic() < self._deadline_mono
        if self._driver is None or restart:
            self.timed_out = False
            self._done_evt = asyncio.Event()
            self._driver = asyncio.get_running_loop().create_task(self._drive(), name=f"phaya-job-{self.id[:8]}")
        return self._driver

    async def _drive(self) -> None:
        client = self._client
        sched = client._scheduler
        try:
            while not self.done:
                due = await sched.turn(self, self._deadline_mono)
                if self.done:
                    break
                if time.monotonic() >= self._deadline_mono:
                    self.timed_out = True
                    client._emit("timeout", self)
                    return
                try:
                    data = await client._poll(self, due)
                except (ServerError, TransportError) as exc:
                    log.debug("poll of %s failed (%s); will retry on schedule", self.id, exc)
                    self._count_poll(seen_processing=False)
                    continue
                terminal = catalog.is_terminal(data.get("status"))
                self._count_poll(seen_processing=not terminal)
                changed = self._apply(data)
                if terminal:
                    await self._finish()
                elif changed:
                    client._emit("status", self)
                self._notify()
        finally:
            if self._done_evt is not None:
                self._done_evt.set()

    def _count_poll(self, *, seen_processing: bool) -> None:
        now = time.monotonic()
        if self._polls and now > self._created_mono + self._base_seconds:
            self._late_polls += 1
        self._polls += 1
        self._last_poll_mono = now
        if seen_processing:
            self._last_processing_mono = now

    async def _finish(self) -> None:
        if self._finishing:
            return
        self._finishing = True
        client = self._client
        self.finished_at = time.time()
        duration = self._server_duration()
        if duration is None:
            duration = time.monotonic() - self._created_mono
        if catalog.normalize_status(self.fields.get("status")) == "completed":
            client._scheduler.observe(self.service.name, self._base_seconds, duration)
            self.result = await client._make_result(self)
            self.raw_status = str(self.fields.get("status"))
            self.status = "completed"
            client._settle(self)
            client._emit("completed", self)
        else:
            if self.status == "cancelled" or self.refunded:
                client._release(self)
            client._emit("failed" if self.status == "failed" else "cancelled", self)

    def _notify(self) -> None:
        for fn in list(self._listeners):
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
            driver = self._ensure_driver()
            here = asyncio.get_running_loop()
            if on_progress is not None:
                self._listeners.append(on_progress)
            self._waiting += 1
            try:
                if driver is not None:
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
                            self._notify_one(on_progress)
                    if not driver.done():
                        self.timed_out = True
                        if self._waiting <= 1 and driver.get_loop() is here:  # nobody else waits
                            driver.cancel()
                            with contextlib.suppress(asyncio.CancelledError):
                                await driver
                        self._client._emit("timeout", self)
            finally:
                self._waiting -= 1
                if on_progress is not None:
                    self._listeners.remove(on_progress)
            if driver is not None and driver.done() and not driver.cancelled():
                exc = driver.exception()
                if exc is not None:
                    raise exc
        if on_progress is not None:
            self._notify_one(on_progress)
        return self._outcome()

    def _notify_one(self, fn: ProgressFn) -> None:
        try:
            fn(self)
        except Exception:
            log.exception("on_progress callback failed")

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
        data = await self._client._poll(self, time.monotonic(), interactive=True)
        terminal = catalog.is_terminal(data.get("status"))
        self._count_poll(seen_processing=not terminal)
        was_done = self.done
        changed = self._apply(data)
        if terminal and not was_done:
            await self._finish()
        elif changed:
            self._client._emit("status", self)
        self._notify()
        return self

    async def cancel(self) -> bool:
        """Cancel while processing (only services with cancel); True if the server agreed."""
        if not self.service.cancel:
            raise PhayaError(f"{self.service.name} jobs cannot be cancelled (the service has no cancel endpoint)")
        if self.done:
            return False
        ok = await self._client._cancel(self)
        if ok:
            self.raw_status = self.service.server_status("cancelled")
            self.status = "cancelled"
            self.refunded = True
            self.finished_at = time.time()
            self._client._release(self)
            if self._driver is not None and not self._driver.done():
                self._driver.cancel()
            self._client._emit("cancelled", self)
            self._notify()
        return ok
