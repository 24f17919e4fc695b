"""A job's own requests: create (one POST, never blindly repeated), status, cancel.

A create POST that failed after it may have reached the server ("answered" 5xx or bad
JSON, a "dropped" connection, a "timeout") is looked up — in the service's history, or
in the credits ledger for services charged on create — before anything is sent again.
Found: that job is used. Provably absent: sent again. Otherwise the caller gets
:class:`AmbiguousCreate` with what to check: never a second charge.

:class:`JobRequests` is given its collaborators by the client: the request loop, the
scheduler (a burst's longest jobs are created first), the registry of known jobs (a
lookup never adopts one of ours) and the client's pace; never the client itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from .. import catalog
from .errors import AmbiguousCreate, PhayaError, ServerError
from .http import (
    Ambiguous,  # what the request loop raises for a POST that may have arrived
    RequestLoop,
)
from .jobs import Job, JobRegistry
from .scheduler import Pace, PollScheduler
from .wire import epoch, job_id_of, listing

__all__ = ["ABSENT", "Ambiguous", "JobRequests", "ambiguous_text", "can_prove_absent", "history_lookup"]

log = logging.getLogger("phaya_notebook.core")

#: Clock skew allowed between us and the server when matching a job to a create.
_SKEW = 120.0


class JobRequests:
    """Create, status and cancel requests of jobs, for one client."""

    def __init__(self, http: RequestLoop, scheduler: PollScheduler, registry: JobRegistry, pace: Pace,
                 stats: dict[str, int]):
        self.http = http
        self.scheduler = scheduler
        self.registry = registry
        self.pace = pace
        self.stats = stats
        #: creates being sent, per service (a lookup waits for ours to be known first)
        self.inflight: dict[str, int] = {}

    async def create(self, svc: catalog.Service, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """One create request; reconciled, never blindly repeated, after an ambiguous failure."""
        sent_at = time.time()
        self.inflight[svc.name] = self.inflight.get(svc.name, 0) + 1
        try:
            for _ in range(3):
                try:
                    # in a burst the longest jobs start first (it shortens the whole sweep)
                    lpt = time.monotonic() - self.scheduler.base_seconds(svc, body, self.pace.job_speed)
                    data = await self.http.call("POST", svc.create_path, json=body, safe=False, priority=lpt,
                                                what=f"create {svc.name}")
                except Ambiguous as amb:
                    found = await self.reconcile(svc, body, sent_at, amb)
                    if isinstance(found, tuple):
                        self.stats["reconciled"] += 1
                        log.info("%s create failed ambiguously (%s) but the job exists: %s",
                                 svc.name, amb.what, found[0])
                        return found
                    # resend only when the lookup proved no job was made: "many" candidates or a
                    # failed lookup prove nothing, and one of them may be ours (a second charge)
                    if found is ABSENT and amb.kind != "timeout":
                        log.info("%s create failed (%s) and no job was made: sending again", svc.name, amb.what)
                        sent_at = time.time()
                        continue
                    raise AmbiguousCreate(ambiguous_text(svc, amb, sent_at), service=svc.name,
                                          sent_at=sent_at) from amb.error
                if not isinstance(data, dict):
                    raise ServerError(f"create {svc.name}: expected an object, got {type(data).__name__}")
                job_id = job_id_of(data)
                if not job_id:
                    raise ServerError(f"create {svc.name}: the answer has no job id")
                return job_id, data
            raise AmbiguousCreate(f"create {svc.name}: the server kept failing; nothing was charged "
                                  "(checked); try again later", service=svc.name, sent_at=sent_at)
        finally:
            self.inflight[svc.name] -= 1

    async def status(self, job: Job, due: float, *, interactive: bool = False) -> dict[str, Any]:
        """One status poll (queued on the budget at ``due``; watched jobs go first)."""
        data = await self.http.get(job.service.status_url(job.id), priority=due,
                                   background=not (interactive or job.watched), retries=2,
                                   what=f"status of {job.service.name} job {job.id}")
        if not isinstance(data, dict):
            raise ServerError(f"status of {job.id}: expected an object")
        return dict(data.get("data", data)) if "status" not in data and isinstance(data.get("data"), dict) \
            else data

    async def cancel(self, job: Job) -> bool:
        # cancelling is safe to repeat: a second cancel of a cancelled job just says no
        data = await self.http.call("POST", job.service.cancel_url(job.id), safe=True, retries=2)
        return bool(isinstance(data, dict) and data.get("success"))

    async def reconcile(self, svc: catalog.Service, body: dict[str, Any], sent_at: float,
                        amb: Ambiguous) -> tuple[str, dict[str, Any]] | str | None:
        """Find the job an ambiguous create made (history, else the credits ledger).

        Returns the (job_id, answer) found, ``ABSENT`` when every lookup proved no job was made,
        or None when nothing is known (no way to look, a lookup failed, or several candidates).
        """
        if not can_prove_absent(svc):
            return None
        # let our other creates of this service finish, so their ids are known
        for _ in range(100):
            if self.inflight.get(svc.name, 0) <= 1:
                break
            await asyncio.sleep(0.05)
        looks = {"answered": [0.0], "dropped": [0.5, 2.0]}.get(amb.kind, [1.0, 3.0])
        for delay in looks:
            await asyncio.sleep(delay)
            try:
                found = await self.lookup(svc, body, sent_at)
            except PhayaError as exc:
                log.warning("reconciling a %s create failed: %s", svc.name, exc)
                return None
            if found == "many":
                return None
            if found is not None:
                return found
        return ABSENT

    async def lookup(self, svc: catalog.Service, body: dict[str, Any], sent_at: float) -> Any:
        """The one job (id, answer) made since ``sent_at`` that is not ours, "many", or None."""
        known = self.registry.ids(svc.name)
        hist = history_lookup(svc)
        cands = []
        if hist:
            for it in listing(await self.http.get(hist, params={"limit": 50}), "jobs", "history", "data"):
                jid = job_id_of(it)
                if not jid or jid in known:
                    continue
                created = epoch(it.get("created_at"))
                if created is not None and created < sent_at - _SKEW:
                    continue
                if any(k in it and it[k] != v for k, v in body.items() if k != "prompt") \
                        or it.get("prompt", body.get("prompt")) != body.get("prompt"):
                    continue
                cands.append((jid, it))
        else:
            data = await self.http.get("/user/credits/history", params={"limit": 50})
            for it in listing(data, "transactions", "history", "data"):
                jid = it.get("job_id")
                if it.get("kind", "charge") != "charge" or it.get("service") != svc.name or not jid:
                    continue
                created = epoch(it.get("created_at"))
                if jid in known or (created is not None and created < sent_at - _SKEW):
                    continue
                cands.append((jid, {"job_id": jid, "credits_charged": abs(float(it.get("amount") or 0))}))
        if len(cands) > 1:
            return "many"
        return cands[0] if cands else None


def can_prove_absent(svc: catalog.Service) -> bool:
    return bool(history_lookup(svc)) or (svc.charge_on == "create" and svc.min_price > 0)


#: What ``reconcile`` returns when the lookups proved that the create made no job.
ABSENT = "absent"


def history_lookup(svc: catalog.Service) -> str | None:
    """A history listing that shows jobs with their prompt (sora2-character's list does not)."""
    return svc.history if svc.history and not svc.history.endswith("/list") else None


def ambiguous_text(svc: catalog.Service, amb: Ambiguous, sent_at: float) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(sent_at))
    how = ("client.credits_history() (or the Phaya dashboard) for a charge"
           if svc.min_price > 0 else "the Phaya dashboard for a new job")
    return (f"create {svc.name}: {amb.what}; the request may have reached the server and no matching job "
            f"could be found. It was NOT sent again, to avoid a second charge. Check {how} for {svc.name} "
            f"after {when}; if there is none, submit again.")
