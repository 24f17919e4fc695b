"""The ledger: every credit rule of one client, in one place.

Why a module of its own: money used to be checked in three places that disagreed (the
client per job, ``compare`` per grid, the magics per command) and the compare grid widget
checked none of them. :class:`Ledger` owns them all, so every caller refuses the same
things with the same words:

- **the confirm threshold** (``confirm_above``): one job (:meth:`Ledger.check_confirm`)
  or a whole batch (:meth:`Ledger.check_batch`) above it needs an explicit confirm;
- **the session budget** (``max_credits``): each job or chat call reserves its estimate
  before its request (:meth:`Ledger.reserve`), the reservation follows the job
  (:meth:`Ledger.attach`, read back with :meth:`Ledger.reserved`), becomes what the server
  charged (:meth:`Ledger.settle`, :meth:`Ledger.settle_charge`) or comes back on a refund
  (:meth:`Ledger.release`); a batch is checked whole before its first job
  (:meth:`Ledger.check_batch`); what is left is said in one place
  (:attr:`Ledger.budget_left`, :meth:`Ledger.budget_text`);
- **the key's daily cap** (``core/daily.py``, shared by every process on the key):
  reserved, attached, settled and released together with the session budget;
- **the balance check**: a job at or above the threshold needs the balance to cover it;
  one ``/user/credits`` read serves a burst of submits (:meth:`Ledger.check_balance`), and
  a session reads the balance once before its first job (:meth:`Ledger.read_before_first_job`)
  so the balance can name a charge nothing else names (``core/attribution.py``);
- **observed prices** (``core/observed.py``): an estimate is the higher of the catalog's
  price and the last real charge for the same parameters (:meth:`Ledger.price`).

The ledger sends no request of its own: the client gives it the one call that reads the
balance. Reservations are kept here, keyed by the job's identity and dropped with the job
(``weakref.finalize``), never written on the Job.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .. import catalog
from .attribution import MoneyTimeline
from .daily import DailyCap
from .errors import BudgetExceeded, ConfirmationRequired, InsufficientCredits
from .observed import ObservedPrices, credible_charge

__all__ = ["Ledger", "Reservation", "batch_line"]

log = logging.getLogger("phaya_notebook.core")

#: Float slack of the budget comparisons (credits have at most a few decimals).
EPS = 1e-9


@dataclass(frozen=True)
class Reservation:
    """Credits held against ``max_credits``, and the daily cap's reservation id (if any)."""

    credits: float
    daily: int | None = None


def batch_line(what: str, jobs: int, total: float) -> str:
    """How a batch and its price are named in every announcement and refusal.

    "compare: 2 prompt(s) x 3 model(s) x 1 = 6 jobs, 9 credits in total"; one job:
    "text-to-image = 1 job, 1 credit".
    """
    if jobs == 1:
        return f"{what} = 1 job, {catalog.credits_text(total)}"
    return f"{what} = {jobs} jobs, {catalog.credits_text(total)} in total"


