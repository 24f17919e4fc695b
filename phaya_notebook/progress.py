"""Live progress for the blocking calls of a notebook: one line per job, updated in place.

Why a display handle and a ticking task: ``phaya.generate`` (and ``compare``, ``resume``)
block the cell while the sync facade runs the kernel's own loop (re-entrant through
nest_asyncio). Tasks keep running on that loop, so a task here ticks every half second
and updates one ``display(..., display_id=True)`` output; ipykernel sends the update on
its IOPub thread, so the browser sees it while the cell is still busy. When the call ends
the line is replaced by the result (generate) or by a closing summary (compare, resume).

Outside a kernel (plain scripts, IPython in a terminal) :func:`live` returns None and
nothing extra is printed. IPython is imported only when a kernel is already running it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .catalog import credits_text
from .display import Rendered, esc, mark_shown

__all__ = ["LiveProgress", "Row", "in_kernel", "live"]

T = TypeVar("T")
TICK_SECONDS = 0.5
_ICONS = {"completed": "✅", "failed": "❌", "cancelled": "⏹", "lost": "❔", "timeout": "⏱"}


def in_kernel() -> bool:
    """True in a Jupyter kernel (ipykernel's shell), False in scripts and terminal IPython."""
    mod = sys.modules.get("IPython")
    if mod is None:
        return False
    shell = mod.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


@dataclass
class Row:
    """One job's line: known before the create request (label, estimate), then its Job."""

    label: str
    estimate: float | None = None
    job: Any = None
    note: str = ""  # a final word when there is no job (not started, lost, ...)
    started: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> bool:
        return bool(self.job is not None and self.job.done) or bool(self.note)

    def credits(self) -> float | None:
        job = self.job
        if job is not None and job.done:
            return 0.0 if job.refunded else (job.charged if job.charged is not None else self.estimate)
        return None

    def text(self) -> str:
        job = self.job
        if job is None:
            secs = time.monotonic() - self.started
            state = self.note or "submitting"
            return f"⏳ {self.label} · {state} · {secs:.0f} s · {credits_text(self.estimate)} (estimate)"
        status = "timeout" if getattr(job, "timed_out", False) and not job.done else str(job.status)
        elapsed = float(getattr(job, "elapsed", 0.0) or 0.0)
        expected = float(getattr(job, "expected_seconds", 0.0) or 0.0)
        icon = _ICONS.get(status, "⏳")
        if job.done:
            money = "refunded" if job.refunded else credits_text(self.credits())
            tail = f" · {job.error}" if job.error and status != "completed" else ""
            return f"{icon} {self.label} · {status} · {elapsed:.0f} s · {money}{tail}"
        return (f"{icon} {self.label} · {status} · {elapsed:.0f} s / ~{expected:.0f} s · "
                f"{credits_text(self.estimate)}")


class LiveProgress:
    """An output area of one line per job, plus a "k of n done" header for several jobs."""

    def __init__(self, *, title: str = "", tick: float = TICK_SECONDS):
        from IPython.display import display

        self.title = title
        self.tick = tick
        self.rows: list[Row] = []
        self._shown = ""
        self.handle = display(Rendered({"text/plain": title or "…"}), display_id=True)

    def add(self, label: str, estimate: float | None = None) -> Row:
        row = Row(label, estimate)
        self.rows.append(row)
        return row

    def header(self) -> str:
        if len(self.rows) < 2 and not self.title:
            return ""
        done = sum(1 for r in self.rows if r.done)
        spent = sum(r.credits() or 0.0 for r in self.rows)
        head = f"{done} of {len(self.rows)} done, {credits_text(round(spent, 6))} so far"
        return f"{self.title}: {head}" if self.title else head

    def lines(self) -> list[str]:
        head = self.header()
        return ([head] if head else []) + [r.text() for r in self.rows]

    def refresh(self) -> None:
        """Send the lines if they changed (at most one message per tick)."""
        lines = self.lines()
        text = "\n".join(lines)
        if text == self._shown:
            return
        self._shown = text
        body = "".join(f"<div>{esc(ln)}</div>" for ln in lines)
        self.handle.update(Rendered({"text/html": f'<div class="phaya-live" style="font-family:monospace;'
                                                  f'font-size:12px">{body}</div>', "text/plain": text}))

    async def watch(self, awaitable: Awaitable[T], *, sync: Callable[[], Any] | None = None) -> T:
        """Await ``awaitable`` while ticking the lines; returns its result (or raises its error).

        ``sync`` runs before every tick (e.g. to pick up jobs created meanwhile).
        """
        fut = asyncio.ensure_future(awaitable)
        try:
            while not fut.done():
                if sync is not None:
                    sync()
                self.refresh()
                await asyncio.wait({fut}, timeout=self.tick)
        finally:
            if not fut.done():
                fut.cancel()
            if sync is not None:
                sync()
            self.refresh()
        return fut.result()

    def replace(self, obj: Any) -> None:
        """Put ``obj`` (a result) where the lines were; the cell's Out[] then stays one line."""
        self._shown = ""
        self.handle.update(obj)
        mark_shown(obj)

    def clear(self) -> None:
        self._shown = ""
        self.handle.update(Rendered({"text/plain": ""}))


def live(title: str = "") -> LiveProgress | None:
    """A LiveProgress in a Jupyter kernel, None elsewhere (plain scripts print nothing)."""
    return LiveProgress(title=title) if in_kernel() else None
