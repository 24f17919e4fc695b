"""Session: the notebook's client — a Phaya whose every job and credit lands in the job log.

``connect()`` is the front door: with a key (argument or ``PHAYA_API_KEY``) it talks to
the real Phaya; without one it starts the offline sandbox and says so in one line.

The package, one job per module:

- ``start``: ``connect()`` and the checks before anything starts (``check_folders``);
- ``session``: :class:`Session` — the client wired to the log (events, chat rows, ratings,
  the pandas views, budgets, live progress, compare, widgets on demand);
- ``reconcile``: what the server really charged, per job (credits history, else balance);
- ``downloads``: failed media downloads retried in the background;
- ``resume``: re-attach unfinished jobs and fetch media still missing;
- ``views``: ``prices()`` and the daily-cap note under ``spend()``.
"""

from __future__ import annotations

from .downloads import DOWNLOAD_RETRY_SECONDS
from .reconcile import HISTORY_LIMIT
from .session import LiveJob, Session
from .start import check_folders, connect

__all__ = ["DOWNLOAD_RETRY_SECONDS", "HISTORY_LIMIT", "LiveJob", "Session", "check_folders", "connect"]
