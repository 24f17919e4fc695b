"""The small interfaces lower core modules are given, so that none of them imports the client.

``AsyncPhaya`` (``client.py``) builds the real collaborators and hands them down: the request
loop as :class:`Http`, itself as :class:`Pace` (its public timing attributes). ``jobs.py``,
``create.py`` and ``results.py`` type against these; tests can pass fakes.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Http", "Pace"]


class Http(Protocol):
    """The request loop: budget slot per attempt, retries, one error mapping."""

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        """One API request (``json``, ``params``, ``files``, ``safe``, ``priority``, ...): parsed JSON."""

    async def get(self, path: str, **kw: Any) -> Any:
        """``call("GET", path, ...)``."""

    async def download(self, url: str) -> tuple[bytes, str | None]:
        """A result file's bytes and content type (GETs only, retried)."""


class Pace(Protocol):
    """How fast this client's server runs (a time-scaled sandbox divides every interval)."""

    time_scale: float
    job_speed: float
    speed_unknown: bool
