"""Paid results whose media did not download: retried in the background, collected by resume.

A result is paid for when its job completes; its files may still fail to download (the
storage is slow, the network drops). The core tries once; this retries with backoff on
the kernel's loop and writes each outcome to the job log, so ``resume()`` in a later
session knows what is still missing and fetches it (never re-creating the job).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from .. import catalog
from ..core.jobs import Result
from ..joblog import JobLog

__all__ = ["DOWNLOAD_RETRY_SECONDS", "MediaRetry"]

log = logging.getLogger("phaya_notebook.session")

#: Waits before each new try of a failed media download (seconds; then resume() takes over).
DOWNLOAD_RETRY_SECONDS = (2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 120.0, 300.0)


class MediaRetry:
    """The background download retries of one session's client, recorded in its log."""

    def __init__(self, aio: Any, joblog: JobLog) -> None:
        self.aio = aio
        self.log = joblog
        self._downloads: dict[str, asyncio.Task[bool]] = {}

    def on_completed(self, event: Any) -> None:
        """A paid result whose media did not download: retry in the background, with backoff."""
        result = getattr(getattr(event, "job", None), "result", None)
        if getattr(event, "kind", None) != "completed" or result is None or result.cached:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # resume() collects it
        if result.job_id not in self._downloads:
            self._downloads[result.job_id] = loop.create_task(self._redownload(result),
                                                              name=f"phaya-download-{result.job_id[:8]}")

    async def _redownload(self, result: Result) -> bool:
        """Try again after each delay (seconds, divided by the time scale) until the files are cached."""
        try:
            for delay in DOWNLOAD_RETRY_SECONDS:
                await asyncio.sleep(delay / self.aio.time_scale)
                if await self.download_now(result):
                    return True
            log.warning("media of job %s still not downloaded (%s); phaya.resume() will try again",
                        result.job_id, "; ".join(result.download_errors))
            return False
        finally:
            self._downloads.pop(result.job_id, None)

    async def download_now(self, result: Result) -> bool:
        """One try; the log's row says ``cached`` (with the paths) or ``pending`` (with the error)."""
        ok = await self.aio.fetch_media(result)
        if ok:
            self.log.record(result.job_id, paths=[str(p) for p in result.paths], download="cached", error=None)
        else:
            self.log.record(result.job_id, error="; ".join(result.download_errors), download="pending")
        return ok

    async def collect(self, row: dict[str, Any]) -> Result:
        """A logged, completed job whose media is missing: download it now (the retry stops)."""
        task = self._downloads.pop(row["job_id"], None)
        if task is not None:
            with contextlib.suppress(RuntimeError):  # its loop may be gone
                task.cancel()
        job = self.aio.registry.find(row["service"], row["job_id"])
        if job is not None and job.result is not None:
            result = job.result
        else:
            svc = catalog.resolve_service(row["service"])
            result = Result(row["job_id"], svc.name, svc.media, list(row.get("urls") or []), [], {},
                            credits=float(row.get("charged") or 0.0), text=row.get("output"),
                            download_errors=["not downloaded yet"])
        await self.download_now(result)
        return result

    def cancel(self) -> None:
        """Stop every retry (the session closes: ``resume()`` in a later session takes over)."""
        for task in list(self._downloads.values()):
            with contextlib.suppress(RuntimeError):  # resume() in a later session takes over
                task.cancel()
