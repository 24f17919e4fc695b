"""What a client tells its listeners: a job's state changes and finished chat calls.

One :class:`Events` per client. ``Job`` emits through it (``created`` before the first
poll, so a job log records the id first; then ``status`` / ``completed`` / ``failed`` /
``cancelled`` / ``timeout``); the chat calls report one :class:`~.chat.ChatEvent` each.
Listeners run synchronously on the loop that made the event; one that raises is logged
and skipped, never allowed to break the job or the chat call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from .. import catalog
from .chat import ChatEvent
from .jobs import EventKind, Job, JobEvent

__all__ = ["ClientEvent", "Events", "Listener"]

log = logging.getLogger("phaya_notebook.core")

#: What a listener receives: a job's state change, or a finished chat call (``kind == "chat"``).
ClientEvent = JobEvent | ChatEvent
Listener = Callable[[ClientEvent], Any]

#: The kinds after which a job says nothing more (``on_job_end`` runs before the listeners).
ENDS = ("completed", "failed", "cancelled")


class Events:
    """The listeners of one client, and the one place events are delivered."""

    def __init__(self, on_job_end: Callable[[Job], Any] | None = None):
        self.listeners: list[Listener] = []
        self.on_job_end = on_job_end

    def add(self, fn: Listener) -> None:
        self.listeners.append(fn)

    def remove(self, fn: Listener) -> None:
        if fn in self.listeners:
            self.listeners.remove(fn)

    def emit(self, kind: EventKind, job: Job) -> None:
        """A job's state change."""
        if kind in ENDS and self.on_job_end is not None:
            self.on_job_end(job)
        self.deliver(JobEvent(kind, job))

    def chat(self, body: dict[str, Any], model: str | None, usage: dict[str, Any] | None,
             credits: float | None, streamed: bool, started: float, error: str | None) -> None:
        """A finished chat call (``started``: its monotonic start)."""
        self.deliver(ChatEvent(model or str(body.get("model") or catalog.DEFAULT_CHAT_MODEL),
                               list(body.get("messages") or []), dict(usage or {}),
                               None if credits is None else float(credits), streamed, error,
                               time.monotonic() - started))

    def deliver(self, event: ClientEvent) -> None:
        for fn in list(self.listeners):
            try:
                fn(event)
            except Exception:
                log.exception("listener failed on a %s event", event.kind)
