"""The daily spend cap of a key: credits per UTC day, held by every process using the key.

``max_credits`` caps one session; a key's balance is shared by every kernel, Voila visitor
and teammate using it. ``PHAYA_DAILY_CAP`` (or ``connect(daily_cap=...)``) is reserved in
a store those processes share (the job log: ``joblog.shared``), atomically, before the
create request, so concurrent kernels can never overshoot it together. A reservation is
settled at what the server charged, or released when nothing was (create failed, job
refunded or cancelled). The client's ledger (``core/money.py``) does all of that together
with the session budget; this module knows only the cap and its store.
"""

from __future__ import annotations

import os
from typing import Protocol

from .errors import BudgetExceeded

__all__ = ["DailyCap", "SpendStore", "daily_cap_from_env"]

ENV = "PHAYA_DAILY_CAP"


class SpendStore(Protocol):
    """Where one key's reservations live (shared by every process using the key)."""

    def reserve(self, amount: float, cap: float) -> tuple[int | None, float]:
        """Atomically reserve ``amount`` if today's total stays within ``cap``: (id or None, spent today)."""
        ...

    def settle_spend(self, reservation: int, charged: float, job_id: str | None = None) -> None: ...

    def release(self, reservation: int) -> None: ...

    def attach(self, reservation: int, job_id: str) -> None: ...

    def settle_job(self, job_id: str, charged: float | None, only_reserved: bool = True) -> None: ...

    def spent_today(self) -> float: ...


def daily_cap_from_env() -> float | None:
    """``PHAYA_DAILY_CAP`` as credits, None when unset; a bad value is refused by name."""
    raw = os.environ.get(ENV, "").strip()
    return None if not raw else check_cap(raw, ENV)


def check_cap(value: object, name: str = "daily_cap") -> float:
    try:
        cap = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is not a number of credits (allowed: a number >= 0)") from None
    if not cap >= 0 or cap == float("inf"):
        raise ValueError(f"{name}={value!r} is not allowed (allowed: a finite number of credits >= 0)")
    return cap


class DailyCap:
    """``cap`` credits per UTC day for one key, kept in ``store``."""

    def __init__(self, cap: float, store: SpendStore, *, source: str = "daily_cap"):
        self.cap = check_cap(cap, source)
        self.store = store
        self.source = source  # "PHAYA_DAILY_CAP" or "daily_cap": named in refusals

    def __repr__(self) -> str:
        return f"<DailyCap {self.cap:g} credits/day, {self.left:g} left>"

    @property
    def spent(self) -> float:
        """Credits reserved or charged with this key today (UTC), by every process."""
        return self.store.spent_today()

    @property
    def left(self) -> float:
        return max(0.0, round(self.cap - self.spent, 6))

    def reserve(self, credits: float, what: str = "job") -> int:
        """Reserve before any request; :class:`BudgetExceeded` naming the cap and what is left."""
        rid, spent = self.store.reserve(credits, self.cap)
        if rid is None:
            left = max(0.0, round(self.cap - spent, 6))
            amount = f"~{credits:g}" if what == "job" else f"up to {credits:g}"
            raise BudgetExceeded(
                f"this {what} ({amount} credits) would exceed the daily cap {self.source}={self.cap:g} "
                f"credits of this key: {left:g} left today (UTC), counting every process using this key "
                "and job log", estimate=credits, remaining=left)
        return rid

    def settle(self, reservation: int | None, charged: float, job_id: str | None = None) -> None:
        if reservation is not None:
            self.store.settle_spend(reservation, float(charged), job_id)

    def release(self, reservation: int | None) -> None:
        if reservation is not None:
            self.store.release(reservation)

    def attach(self, reservation: int | None, job_id: str) -> None:
        """The job exists on the server: a process that resumes it later settles this reservation."""
        if reservation is not None:
            self.store.attach(reservation, job_id)

    def settle_job(self, job_id: str, charged: float | None, only_reserved: bool = True) -> None:
        """A job's charge became known by id: a resumed job (reserved by an earlier process) ended,
        charged or (None) refunded; or, ``only_reserved=False``, the credits history corrected it."""
        self.store.settle_job(job_id, None if charged is None else float(charged), only_reserved)
