"""Resume: re-attach the jobs a log saw start but not end, and fetch media still missing.

A kernel that dies mid-job loses nothing paid for: the job id is in the log before
polling starts. A later session finds the rows this client may take (same server, same
key), polls them to the end, downloads what is missing and reconciles the charges.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .. import progress
from ..core.errors import JobFailed, JobTimeout, NotFound, PhayaError
from ..core.jobs import Result
from ..core.launch import embedded_info, is_embedded
from ..joblog import JobLog
from .downloads import MediaRetry

__all__ = ["resumable", "resume"]

log = logging.getLogger("phaya_notebook.session")


async def resume(aio: Any, joblog: JobLog, media: MediaRetry, reconcile: Callable[[], Awaitable[Any]], *,
                 timeout: float | None = None) -> list[Result]:
    """``Session.aresume``: the completed Results, after one reconcile of the resumed jobs."""
    rows, undownloaded, skipped = resumable(aio, joblog)
    if not rows and not undownloaded:
        print("phaya: nothing to resume" + (f": {skipped}" if skipped else " (no unfinished job in this log)"))
        return []
    collected = [await media.collect(r) for r in undownloaded]
    fetched = [r for r in collected if r.cached]
    if undownloaded:
        print(f"phaya: downloaded the media of {len(fetched)} of {len(undownloaded)} completed job(s) "
              "that were not cached yet" + ("" if len(fetched) == len(undownloaded) else
                                             f" ({collected[0].download_errors[0]}; try again later)"))
    if not rows:
        if skipped:
            print(f"phaya: skipped {skipped}")
        return fetched

    live = progress.live("resume")
    lines = {r["job_id"]: live.add(f"{r['service']} {r['job_id'][:8]}", r.get("estimated"))
             for r in rows} if live is not None else {}

    async def one(row: dict[str, Any]) -> Result | None:
        line = lines.get(row["job_id"])
        try:
            job = await aio.job(row["service"], row["job_id"])
        except NotFound:
            joblog.record(row["job_id"], status="lost", finished_at=time.time(),
                          error="the server no longer knows this job (404)")
            if line is not None:
                line.note = "lost: the server no longer knows it (404)"
            return None
        except BaseException as exc:
            if line is not None:
                line.note = f"could not re-attach ({exc})"
            raise
        if line is not None:
            line.job = job
        try:
            return await job.wait(timeout=timeout)
        except (JobFailed, JobTimeout):
            return None

    together = asyncio.gather(*(one(r) for r in rows), return_exceptions=True)
    outcomes = await (live.watch(together) if live is not None else together)
    results = [o for o in outcomes if isinstance(o, Result)]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    try:
        await reconcile()
    except PhayaError as exc:
        log.warning("could not reconcile resumed jobs: %s", exc)
    print(f"phaya: resumed {len(rows)} unfinished job(s): {len(results)} completed"
          + (f", {len(errors)} could not be re-attached ({errors[0]})" if errors else "")
          + (f"; skipped {skipped}" if skipped else ""))
    return fetched + results


def resumable(aio: Any, joblog: JobLog) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """Unfinished rows this client can re-attach, completed rows whose media is missing,
    and a sentence on the ones it cannot take.

    A row is this client's when it was made on this server (this base URL, or an earlier
    URL of the same persistent sandbox) with this key (rows older than the ``key_id``
    column are tried). The others are left as they are: another server or key may
    still finish them.
    """
    here = {aio.base_url.rstrip("/")}
    info = embedded_info() if is_embedded(aio.base_url) else None
    if info:
        here.update(str(u).rstrip("/") for u in info.get("former_urls") or [])
    mine: list[dict[str, Any]] = []
    servers: dict[str, int] = {}
    keys = 0
    for row in joblog.unfinished():
        url = str(row.get("base_url") or "").rstrip("/")
        if url not in here:
            servers[str(row.get("base_url"))] = servers.get(str(row.get("base_url")), 0) + 1
        elif url == aio.base_url.rstrip("/") and row.get("key_id") and row["key_id"] != aio.key_id:
            keys += 1
        else:
            mine.append(row)
    parts = [f"{n} job(s) of another server ({url})" for url, n in servers.items()]
    if keys:
        parts.append(f"{keys} job(s) of another key on this server")
    undownloaded = [r for r in joblog.pending_downloads()
                    if str(r.get("base_url") or "").rstrip("/") in here]
    return mine, undownloaded, ", ".join(parts)