class Ledger:
    """The credit rules of one client (thread-safe: a sync facade and a kernel may share it).

    ``read_balance`` is the client's balance request (it also records the reading on the
    timeline); ``reuse_for`` says for how many seconds a reading may serve later submits.
    """

    def __init__(self, *, max_credits: float | None = None, confirm_above: float = 10.0,
                 read_balance: Callable[[], Awaitable[float]] | None = None,
                 reuse_for: Callable[[], float] = lambda: 2.0):
        self.max_credits = max_credits
        self.confirm_above = confirm_above
        #: the key's daily spend cap shared with every process using the key (set by a Session)
        self.daily_cap: DailyCap | None = None
        #: last real charges per service and price basis: estimates use the higher (observed.py)
        self.observed = ObservedPrices()
        #: balance readings and money spans, to attribute charges nothing else names (attribution.py)
        self.timeline = MoneyTimeline()
        self._read_balance = read_balance
        self._reuse_for = reuse_for
        self._lock = threading.RLock()  # re-entrant: a job's finalizer may run inside (GC)
        self._committed = 0.0  # estimates of jobs created or being created (minus releases)
        #: id(job) -> what it holds; an entry leaves with its job (weakref.finalize), so a Job
        #: needs to be weak-referenceable, not hashable
        self._held: dict[int, Reservation] = {}
        #: (when, balance, committed by others then): one reading serves a burst of submits
        self._balance_cache: tuple[float, float, float] | None = None
        #: (loop, task) of the balance read before the first job, shared by a burst of submits
        self._first_reading: tuple[asyncio.AbstractEventLoop, asyncio.Task[float]] | None = None

    def __repr__(self) -> str:
        cap = "no max_credits" if self.max_credits is None else f"max_credits={self.max_credits:g}"
        return f"<Ledger committed {self.committed:g} ({cap}), confirm_above={self.confirm_above:g}>"

    # ------------------------------------------------------------ prices and the confirm rule

    def price(self, svc: catalog.Service, estimate: catalog.Estimate) -> catalog.Estimate:
        """The estimate to guard money with: the catalog's, or the higher price last charged."""
        return self.observed.price(svc, estimate)

    def check_confirm(self, name: str, est: catalog.Estimate, confirmed: bool) -> None:
        """One job above ``confirm_above`` needs ``confirm=True`` (ConfirmationRequired, no request)."""
        if est.credits > self.confirm_above and not confirmed:
            raise ConfirmationRequired(
                f"{name} costs about {catalog.credits_text(est.credits)} ({est.basis}), above confirm_above="
                f"{self.confirm_above:g}: pass confirm=True to run it", estimate=est)

    # ------------------------------------------------------------ the session budget

    @property
    def committed(self) -> float:
        """Estimated credits of jobs created (or being created), minus refunds, plus chat calls."""
        with self._lock:
            return self._committed

    @property
    def budget_left(self) -> float | None:
        """Credits this client may still commit under ``max_credits`` (None without one)."""
        if self.max_credits is None:
            return None
        return max(0.0, self.max_credits - self.committed)

    def budget_text(self) -> str | None:
        """"Budget left: 3 of max_credits=3" (plus the daily cap's rest), None without limits."""
        parts = []
        left = self.budget_left
        if left is not None and self.max_credits is not None:
            parts.append(f"Budget left: {left:g} of max_credits={self.max_credits:g}")
        day = self._daily_left()
        if day is not None and self.daily_cap is not None:
            parts.append(f"daily cap left: {day:g} of {self.daily_cap.source}={self.daily_cap.cap:g}")
        return "; ".join(parts) or None

    def reserve(self, credits: float, what: str = "job") -> Reservation:
        """Hold ``credits`` before a request: the session budget, then the key's daily cap.

        BudgetExceeded (naming the limit and what is left) when either would be overshot;
        a refusal holds nothing. ``what`` is "job", "chat call" or "embedding call".
        """
        with self._lock:
            if self.max_credits is not None and self._committed + credits > self.max_credits + EPS:
                left = max(0.0, self.max_credits - self._committed)
                amount = f"~{credits:g}" if what == "job" else f"up to {credits:g}"
                raise BudgetExceeded(
                    f"this {what} ({amount} credits) would exceed the session budget max_credits="
                    f"{self.max_credits:g} ({left:g} left)"
                    + ("; a smaller max_tokens lowers that" if what == "chat call" else ""),
                    estimate=credits, remaining=left)
            self._committed += credits
        if self.daily_cap is None:
            return Reservation(credits)
        try:
            return Reservation(credits, self.daily_cap.reserve(credits, what))
        except BaseException:
            self.unreserve(credits)
            raise

    def unreserve(self, credits: float) -> None:
        """Give ``credits`` back to the session budget (never below zero; negative: take more)."""
        with self._lock:
            self._committed = max(0.0, self._committed - credits)

    def cancel(self, res: Reservation) -> None:
        """Nothing was charged (the create or call failed before reaching the server): give it all back."""
        self.unreserve(res.credits)
        if res.daily is not None and self.daily_cap is not None:
            self._daily(self.daily_cap.release, res.daily)

    def check_batch(self, total: float, *, jobs: int, confirmed: bool, what: str,
                    confirm_hint: str = "pass confirm=True to run it") -> None:
        """A whole batch (a compare grid, ``-n`` repeats) before its first job, with one text.

        BudgetExceeded when ``total`` does not fit what is left of ``max_credits`` (or of the
        key's daily cap); ConfirmationRequired when it is above ``confirm_above`` and not
        ``confirmed``. Each job is still reserved on its own when it is created.
        """
        line = batch_line(what, jobs, total)
        left = self.budget_left
        if left is not None and self.max_credits is not None and total > left + EPS:
            raise BudgetExceeded(f"{line}, more than the {left:g} credits left of max_credits="
                                 f"{self.max_credits:g} (committed {self.committed:g})",
                                 estimate=total, remaining=left)
        day = self._daily_left()
        if day is not None and self.daily_cap is not None and total > day + EPS:
            raise BudgetExceeded(f"{line}, more than the {day:g} credits left today (UTC) of the daily cap "
                                 f"{self.daily_cap.source}={self.daily_cap.cap:g} of this key",
                                 estimate=total, remaining=day)
        if total > self.confirm_above and not confirmed:
            raise ConfirmationRequired(f"{line}, above confirm_above={self.confirm_above:g}: {confirm_hint}",
                                       estimate=catalog.Estimate(total, True, line))

    # ------------------------------------------------------------ a job's reservation

    def attach(self, job: Any, res: Reservation) -> None:
        """The job exists on the server: its reservation follows it (and the daily cap's row names it)."""
        with self._lock:
            self._hold(job, res)
        if res.daily is not None and self.daily_cap is not None:
            self._daily(self.daily_cap.attach, res.daily, job.id)

    def reserved(self, job: Any) -> float:
        """Credits still held for ``job`` against ``max_credits`` (0 for a job that holds none)."""
        res = self._reservation(job)
        return 0.0 if res is None else res.credits

    def _reservation(self, job: Any) -> Reservation | None:
        with self._lock:
            return self._held.get(id(job))

    def _hold(self, job: Any, res: Reservation) -> None:
        """Keep ``res`` for ``job`` until the job is gone (the caller holds the lock)."""
        key = id(job)
        if key not in self._held:
            weakref.finalize(job, self._forget, key)
        self._held[key] = res

    def _forget(self, key: int) -> None:
        with self._lock:
            self._held.pop(key, None)

    def settle(self, job: Any) -> None:
        """A completed job: its reservation becomes what the server says it charged — unless
        that is not credible (``credits_used: 0`` for a priced job, as the live API answers):
        then it stays reserved until the real charge is known (:meth:`settle_charge`)."""
        res = self._reservation(job)
        if res is None:
            res = Reservation(0.0)
        charged = credible_charge(job.estimate.credits, job.charged)
        if charged is not None and res.credits and charged < res.credits:
            with self._lock:
                self._committed = max(0.0, self._committed - (res.credits - charged))
                self._hold(job, Reservation(charged, res.daily))
        if self.daily_cap is not None and charged is not None:  # else: reserved until settle_charge
            if res.daily is not None:
                self._daily(self.daily_cap.settle, res.daily, charged, job.id)
            elif job.estimate.basis == "resumed":  # reserved by an earlier process
                self._daily(self.daily_cap.settle_job, job.id, charged)

    def release(self, job: Any) -> None:
        """A refunded or cancelled job: its whole reservation comes back, once."""
        with self._lock:
            res = self._held.get(id(job))
            if res is not None:
                self._held[id(job)] = Reservation(0.0)  # kept (with its finalizer): nothing held
            if res is not None and res.credits:
                self._committed = max(0.0, self._committed - res.credits)
        if self.daily_cap is None:
            return
        if res is not None and res.daily is not None:
            self._daily(self.daily_cap.release, res.daily)
        elif job.estimate.basis == "resumed":  # reserved by an earlier process: refunded
            self._daily(self.daily_cap.settle_job, job.id, None)

    def settle_charge(self, job: Any, net: float) -> None:
        """A finished job's real net charge became known (credits history or balance): its
        reservation becomes exactly that, up or down, and so does what the user sees."""
        if not job.done:
            return
        with self._lock:
            res = self._held.get(id(job))
            self._committed = max(0.0, self._committed + float(net) - (res.credits if res else 0.0))
            self._hold(job, Reservation(float(net), res.daily if res else None))
        if self.daily_cap is not None:  # the key's daily cap counts the real charge too
            self._daily(self.daily_cap.settle_job, job.id, float(net), False)
        if job.status == "completed":  # result.credits shows the real charge too
            job.charged = float(net)
            if job.result is not None:
                job.result.credits = float(net)

    # ------------------------------------------------------------ chat and embedding calls

    def end_call(self, res: Reservation, credits: float | None, *, reached: bool) -> None:
        """A finished chat or embedding call: a priced answer keeps its price (even above the
        ceiling); a call that never reached the server keeps nothing; one cut off mid-answer
        keeps its ceiling (the server may have charged)."""
        if credits is not None:
            self.unreserve(res.credits - float(credits))
            if res.daily is not None and self.daily_cap is not None:
                self._daily(self.daily_cap.settle, res.daily, float(credits))
        elif not reached:
            self.cancel(res)

    # ------------------------------------------------------------ the balance

    async def check_balance(self, name: str, credits: float) -> None:
        """A job at or above ``confirm_above`` needs the balance to cover it (InsufficientCredits)."""
        if credits < self.confirm_above:
            return
        balance = await self._balance_for(credits)
        if balance < credits:
            raise InsufficientCredits(
                f"{name} needs about {catalog.credits_text(credits)}; the balance is {balance:g}",
                needed=credits, balance=balance)

    async def _balance_for(self, own: float) -> float:
        """The balance left for a job about to be created (one request serves a burst of submits).

        A balance read a moment ago is reused, minus every job reserved since (the one that
        read it included), so a burst of expensive submits needs one ``/user/credits``.
        """
        now = time.monotonic()
        cached = self._balance_cache
        if cached is None or now - cached[0] > self._reuse_for():
            before = self.committed - own
            balance = await self._balance()
            self._balance_cache = (time.monotonic(), balance, before)
            return balance
        _, balance, before = cached
        return balance - max(0.0, self.committed - own - before)

    async def read_before_first_job(self) -> None:
        """With the timeline on (a Session), read the balance once before the first job; a
        burst of submits shares that one read."""
        if not self.timeline.enabled or self.timeline.has_reading_before(time.time()):
            return
        loop = asyncio.get_running_loop()
        pending = self._first_reading
        if pending is None or pending[0] is not loop or (
                pending[1].done() and (pending[1].cancelled() or pending[1].exception() is not None)):
            pending = (loop, loop.create_task(self._balance()))
            self._first_reading = pending
        await asyncio.shield(pending[1])

    async def _balance(self) -> float:
        if self._read_balance is None:
            raise RuntimeError("this ledger cannot read the balance (no read_balance given)")
        return await self._read_balance()

    # ------------------------------------------------------------ the daily cap

    def _daily_left(self) -> float | None:
        if self.daily_cap is None:
            return None
        try:
            return float(self.daily_cap.left)
        except Exception as exc:  # the shared store is unreadable: each job's reservation still guards
            log.warning("daily cap: could not read what is left (%s: %s)", type(exc).__name__, exc)
            return None

    @staticmethod
    def _daily(fn: Callable[..., Any], *args: Any) -> None:
        """Settle or release in the shared store; a failure leaves the reservation (never under-counts)."""
        try:
            fn(*args)
        except Exception as exc:
            log.error("daily cap: could not update the shared reservation (%s: %s); it stays reserved",
                      type(exc).__name__, exc)
