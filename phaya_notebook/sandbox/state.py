"""Accounts, the credit ledger and job records: the sandbox's only mutable state.

One lock guards every balance change, so check-and-charge is atomic even when a
hundred creates arrive at once and the balance can never go below zero.
"""

from __future__ import annotations

import datetime as dt
import math
import shlex
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phaya_notebook import catalog

from .config import SandboxConfig, home_dir, key_id
from .persist import Store, mono_of


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat().replace("+00:00", "Z")


class NotEnoughCredits(Exception):
    """A charge above the balance (402); ``fix`` says how to get more play credits, if known."""

    def __init__(self, need: float, have: float, fix: str = ""):
        super().__init__(f"Not enough credits: this costs {need:g}, the balance is {have:.2f}"
                         + (f"; {fix}" if fix else ""))
        self.need, self.have = need, have


def transaction(amount: float, kind: str, service: str, job_id: str | None, balance_after: float) -> dict[str, Any]:
    """One ``/user/credits/history`` entry (kind: "charge", "refund" or "topup")."""
    return {"id": str(uuid.uuid4()), "amount": round(amount, 6), "kind": kind, "service": service,
            "job_id": job_id, "created_at": iso(time.time()), "balance_after": round(balance_after, 6)}


MAX_TOPUP = 1_000_000.0
MAX_TOPUP_TEXT = f"a number above 0 and at most {MAX_TOPUP:,.0f}"


