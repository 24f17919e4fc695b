"""The per-key request budget: every request of a key in this process draws from one.

Phaya allows 60 requests per minute per key and answers 429 beyond. Creates, polls,
API downloads and chat of every client, job, widget and magic using a key share one
:class:`RequestBudget` (see :func:`budget_for`), so together they stay under the limit.
Slots go to the most urgent waiter first (interactive before background, then by
priority), which is how the poll scheduler puts a watched job first.

The budget is loop-agnostic: state sits behind a thread lock and waiters are woken on
their own event loop, so a sync facade's private loop and a kernel's loop can share it.

Across processes (two notebooks, Voila kernels, a teammate on the same key), a budget
can be given a :class:`SharedWindow` (:meth:`RequestBudget.share`): the job log's store
of every slot taken with the key (by its hash) and of Retry-After pauses. A slot is then
granted only when the shared window has one too; the order among this process's waiters
(its priorities) stays local. If the shared store fails, the budget carries on alone and
says so once in the log, since a job must never stop because of bookkeeping.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["RequestBudget", "SharedWindow", "budget_for", "key_id"]

_log = logging.getLogger("phaya_notebook.budget")


class SharedWindow(Protocol):
    """One key's request window in a store every process using the key can reach.

    Times are the store's own clock (seconds), so processes agree on them.
    """

    def claim(self, limit: int, window: float) -> tuple[int | None, float]:
        """Take a slot if the window has one: ``(slot id, 0)``, else ``(None, seconds to wait)``."""
        ...

    def settle(self, slot: int) -> None:
        """The answer arrived: the slot counts from now."""
        ...

    def pause(self, seconds: float) -> None:
        """A Retry-After: nobody on the key sends for ``seconds``."""
        ...

    def state(self, window: float) -> tuple[int, float]:
        """(slots taken in the last ``window`` seconds, seconds of pause left)."""
        ...

_seq = itertools.count()


@dataclass(order=True)
class _Waiter:
    key: tuple[int, float, int]
    loop: asyncio.AbstractEventLoop = field(compare=False)
    fut: asyncio.Future[None] = field(compare=False)
    granted: bool = field(default=False, compare=False)
    cell: list[float] | None = field(default=None, compare=False)
    gone: bool = field(default=False, compare=False)


class RequestBudget:
    """A sliding window of ``requests_per_minute`` per (scaled) minute, plus Retry-After pauses.

    ``time_scale`` divides the window (for a time-scaled sandbox). A small margin on the
    window absorbs the gap between when we send and when the server counts.
    """

    def __init__(self, requests_per_minute: int = 60, *, time_scale: float = 1.0):
        if requests_per_minute < 1:
            raise ValueError("requests_per_minute must be at least 1")
        self.limit = int(requests_per_minute)
        self.time_scale = float(time_scale)
        self.window = 60.0 / self.time_scale + 0.05
        self._sent: list[list[float]] = []  # one cell per slot: [time it counts from]
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self._waiters: list[_Waiter] = []
        self.granted = 0
        self.rate_limited = 0  # 429s reported back to us
        self.scheduler: Any = None  # the PollScheduler of this budget (set by core.scheduler)
        self.shared: SharedWindow | None = None
        self._shared_next = 0.0  # monotonic time before which the shared window said "wait"
        self.shared_waits = 0    # times the shared window made this process wait (other processes' slots)

    # ------------------------------------------------------------- state

    def _prune(self, now: float) -> None:
        if self._sent and min(c[0] for c in self._sent) <= now - self.window:
            self._sent = [c for c in self._sent if c[0] > now - self.window]

    def _wait_time(self, now: float) -> float:
        """Seconds until a slot is free (0 if one is free now)."""
        self._prune(now)
        wait = max(0.0, self._paused_until - now, self._shared_next - now)
        if len(self._sent) >= self.limit:
            times = sorted(c[0] for c in self._sent)
            wait = max(wait, times[len(times) - self.limit] + self.window - now)
        return wait

    def settle(self, cell: list[float] | None) -> None:
        """The answer arrived: the server counted the request by now, so the slot counts from now.

        Timing slots from the answer, not the send, keeps bursts (whose requests the server
        counts a little later than we sent them) from running ahead of the server's window.
        """
        if cell is not None:
            with self._lock:
                cell[0] = max(cell[0], time.monotonic())
                if len(cell) > 1 and self.shared is not None:
                    self.shared_call(self.shared.settle, int(cell[1]))

    @property
    def remaining(self) -> int:
        """Requests that could be sent right now without waiting (by every process on the key)."""
        with self._lock:
            now = time.monotonic()
            self._prune(now)
            used, paused = len(self._sent), self._paused_until - now
            if self.shared is not None:
                got = self.shared_call(self.shared.state, self.window)
                if got is not None:
                    used, paused = max(used, got[0]), max(paused, got[1])
            if paused > 0:
                return 0
            return max(0, self.limit - used)

    @property
    def paused_for(self) -> float:
        with self._lock:
            paused = self._paused_until - time.monotonic()
            if self.shared is not None:
                got = self.shared_call(self.shared.state, self.window)
                if got is not None:
                    paused = max(paused, got[1])
            return max(0.0, paused)

    @property
    def waiting(self) -> int:
        with self._lock:
            return sum(1 for w in self._waiters if not w.gone)

    def __repr__(self) -> str:
        return f"<RequestBudget {self.remaining}/{self.limit} left, window {self.window:.1f}s>"

    def rescale(self, time_scale: float) -> None:
        """Adopt a server's time scale learned after creation (a sandbox saying how fast it runs)."""
        with self._lock:
            self.time_scale = float(time_scale)
            self.window = 60.0 / self.time_scale + 0.05
        if self.scheduler is not None:
            self.scheduler.rescale(self.time_scale)

    # ------------------------------------------------------------- sharing

    def share(self, shared: SharedWindow | None) -> None:
        """Coordinate with every process using this key through ``shared`` (None: this process alone)."""
        with self._lock:
            self.shared = shared
            self._shared_next = 0.0

    def shared_call(self, fn: Any, *args: Any) -> Any:
        """Call the shared store (the scheduler shares observations through it too); on failure
        carry on alone (said once), returning None."""
        try:
            return fn(*args)
        except Exception as exc:  # a locked or broken store must not stop any request
            if self.shared is not None:
                _log.warning("shared request budget unavailable (%s: %s); this process goes on with "
                             "its own budget", type(exc).__name__, exc)
            self.shared = None
            return None

    def _claim_shared(self, now: float) -> tuple[bool, float | None]:
        """(may send, shared slot id): ask the shared window unless it said to wait until later."""
        if self.shared is None:
            return True, None
        if now < self._shared_next:
            return False, None
        got = self.shared_call(self.shared.claim, self.limit, self.window)
        if got is None:
            return True, None
        slot, wait = got
        if slot is None:
            self.shared_waits += 1
            self._shared_next = now + max(wait, 0.001)
            return False, None
        return True, float(slot)

    # ------------------------------------------------------------- acting

    def pause(self, seconds: float) -> None:
        """Honour a Retry-After: nobody using this key sends for ``seconds`` (in any process)."""
        with self._lock:
            self.rate_limited += 1
            self._paused_until = max(self._paused_until, time.monotonic() + max(0.0, seconds))
            if self.shared is not None:
                self.shared_call(self.shared.pause, max(0.0, seconds))

    def _dispatch(self, now: float) -> None:
        """Give free slots to the best waiters (called with the lock held)."""
        while self._waiters and self._wait_time(now) <= 0:
            if self._waiters[0].gone:
                heapq.heappop(self._waiters)
                continue
            ok, slot = self._claim_shared(now)
            if not ok:
                return
            w = heapq.heappop(self._waiters)
            w.granted = True
            w.cell = [now] if slot is None else [now, slot]
            self._sent.append(w.cell)
            self.granted += 1
            try:
                w.loop.call_soon_threadsafe(_resolve, w.fut)
            except RuntimeError:  # that loop is closed: the slot is spent, nobody waits
                pass

    def try_acquire(self) -> bool:
        """Take a slot now if one is free and nobody is queued (no waiting)."""
        with self._lock:
            now = time.monotonic()
            if self._waiters or self._wait_time(now) > 0:
                return False
            ok, slot = self._claim_shared(now)
            if not ok:
                return False
            self._sent.append([now] if slot is None else [now, slot])
            self.granted += 1
            return True

    async def acquire(self, priority: float = 0.0, *, background: bool = False) -> list[float] | None:
        """Wait for a slot. Lower ``priority`` goes first; background waits behind interactive.

        Returns the slot's cell, to pass to :meth:`settle` when the answer arrives.
        """
        loop = asyncio.get_running_loop()
        w = _Waiter((1 if background else 0, priority, next(_seq)), loop, loop.create_future())
        with self._lock:
            heapq.heappush(self._waiters, w)
            self._dispatch(time.monotonic())
        try:
            while not w.granted:
                with self._lock:
                    delay = self._wait_time(time.monotonic())
                if not w.fut.done():
                    await asyncio.wait([w.fut], timeout=max(delay, 0.002))
                with self._lock:
                    self._dispatch(time.monotonic())
        except BaseException:
            with self._lock:
                w.gone = True
            raise
        return w.cell


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def key_id(base_url: str, api_key: str) -> str:
    """How shared stores name a key: 24 hex digits of SHA-256 of base URL and key, never the key."""
    return hashlib.sha256(f"{base_url.rstrip('/')}\n{api_key}".encode()).hexdigest()[:24]


_REGISTRY: dict[tuple[str, str], RequestBudget] = {}
_REG_LOCK = threading.Lock()


def budget_for(base_url: str, api_key: str, requests_per_minute: int = 60,
               time_scale: float = 1.0) -> RequestBudget:
    """The one budget of (base_url, key) in this process; created by the first caller."""
    ident = (base_url.rstrip("/"), api_key)
    with _REG_LOCK:
        b = _REGISTRY.get(ident)
        if b is None:
            b = RequestBudget(requests_per_minute, time_scale=time_scale)
            _REGISTRY[ident] = b
        return b
