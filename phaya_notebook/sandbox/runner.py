"""Job lifecycles: the clock decides the visible status, a task makes the media.

A job's status walks through its service's non-terminal values (server casing) as its
duration elapses; media is made from the moment of creation in a deadline-ordered pool
(``pools``: video apart from images and sound), so the event loop never waits on Pillow
or FFmpeg and a quick job is not queued behind heavy ones. The job turns terminal when
both the duration has passed and the media exists. Seedream is charged here, on completion; failures and
cancellations are refunded here.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future
from typing import Any

from phaya_notebook import catalog

from . import producers
from .pools import MediaPools
from .state import Job, NotEnoughCredits, State, iso

FAIL, STUCK, SLOW = "[fail]", "[stuck]", "[slow]"
SLOW_SECONDS = 2.0


def markers(params: Any) -> set[str]:
    """The fault markers found in any text of a body (nested lists and objects too)."""
    found: set[str] = set()
    if isinstance(params, str):
        low = params.lower()
        found.update(m for m in (FAIL, STUCK, SLOW) if m in low)
    elif isinstance(params, dict):
        for v in params.values():
            found |= markers(v)
    elif isinstance(params, (list, tuple)):
        for v in params:
            found |= markers(v)
    return found


class Runner:
    def __init__(self, state: State, ctx: producers.Context, pools: MediaPools):
        self.state, self.ctx, self.pools = state, ctx, pools

    # ------------------------------------------------------------ lifecycle

    def launch(self, job: Job) -> None:
        """Start making the media now (due when the job is), and the clock that finishes it."""
        if job.stuck:
            return
        work: Future[Any] | None = None
        if not job.fail:
            pool = self.pools.for_media(job.service.media)
            work = pool.submit(producers.PRODUCERS[job.service.name], self.ctx, dict(job.params),
                               due=job.started + job.duration)
        job.task = asyncio.get_running_loop().create_task(self._run(job, work))

    async def _run(self, job: Job, work: Future[Any] | None) -> None:
        try:
            await asyncio.sleep(max(0.0, job.started + job.duration - time.monotonic()))
            if work is None:
                self.finish(job, "failed", error="Generation failed (sandbox [fail] marker); credits refunded")
                return
            try:
                result = await asyncio.wrap_future(work)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a generator bug must fail the job, not the server
                self.finish(job, "failed", error=f"Generation failed: {exc}"[:500])
                return
            self.finish(job, "completed", result=result)
        finally:
            if work is not None and not work.done():
                work.cancel()  # a cancelled job's queued media is dropped

    def finish(self, job: Job, status: str, result: dict[str, Any] | None = None, error: str | None = None) -> None:
        """Make a job terminal once: charge on completion where due, refund otherwise."""
        st = self.state
        with st.lock:
            if job.terminal:
                return
            if status == "completed":
                status, error = self._settle(job, result or {})
            job.terminal, job.error, job.updated_at = status, error, time.time()
            if status == "completed":
                job.result = result or {}
                if job.service.name == "sora2-character":
                    job.account.characters.append({"character_id": job.result.get("character_id"),
                                                   "job_id": job.id, "created_at": iso(job.updated_at)})
                    st.save_account(job.account)
            else:
                st.refund(job)
            st.save(job)

    def _settle(self, job: Job, result: dict[str, Any]) -> tuple[str, str | None]:
        st = self.state
        if job.service.charge_on == "completion":
            try:
                st.charge(job.account, job.price, job.service.name, job.id)
                job.charged = job.price
            except NotEnoughCredits as exc:
                return "failed", str(exc)
        if job.service.name == "video-download":
            rec = self.ctx.hosted(result.get("download_url"))
            if rec is not None:
                due = catalog.estimate(job.service, _sent(job), {"size_mb": rec.size / 1e6}).credits
                extra = round(due - job.charged, 6)
                if extra > 0 and job.account.balance >= extra:
                    st.charge(job.account, extra, job.service.name, job.id)
                    job.charged = round(job.charged + extra, 6)
        return "completed", None

    def cancel(self, job: Job) -> tuple[bool, str]:
        with self.state.lock:
            if job.terminal:
                return False, f"Job is {job.terminal}; only a processing job can be cancelled"
            self.finish(job, "cancelled", error="Cancelled by the user")
            job.cached = None  # the canceller sees the cancellation at once
        if job.task is not None:
            job.task.cancel()
        return True, f"Job cancelled; {catalog.credits_text(job.charged)} refunded"

    def relaunch(self) -> int:
        """Restart the clocks (and media) of jobs a previous run left unfinished; their due
        times are absolute, so a job that was due during the downtime finishes at once."""
        with self.state.lock:
            waiting = [j for j in self.state.jobs.values() if j.terminal is None and j.task is None]
        for job in waiting:
            self.launch(job)
        return len(waiting)

    def shutdown(self) -> None:
        for job in list(self.state.jobs.values()):
            if job.task is not None and not job.task.done():
                job.task.cancel()

    # ------------------------------------------------------------ what pollers see

    def view(self, job: Job, now: float | None = None) -> tuple[str, int]:
        """(server-cased status, progress 0..100) at this moment."""
        svc = job.service
        if job.terminal:
            return svc.server_status(job.terminal), 100 if job.terminal == "completed" else 0
        now = time.monotonic() if now is None else now
        frac = (now - job.started) / job.duration if job.duration > 0 else 1.0
        if job.stuck:
            frac = min(frac, 0.95)
        flow = svc.statuses
        idx = min(len(flow) - 1, max(0, int(frac * len(flow))))
        return flow[idx], max(0, min(99, int(frac * 100)))

    def reported(self, job: Job) -> float:
        """The ``credits_used`` a client is told: the charge, or 0 under the live quirk."""
        quiet = self.state.config.quirks.zero_credits_used and job.service.name in catalog.SERVICES
        return 0.0 if quiet else float(job.charged)

    def answer(self, job: Job, host: str) -> dict[str, Any]:
        status, progress = self.view(job)
        out: dict[str, Any] = {
            "success": True, "job_id": job.id, "status": status, "error": job.error,
            "credits_used": self.reported(job), "refunded": job.refunded, "created_at": iso(job.created_at),
            "updated_at": iso(job.updated_at if job.terminal else time.time()), "progress": progress}
        for name in job.service.result_fields:
            out[name] = absolute(job.result.get(name), host) if job.terminal == "completed" else None
        if job.terminal == "completed":  # live: completed answers say how long the job took
            out["processing_time_ms"] = int(round((job.updated_at - job.created_at) * 1000))
        return out

    def cached_answer(self, job: Job, host: str, interval: float) -> dict[str, Any]:
        """The status answer, reused for ``interval`` seconds while the job is pending."""
        now = time.monotonic()
        hit = job.cached
        if hit is not None and now < hit[0]:
            return hit[1]
        ans = self.answer(job, host)
        if not catalog.is_terminal(ans["status"]) and interval > 0:
            job.cached = (now + interval, ans)
        return ans


def absolute(value: Any, host: str) -> Any:
    if isinstance(value, str) and value.startswith("/files/"):
        return host + value
    if isinstance(value, list):
        return [absolute(v, host) for v in value]
    return value


def _sent(job: Job) -> dict[str, Any]:
    return {k: v for k, v in job.params.items() if k in {p.name for p in job.service.params}}