def credits_problem(value: Any) -> str:
    """"" when ``value`` is a valid amount of play credits to add, else what is wrong with it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{value!r} is not a number"
    if not math.isfinite(value) or not 0 < value <= MAX_TOPUP:
        return f"{value!r} is not allowed"
    return ""


def topup_hint(state_dir: str | None) -> str:
    """How to add play credits: the CLI command for a persistent sandbox, else the admin call."""
    if not state_dir:  # a sandbox of its own (tests, ``python -m phaya_notebook.sandbox``): no state dir
        return 'add play credits with: POST /_sandbox/credits {"credits": N} (header X-Sandbox-Admin)'
    where = "" if Path(state_dir) == home_dir() else f" --state-dir {shlex.quote(str(state_dir))}"
    return f"add play credits with: python -m phaya_notebook.sandbox topup{where}"


@dataclass
class Account:
    key: str = field(repr=False)
    user_id: str
    balance: float
    created_at: float
    transactions: list[dict[str, Any]] = field(default_factory=list)
    characters: list[dict[str, Any]] = field(default_factory=list)

    @property
    def email(self) -> str:
        return f"{key_id(self.key)}@sandbox.phaya.local"


@dataclass
class Job:
    """One generation job; its visible status is derived from the clock (see runner)."""

    id: str
    service: catalog.Service
    params: dict[str, Any]
    account: Account = field(repr=False)
    created_at: float
    started: float  # time.monotonic() at creation
    duration: float  # seconds until the terminal status
    price: float
    charged: float = 0.0
    refunded: bool = False
    terminal: str | None = None  # "completed" | "failed" | "cancelled"
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0
    fail: bool = False
    stuck: bool = False
    slow: bool = False
    cached: tuple[float, dict[str, Any]] | None = None
    task: Any = None
    #: the upstream provider's task id, as live create answers carry it
    task_id: str = field(default_factory=lambda: "task-" + uuid.uuid4().hex[:20])

    @property
    def prompt(self) -> str:
        return str(self.params.get("prompt") or self.params.get("character_prompt") or "")


class State:
    """Accounts by key and jobs by id, behind one re-entrant lock.

    With a ``store`` (a persistent sandbox) every change is written through to disk
    before it is answered, and what the store holds is loaded back at start.
    """

    def __init__(self, config: SandboxConfig, store: Store | None = None):
        self.config = config
        self.store = store
        self.lock = threading.RLock()
        now = time.time()
        self.accounts: dict[str, Account] = {}
        self.jobs: dict[str, Job] = {}
        if store is not None:
            self._load(store)
        for k, c in config.keys.items():
            if k not in self.accounts:
                self.accounts[k] = Account(k, str(uuid.uuid4()), float(c), now)
                if store is not None:
                    store.save_account(self.accounts[k])

    def _load(self, store: Store) -> None:
        """Accounts and jobs as the store left them; job times back on this process's clock."""
        for key, data, txs in store.accounts():
            self.accounts[key] = Account(key, data["user_id"], float(data["balance"]), float(data["created_at"]),
                                         transactions=txs, characters=list(data.get("characters") or []))
        for job_id, key, d in store.jobs():
            svc = catalog.SERVICES.get(d["service"]) or catalog.MEDIA_JOBS.get(d["service"])
            acct = self.accounts.get(key)
            if svc is None or acct is None:
                continue
            duration = float(d["duration"])
            self.jobs[job_id] = Job(
                job_id, svc, d["params"], acct, float(d["created_at"]), mono_of(float(d["due_at"])) - duration,
                duration, float(d["price"]), charged=float(d["charged"]), refunded=bool(d["refunded"]),
                terminal=d["terminal"], error=d["error"], result=d["result"] or {},
                updated_at=float(d["updated_at"]), fail=bool(d["fail"]), stuck=bool(d["stuck"]),
                slow=bool(d["slow"]))
            if d.get("task_id"):
                self.jobs[job_id].task_id = str(d["task_id"])

    def save(self, job: Job) -> None:
        """Write a job's record through (no-op without a store)."""
        if self.store is not None:
            self.store.save_job(job)

    def save_account(self, acct: Account) -> None:
        if self.store is not None:
            self.store.save_account(acct)

    def account(self, key: str | None) -> Account | None:
        return self.accounts.get(key or "")

    # ------------------------------------------------------------ money

    def _record(self, acct: Account, amount: float, kind: str, service: str, job_id: str | None) -> None:
        tx = transaction(amount, kind, service, job_id, acct.balance)
        acct.transactions.append(tx)
        if self.store is not None:
            self.store.charged(acct, tx)

    def charge(self, acct: Account, amount: float, service: str, job_id: str | None) -> None:
        """Deduct or raise NotEnoughCredits; atomic with the balance check."""
        with self.lock:
            if amount <= 0:
                return
            if acct.balance + 1e-9 < amount:
                raise NotEnoughCredits(amount, acct.balance, topup_hint(self.config.state_dir))
            acct.balance = max(0.0, round(acct.balance - amount, 6))
            self._record(acct, -amount, "charge", service, job_id)

    def default_account(self) -> Account:
        """The account of the sandbox's first key (a persistent sandbox has only that one)."""
        return self.accounts[next(iter(self.config.keys))]

    def top_up(self, acct: Account, amount: float) -> float:
        """Add play credits (a "topup" transaction, written through); the new balance."""
        with self.lock:
            acct.balance = round(acct.balance + amount, 6)
            self._record(acct, amount, "topup", "sandbox", None)
            return acct.balance

    def refund(self, job: Job) -> None:
        with self.lock:
            if job.refunded or job.charged <= 0:
                return
            job.account.balance = round(job.account.balance + job.charged, 6)
            job.refunded = True
            self._record(job.account, job.charged, "refund", job.service.name, job.id)
            self.save(job)

    # ------------------------------------------------------------ jobs

    def new_job(self, acct: Account, svc: catalog.Service, params: dict[str, Any], price: float,
                duration: float, charge_now: bool, flags: set[str] = frozenset()) -> Job:  # type: ignore[assignment]
        """Create a job, charging its price first when the service charges on create.

        ``flags``: any of "fail", "stuck", "slow" (the prompt's fault markers).
        """
        job_id = str(uuid.uuid4())
        with self.lock:
            if charge_now:
                self.charge(acct, price, svc.name, job_id)
            elif acct.balance + 1e-9 < price:
                raise NotEnoughCredits(price, acct.balance, topup_hint(self.config.state_dir))
            now = time.time()
            job = Job(job_id, svc, params, acct, now, time.monotonic(), duration, price,
                      charged=price if charge_now else 0.0, updated_at=now,
                      fail="fail" in flags, stuck="stuck" in flags, slow="slow" in flags)
            self.jobs[job_id] = job
            self.save(job)
            return job

    def job_for(self, acct: Account, job_id: str, services: tuple[str, ...]) -> Job | None:
        """A job of this key and one of these services; None hides others' jobs (404)."""
        job = self.jobs.get(job_id)
        if job is None or job.account is not acct or job.service.name not in services:
            return None
        return job

    def history(self, acct: Account, service: str, limit: int) -> list[Job]:
        with self.lock:
            mine = [j for j in self.jobs.values() if j.account is acct and j.service.name == service]
        mine.sort(key=lambda j: j.created_at, reverse=True)
        return mine[:limit]
