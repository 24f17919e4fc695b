"""The listener that writes a client's job state changes into the log.

:class:`JobRecorder` turns each ``JobEvent`` into one upsert. The row is written on the
client's ``created`` event, which comes before any polling, so a kernel that dies while
waiting leaves the job id on disk for ``resume()``. A failing store is logged loudly and
never stops the job. The recorder depends only on :class:`LogWriter` (``record``, ``path``,
``errors``), not on a store class.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Protocol

from ..core.timeparse import parse_iso
from .reconcile import reconcile_amounts

__all__ = ["JobRecorder", "LogWriter", "parse_time"]

_log = logging.getLogger("phaya_notebook.joblog")
#: Fields that say what a job was about, for the ``prompt`` column.
_PROMPT_FIELDS = ("prompt", "character_prompt", "script", "url", "image_url", "media_url", "video_url")


class LogWriter(Protocol):
    """What the recorder needs of a store (``JobLog`` and ``PgJobLog`` are ones)."""

    @property
    def path(self) -> Path | str: ...

    errors: tuple[type[BaseException], ...]

    def record(self, job_id: str, **fields: Any) -> None: ...


def parse_time(value: Any) -> float | None:
    """ISO 8601 text (naive = UTC) or epoch seconds -> epoch seconds (None when unreadable)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        parsed = parse_iso(value)
        return None if parsed is None else parsed.timestamp()
    return None


def _prompt_of(params: dict[str, Any]) -> str | None:
    for name in _PROMPT_FIELDS:
        if isinstance(params.get(name), str):
            return str(params[name])
    return None


def _model_of(job: Any) -> str:
    model = job.params.get("model") if isinstance(job.params, dict) else None
    return f"{job.service.label} ({model})" if isinstance(model, str) else job.service.label


class JobRecorder:
    """The JobEvent listener: one upsert per event; ``created`` comes before any poll.

    Duck-typed on core's Job (``id, service, params, estimate, status, charged,
    refunded, error, tags, created_at, finished_at, elapsed, done, fields, result``).
    """

    def __init__(self, joblog: LogWriter, session_id: str | None, base_url: str | None, key_id: str | None = None):
        self.log = joblog
        self.session_id = session_id
        self.base_url = base_url
        self.key_id = key_id

    def __call__(self, event: Any) -> None:
        if getattr(event, "kind", None) == "chat":  # a ChatEvent: the session logs those
            return
        try:
            self.log.record(event.job.id, **self.fields(event))
        except self.log.errors as exc:  # the job must go on; say loudly that the log missed it
            _log.error("job log %s could not record %s of job %s: %s", self.log.path, event.kind, event.job.id, exc)

    def fields(self, event: Any) -> dict[str, Any]:
        job = event.job
        f: dict[str, Any] = {
            "kind": "job", "service": job.service.name, "model": _model_of(job),
            "prompt": _prompt_of(job.params), "params": job.params or None,
            "estimated": job.estimate.credits if job.estimate.basis != "resumed" else None,
            "status": job.status, "created_at": job.created_at, "tags": list(job.tags) or None,
            "session": self.session_id, "base_url": self.base_url, "key_id": self.key_id,
        }
        if job.charged is not None:
            f["charged"] = job.charged
        if event.kind == "timeout":
            f["error"] = f"timed out waiting after {job.elapsed:.0f} s (still {job.status}; resumable)"
        if job.done:
            f.update(self._terminal(job))
        return f

    @staticmethod
    def _terminal(job: Any) -> dict[str, Any]:
        """The columns a finished job adds: times, money (provisional verdict), result."""
        f: dict[str, Any] = {}
        fields = job.fields or {}
        start, end = parse_time(fields.get("created_at")), parse_time(fields.get("updated_at"))
        f["finished_at"] = end if end is not None else (job.finished_at or time.time())
        f["duration"] = (end - start) if (start is not None and end is not None and end >= start) \
            else job.elapsed
        f["error"] = job.error
        charged = float(job.charged or 0.0)
        f["charged"] = charged
        f["refunded"] = charged if job.refunded else 0.0
        ms = fields.get("processing_time_ms")
        if isinstance(ms, (int, float)) and not isinstance(ms, bool):
            f["processing_time_ms"] = int(ms)
        if (job.status == "completed" and charged <= 0 and job.estimate.credits > 0
                and job.estimate.basis != "resumed"):
            # live quirk: credits_used 0 for a job that cost money. Unknown, not free.
            f.update(charged=None, refunded=0.0, delta=None, reconcile="unverified",
                     charge_source="status answer",
                     reconcile_note="the status answer said credits_used 0 for a priced job: charge unknown "
                                    "until reconcile() reads the credits history or the balance")
        elif job.estimate.basis != "resumed":  # provisional until reconcile() reads the history
            verdict, delta, note = reconcile_amounts(job.status, job.estimate.credits, charged, f["refunded"])
            f.update(reconcile=verdict, delta=delta, reconcile_note=f"{note} (from the status answer)",
                     charge_source="status answer")
        if job.result is not None:
            f["urls"] = list(job.result.urls)
            f["paths"] = [str(p) for p in job.result.paths]
            if getattr(job.result, "text", None):  # a transcript or character id: paid for, kept
                f["output"] = job.result.text
            if job.result.download_errors:
                f["error"] = "; ".join(job.result.download_errors)
                f["download"] = "pending"  # paid for, not on disk yet: retried, and resume() collects it
            elif job.result.paths:
                f["download"] = "cached"
        return f
