"""What the server really took, per job: the credits history, else the balance delta.

Estimates are written when a job starts; this module replaces them with the server's
amounts, learns the real price for the next estimates (``core/observed.py``), and
settles the session client's budget to them. A charge that cannot be attributed is
said so in the row (``charge_source = 'unattributed'``), never guessed.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from .. import catalog
from ..joblog import JobLog, parse_time

__all__ = ["HISTORY_LIMIT", "Reconciler"]

log = logging.getLogger("phaya_notebook.session")

#: Most transactions one reconcile asks the credits history for.
HISTORY_LIMIT = 1000


class Reconciler:
    """Reconciles one session's jobs (its own, and those its client re-attached) with the server."""

    def __init__(self, aio: Any, joblog: JobLog, session_id: str) -> None:
        self.aio = aio
        self.log = joblog
        self.session_id = session_id

    async def areconcile(self) -> dict[str, str]:
        """{job_id: verdict} for every finished job not yet reconciled (see ``Session.reconcile``)."""
        mine = {job.id for job in self.aio.jobs}
        rows = [r for r in self.log.unreconciled(self.aio.base_url)
                if r["session"] == self.session_id or r["job_id"] in mine]
        if not rows:
            return {}
        limit = min(HISTORY_LIMIT, max(20, 3 * len(rows) + 20))
        history = await self.aio.credits_history(limit=limit)
        complete = len(history) < limit
        oldest = min((parse_time(t.get("created_at")) or 0.0 for t in history), default=0.0)
        by_job: dict[str, list[dict[str, Any]]] = {}
        for t in history:
            if t.get("job_id"):
                by_job.setdefault(str(t["job_id"]), []).append(t)
        # a history whose job charges carry no job id cannot prove a job was not charged
        anonymous = any(not t.get("job_id") and t.get("service") in catalog.SERVICES for t in history)
        verdicts: dict[str, str] = {}
        unnamed: list[dict[str, Any]] = []
        for row in rows:
            txs = by_job.get(row["job_id"], [])
            seen_all = complete or (row["created_at"] or 0.0) > oldest + 1.0
            if not txs and anonymous:
                unnamed.append(row)
                continue
            if not txs and not seen_all:
                continue  # older than the history we fetched: leave the status-answer amounts
            charged = sum(abs(float(t.get("amount") or 0)) for t in txs if t.get("kind", "charge") == "charge")
            refunded = sum(abs(float(t.get("amount") or 0)) for t in txs if t.get("kind") == "refund")
            verdicts[row["job_id"]] = self._settled(row, round(charged, 6), round(refunded, 6), "credits history")
        if unnamed:
            verdicts.update(await self._from_balance(unnamed))
        return verdicts

    def _settled(self, row: dict[str, Any], charged: float, refunded: float, source: str,
                 how: str | None = None) -> str:
        """Write the server's amounts, learn the price, and settle the session budget to them."""
        verdict = self.log.reconcile_row(row["job_id"], charged=charged, refunded=refunded, source=source, how=how)
        net = round(charged - refunded, 6)
        self.aio.timeline.known(row["job_id"], net)
        if row.get("status") == "completed" and row.get("service"):
            self.aio.observed.learn(str(row["service"]), row.get("params") or {}, net, source=source,
                                    at=row.get("finished_at") or time.time())
        if row.get("service"):
            self.aio.settle_charge(str(row["service"]), row["job_id"], net)
        return verdict

    async def _from_balance(self, rows: list[dict[str, Any]]) -> dict[str, str]:
        """Jobs the credits history does not name: the balance drop around each, if unambiguous."""
        timeline = self.aio.timeline
        if any(timeline.has(r["job_id"]) for r in rows):
            await self.aio.credits()  # the reading after them
        verdicts: dict[str, str] = {}
        left = sorted(rows, key=lambda r: r.get("created_at") or 0.0)
        progress = True
        while left and progress:  # an attributed job can make its neighbours' windows unambiguous
            progress = False
            for row in list(left):
                att = timeline.attribute(row["job_id"])
                if att.amount is None:
                    continue
                net = max(0.0, att.amount)
                verdicts[row["job_id"]] = self._settled(row, net, 0.0, "balance delta", att.note)
                left.remove(row)
                progress = True
        for row in left:
            why = timeline.attribute(row["job_id"]).note
            self.log.unattributed(row["job_id"], f"the credits history does not name this job and {why}")
            log.warning("phaya: cannot attribute the charge of %s job %s: %s", row.get("service"), row["job_id"], why)
            verdicts[row["job_id"]] = "unverified"
        return verdicts
