"""Accounts, the credit ledger and job records: the sandbox's only mutable state.

One lock guards every balance change, so check-and-charge is atomic even when a
hundred creates arrive at once and the balance can never go below zero.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from phaya_notebook import catalog

from .config import SandboxConfig, key_id


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat().replace("+00:00", "Z")


class NotEnoughCredits(Exception):
    def __init__(self, need: float, have: float):
        super().__init__(f"Not enough credits: this costs {need:g}, the balance is {have:.2f}")
        self.need, self.have = need, have


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
    """Accounts by key and jobs by id, behind one re-entrant lock."""

    def __init__(self, config: SandboxConfig):
        self.config = config
        self.lock = threading.RLock()
        now = time.time()
        self.accounts: dict[str, Account] = {
            k: Account(k, str(uuid.uuid4()), float(c), now) for k, c in config.keys.items()}
        self.jobs: dict[str, Job] = {}

    def account(self, key: str | None) -> Account | None:
        return self.accounts.get(key or "")

    # ------------------------------------------------------------ money

    def _record(self, acct: Account, amount: float, kind: str, service: str, job_id: str | None) -> None:
        acct.transactions.append({
            "id": str(uuid.uuid4()), "amount": round(amount, 6), "kind": kind, "service": service,
            "job_id": job_id, "created_at": iso(time.time()), "balance_after": round(acct.balance, 6)})

    def charge(self, acct: Account, amount: float, service: str, job_id: str | None) -> None:
        """Deduct or raise NotEnoughCredits; atomic with the balance check."""
        with self.lock:
            if amount <= 0:
                return
            if acct.balance + 1e-9 < amount:
                raise NotEnoughCredits(amount, acct.balance)
            acct.balance = max(0.0, round(acct.balance - amount, 6))
            self._record(acct, -amount, "charge", service, job_id)

    def refund(self, job: Job) -> None:
        with self.lock:
            if job.refunded or job.charged <= 0:
                return
            job.account.balance = round(job.account.balance + job.charged, 6)
            job.refunded = True
            self._record(job.account, job.charged, "refund", job.service.name, job.id)

    # ------------------------------------------------------------ jobs

    def new_job(self, acct: Account, svc: catalog.Service, params: dict[str, Any], price: float,
                duration: float, charge_now: bool) -> Job:
        """Create a job, charging its price first when the service charges on create."""
        job_id = str(uuid.uuid4())
        with self.lock:
            if charge_now:
                self.charge(acct, price, svc.name, job_id)
            elif acct.balance + 1e-9 < price:
                raise NotEnoughCredits(price, acct.balance)
            now = time.time()
            job = Job(job_id, svc, params, acct, now, time.monotonic(), duration, price,
                      charged=price if charge_now else 0.0, updated_at=now)
            self.jobs[job_id] = job
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
