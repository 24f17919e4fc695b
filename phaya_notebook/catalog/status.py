"""Job status casing: which statuses a service's server reports, and one lower-case form.

Services spell their statuses three ways (``PENDING``/``QUEUED``/``PROCESSING``,
``PENDING``/``PROCESSING``, ``processing``) and a few synonyms; everything above the
catalog compares the normalised lower-case form, so the casing rules live here once.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["STATUS_FLOWS", "TERMINAL", "StatusFamily", "is_terminal", "normalize_status"]

StatusFamily = Literal["upper4", "upper5", "lower"]

#: Every status a job can report, by the casing family its service uses.
STATUS_FLOWS: dict[str, tuple[str, ...]] = {
    "upper5": ("PENDING", "QUEUED", "PROCESSING"),
    "upper4": ("PENDING", "PROCESSING"),
    "lower": ("processing",),
}
TERMINAL = ("completed", "failed", "cancelled")


def normalize_status(status: str | None) -> str:
    """Lower-case a server status; unknown values count as still running."""
    s = (status or "").strip().lower()
    if s in ("canceled",):
        return "cancelled"
    if s in ("succeeded", "success", "done"):
        return "completed"
    if s in ("error",):
        return "failed"
    return s or "pending"


def is_terminal(status: str | None) -> bool:
    """True once a job can no longer change: completed, failed or cancelled (any casing)."""
    return normalize_status(status) in TERMINAL
