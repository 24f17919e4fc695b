"""Fixtures for the core's integration tests: a time-scaled sandbox and an admin helper.

The sandbox runs 10x faster in wall time (rate window 6 s, status cache 0.5 s) and jobs
another 12x faster, so every service finishes in well under a few seconds; clients are
told the same scale so their polling matches.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from phaya_notebook.core.client import AsyncPhaya

TIME_SCALE = 10.0
SPEED = 12.0
SECRET = "sk-core-test-7f3e9a1c5b2d4e6fQ9ZK"


class Admin:
    """The sandbox's admin endpoints: queue faults, read request counts."""

    def __init__(self, sb: Any):
        self.sb = sb
        self.root = sb.base_url.rsplit("/api/v1", 1)[0]
        self.headers = {"X-Sandbox-Admin": sb.admin_token}

    def fault(self, kind: str, count: int = 1, paths: str = "", seconds: float = 2.0) -> None:
        r = httpx.post(f"{self.root}/_sandbox/faults", headers=self.headers,
                       json={"kind": kind, "count": count, "paths": paths, "seconds": seconds})
        r.raise_for_status()

    def clear(self) -> None:
        httpx.delete(f"{self.root}/_sandbox/faults", headers=self.headers).raise_for_status()

    def stats(self) -> dict[str, Any]:
        r = httpx.get(f"{self.root}/_sandbox/stats", headers=self.headers)
        r.raise_for_status()
        return dict(r.json())

    def requests_of(self, key: str) -> int:
        entry = self.stats()["by_key"].get(self.sb.key_id(key), {})
        return int(entry.get("total", 0))

    def paths_of(self, key: str) -> dict[str, int]:
        entry = self.stats()["by_key"].get(self.sb.key_id(key), {})
        return dict(entry.get("paths", {}))


@pytest.fixture(scope="module")
def fast_sandbox() -> Iterator[Any]:
    """A time-scaled sandbox with a known key (so tests can look for it in output)."""
    from phaya_notebook.sandbox import start

    sb = start(speed=SPEED, time_scale=TIME_SCALE, credits=100000.0,
               api_keys=[SECRET, "sk-core-second-key-0000aaaa:50"])
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture()
def admin(fast_sandbox: Any) -> Iterator[Admin]:
    a = Admin(fast_sandbox)
    yield a
    a.clear()


@pytest.fixture()
def make_client(fast_sandbox: Any, tmp_path: pathlib.Path) -> Iterator[Any]:
    made: list[AsyncPhaya] = []

    def make(key: str = SECRET, **kw: Any) -> AsyncPhaya:
        kw.setdefault("time_scale", TIME_SCALE)
        kw.setdefault("job_speed", SPEED)
        kw.setdefault("cache_dir", tmp_path / "media")
        c = AsyncPhaya(key, fast_sandbox.base_url, **kw)
        made.append(c)
        return c

    yield make
