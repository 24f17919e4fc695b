"""One job as a card: progress while it runs, then its media, cost, duration and status.

The card is driven by :meth:`JobCard.run`, a coroutine the owning widget starts as a task:
it waits for the job through the core (which owns polling and the request budget) and
meanwhile ticks the progress bar from elapsed versus expected time. Media goes in through
``Output.outputs`` — never ``with output:`` from a task (ipywidgets #3993, #4001).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from .. import display
from ..catalog import credits_text
from ..display import esc as _e
from .rating import RateButtons

__all__ = ["JobCard"]

TICK_SECONDS = 0.5
_render_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary())


async def render_off_loop(result: Any) -> display.Rendered:
    """Render (Pillow thumbnails) in the loop's executor, one at a time: off the loop, and never
    several threads at once competing with the loop for the GIL (that is what makes lag spikes).
    The default executor is the loop's own, so no thread outlives the loop."""
    loop = asyncio.get_running_loop()
    gate = _render_gates.get(loop)
    if gate is None:
        try:  # import here, once: an import inside the worker would hold the GIL for its duration
            import PIL.Image  # noqa: F401
        except ImportError:  # pragma: no cover - display falls back to links
            pass
        gate = _render_gates[loop] = asyncio.Semaphore(1)
    async with gate:
        return await loop.run_in_executor(None, display.render, result)


class JobCard(w.VBox):
    """A running, then finished, job. CSS: ``phaya-jobcard``; ``phaya-result`` once finished."""

    def __init__(self, job: Any, *, spawn: Callable[[Any], Any] | None = None, title: str | None = None,
                 tick: float = TICK_SECONDS, rate: Callable[[str, int], Any] | None = None):
        self.job = job
        self.rate = rate
        self.rating: RateButtons | None = None
        self.spawn = spawn
        self.tick = tick
        self.result: Any = None
        self.error: BaseException | None = None
        self.seq = 0  # order of the request that made it (the studio sorts by it)
        self.outcome = "running"  # running | completed | failed | cancelled | timeout | error
        svc = job.service
        prompt = (getattr(job, "params", None) or {}).get("prompt")
        head = title or f"{svc.label} ({svc.name})" + (f" — {prompt[:80]}" if prompt else "")
        self.title = w.HTML(f"<b>{_e(head)}</b>")
        self.progress = w.FloatProgress(value=0.0, min=0.0, max=1.0, bar_style="info",
                                        layout=w.Layout(width="320px"))
        self.progress.add_class("phaya-progress")
        self.status = w.HTML("")
        self.status.add_class("phaya-status")
        self.cancel_button = w.Button(description="Cancel", icon="stop", button_style="warning",
                                      tooltip="Ask the server to cancel (the credits are refunded)",
                                      layout=w.Layout(width="auto", display="" if svc.cancel else "none"))
        self.cancel_button.add_class("phaya-cancel")
        self.cancel_button.on_click(self._on_cancel)
        self.media = w.Output(layout=w.Layout(max_width="660px"))
        self.info = w.HTML("")
        self.info.add_class("phaya-info")
        super().__init__([self.title, w.HBox([self.progress, self.status, self.cancel_button]),
                          self.media, self.info],
                         layout=w.Layout(border="1px solid #ddd", padding="6px", margin="4px 0"))
        self.add_class("phaya-jobcard")
        self.refresh()

    # ------------------------------------------------------------ live state
    def refresh(self) -> None:
        """Progress and status text from the job's own fields (no request)."""
        job = self.job
        expected = float(getattr(job, "expected_seconds", 0.0) or 0.0)
        elapsed = float(getattr(job, "elapsed", 0.0) or 0.0)
        if not job.done:
            frac = min(0.99, elapsed / expected) if expected > 0 else 0.0
            if abs(frac - self.progress.value) >= 0.005:
                self.progress.value = frac
            text = f"{_e(job.status)} · {elapsed:.0f} s of ~{expected:.0f} s"
            if self.status.value != text and not self.cancel_button.disabled:
                self.status.value = text

    async def run(self) -> Any:
        """Wait for the job, ticking the bar; then show the outcome. Returns the result or None."""
        waiter = asyncio.ensure_future(self.job.wait())
        try:
            while not waiter.done():
                self.refresh()
                await asyncio.wait({waiter}, timeout=self.tick)
            self.result = waiter.result()
        except asyncio.CancelledError:
            waiter.cancel()
            raise
        except Exception as exc:  # JobFailed / JobTimeout / transport trouble: shown, not swallowed
            self.error = exc
        await self._show_outcome()
        return self.result

    # ------------------------------------------------------------ outcome
    async def _show_outcome(self) -> None:
        job = self.job
        self.cancel_button.layout.display = "none"
        duration = self._duration()
        if self.result is not None:
            self.outcome = "completed"
            self.progress.value = 1.0
            self.progress.bar_style = "success"
            rendered = await render_off_loop(self.result)
            self.media.outputs = (rendered.output(),)
            cost = getattr(self.result, "credits", None)
            if cost is None:
                cost = getattr(job, "charged", None)
            self.status.value = "completed"
            self.info.value = f"{credits_text(cost)} · {duration:.1f} s · completed"
            if self.rate is not None:
                self.rating = RateButtons(str(job.id), self.rate)
                self.children = (*self.children, self.rating)
        else:
            exc = self.error
            status = str(getattr(job, "status", "") or "")
            self.outcome = status if status in ("failed", "cancelled") else (
                "timeout" if type(exc).__name__ == "JobTimeout" else "error")
            self.progress.bar_style = "danger" if self.outcome != "cancelled" else "warning"
            reason = getattr(exc, "error", None) or getattr(job, "error", None) or (str(exc) if exc else "")
            refunded = bool(getattr(exc, "refunded", False) or getattr(job, "refunded", False))
            amount = getattr(job, "charged", None) or getattr(getattr(job, "estimate", None), "credits", None)
            money = (f"{credits_text(amount)} refunded" if refunded else
                     "not refunded yet" if self.outcome != "timeout" else "still running on the server (resumable)")
            self.status.value = f'<span style="color:#b00">{_e(self.outcome)}</span>'
            self.info.value = (f'<span style="color:#b00">{_e(self.outcome)}: {_e(reason)}</span>'
                               f" · {_e(money)} · {duration:.1f} s")
        self.add_class("phaya-result")

    def _duration(self) -> float:
        job = self.job
        end = getattr(job, "finished_at", None) or time.time()
        start = getattr(job, "created_at", None) or end
        return max(0.0, float(end) - float(start))

    # ------------------------------------------------------------ cancel
    def _on_cancel(self, _: Any = None) -> None:
        self.cancel_button.disabled = True
        self.status.value = "cancelling…"
        if self.spawn is not None:
            self.spawn(self._cancel())

    async def _cancel(self) -> None:
        ok = await self.job.cancel()
        if not ok:
            self.status.value = "the server did not cancel it (no longer processing)"
