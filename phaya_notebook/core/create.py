"""Creating a job: one POST, never blindly repeated; an ambiguous failure is reconciled.

A create POST that failed after it may have reached the server ("answered" 5xx or bad
JSON, a "dropped" connection, a "timeout") is looked up — in the service's history, or
in the credits ledger for services charged on create — before anything is sent again.
Found: that job is used. Provably absent: sent again. Otherwise the caller gets
:class:`AmbiguousCreate` with what to check: never a second charge.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from .. import catalog
from .errors import AmbiguousCreate, PhayaError, ServerError
from .http import Ambiguous  # what the request loop raises for a POST that may have arrived
from .jobs import _ts
from .wire import job_id_of, listing

if TYPE_CHECKING:  # pragma: no cover
    from .client import AsyncPhaya

__all__ = ["ABSENT", "Ambiguous", "ambiguous_text", "can_prove_absent", "create_job", "history_lookup", "lookup",
           "reconcile"]

log = logging.getLogger("phaya_notebook.core")

#: Clock skew allowed between us and the server when matching a job to a create.
_SKEW = 120.0


async def create_job(client: AsyncPhaya, svc: catalog.Service, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """One create request; reconciled, never blindly repeated, after an ambiguous failure."""
    sent_at = time.time()
    client._inflight[svc.name] = client._inflight.get(svc.name, 0) + 1
    try:
        for _ in range(3):
            try:
                # in a burst the longest jobs start first (it shortens the whole sweep)
                lpt = time.monotonic() - client._scheduler.base_seconds(svc, body, client.job_speed)
                data = await client.http.call("POST", svc.create_path, json=body, safe=False, priority=lpt,
                                        what=f"create {svc.name}")
            except Ambiguous as amb:
                found = await reconcile(client, svc, body, sent_at, amb)
                if isinstance(found, tuple):
                    client.stats["reconciled"] += 1
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
        client._inflight[svc.name] -= 1

def can_prove_absent(svc: catalog.Service) -> bool:
    return bool(history_lookup(svc)) or (svc.charge_on == "create" and svc.min_price > 0)

#: What ``reconcile`` returns when the lookups proved that the create made no job.
ABSENT = "absent"


async def reconcile(client: AsyncPhaya, svc: catalog.Service, body: dict[str, Any], sent_at: float,
                     amb: Ambiguous) -> tuple[str, dict[str, Any]] | str | None:
    """Find the job an ambiguous create made (history, else the credits ledger).

    Returns the (job_id, answer) found, ``ABSENT`` when every lookup proved no job was made,
    or None when nothing is known (no way to look, a lookup failed, or several candidates).
    """
    if not can_prove_absent(svc):
        return None
    # let our other creates of this service finish, so their ids are known
    for _ in range(100):
        if client._inflight.get(svc.name, 0) <= 1:
            break
        await asyncio.sleep(0.05)
    looks = {"answered": [0.0], "dropped": [0.5, 2.0]}.get(amb.kind, [1.0, 3.0])
    for delay in looks:
        await asyncio.sleep(delay)
        try:
            found = await lookup(client, svc, body, sent_at)
        except PhayaError as exc:
            log.warning("reconciling a %s create failed: %s", svc.name, exc)
            return None
        if found == "many":
            return None
        if found is not None:
            return found
    return ABSENT

async def lookup(client: AsyncPhaya, svc: catalog.Service, body: dict[str, Any], sent_at: float) -> Any:
    known = {jid for (name, jid) in client._jobs if name == svc.name}
    hist = history_lookup(svc)
    if hist:
        data = await client.http.get(hist, params={"limit": 50})
        items = listing(data, "jobs", "history", "data")
        cands = []
        for it in items:
            jid = job_id_of(it)
            if not jid or jid in known:
                continue
            created = _ts(it.get("created_at"))
            if created is not None and created < sent_at - _SKEW:
                continue
            if any(k in it and it[k] != v for k, v in body.items() if k != "prompt") \
                    or it.get("prompt", body.get("prompt")) != body.get("prompt"):
                continue
            cands.append((jid, it))
    else:
        items = await client.credits_history(limit=50)
        cands = []
        for it in items:
            jid = it.get("job_id")
            if it.get("kind", "charge") != "charge" or it.get("service") != svc.name or not jid:
                continue
            created = _ts(it.get("created_at"))
            if jid in known or (created is not None and created < sent_at - _SKEW):
                continue
            cands.append((jid, {"job_id": jid, "credits_charged": abs(float(it.get("amount") or 0))}))
    if len(cands) > 1:
        return "many"
    return cands[0] if cands else None


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
