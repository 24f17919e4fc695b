"""What a magic shows while and after it works: a job's one-line status, a credit amount.

Kept out of the magics class so it stays about commands; imported lazily (nothing here
may make ``%load_ext`` slower: the catalog is imported on first use).
"""

from __future__ import annotations

from typing import Any


def credits_text(amount: float | None) -> str:
    """The catalog's wording of a credit amount (imported lazily: ``%load_ext`` stays fast)."""
    from ..catalog import credits_text as text

    return text(amount)


class Credits(float):
    """A credit amount that reads as one (``%phaya balance`` returns it)."""

    note = ""  # e.g. what is left of the key's daily cap

    def __repr__(self) -> str:
        return f"{float(self):,.2f} credits" + (f" ({self.note})" if self.note else "")


class JobStatus:
    """One line about a running job, updated in place while it runs."""

    def __init__(self, job: Any) -> None:
        svc = getattr(getattr(job, "service", None), "name", None) or str(getattr(job, "service", "job"))
        status = getattr(job, "status", "?")
        progress = float(getattr(job, "progress", 0.0) or 0.0)
        elapsed = float(getattr(job, "elapsed", 0.0) or 0.0)
        self.text = f"{svc} · job {getattr(job, 'id', '?')} · {status}"
        if status in ("completed", "failed", "cancelled"):
            self.text += f" · {elapsed:.1f} s"
        else:
            self.text += f" · {progress:.0%} · {elapsed:.0f} s"

    def __repr__(self) -> str:
        return self.text


def wait_with_status(job: Any) -> Any:
    """``job.wait()`` with its status line displayed and updated in place until it ends."""
    from IPython.display import display

    status = JobStatus(job)
    handle = display(status, display_id=True)
    shown = [status.text]

    def progress(j: Any = job, *_: Any) -> None:
        now = JobStatus(j)
        if handle is not None and now.text != shown[0]:
            shown[0] = now.text
            handle.update(now)

    try:  # a refund releases the job's reservation in the core
        result = job.wait(on_progress=progress)
    finally:
        progress(job)
    return result
