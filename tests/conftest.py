"""Shared fixtures: a clean environment and a real sandbox over HTTP on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from .sandboxes import running_sandbox


@pytest.fixture(autouse=True)
def _clean_phaya_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test sees a developer's real key or base URL, nor the machine's persistent sandbox.

    Each test gets a sandbox directory of its own (``PHAYA_SANDBOX_DIR``, inherited by the
    kernels and processes it starts); a sandbox started there is stopped when the test ends.
    """
    from phaya_notebook.core import launch

    for name in list(os.environ):
        if name.startswith("PHAYA_"):
            monkeypatch.delenv(name, raising=False)
    state_dir = tmp_path_factory.mktemp("sandbox-dir")
    monkeypatch.setenv("PHAYA_SANDBOX_DIR", str(state_dir))
    yield
    launch.stop_embedded(state_dir=state_dir)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[object]:
    """One fast sandbox for the whole run (jobs finish in about a second).

    time_scale=10: the 5 s status cache lasts 0.5 s and the 60-request window 6 s.
    """
    with running_sandbox(speed=60.0, time_scale=10.0, credits=100000.0, api_keys=None) as sb:
        yield sb


@pytest.fixture()
def fresh_sandbox() -> Iterator[object]:
    """A sandbox of its own, for tests that spend, rate-limit or inject faults.

    time_scale=10 as above: 60 requests per 6 s window, Retry-After of a few seconds.
    """
    with running_sandbox(speed=60.0, time_scale=10.0, credits=100.0) as sb:
        yield sb


@pytest.fixture()
def live_streams(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every httpx streaming response opened during the test (to check each got closed)."""
    import httpx

    opened: list[Any] = []
    real = httpx.AsyncClient.send

    async def send(self: httpx.AsyncClient, request: httpx.Request, **kw: Any) -> httpx.Response:
        resp = await real(self, request, **kw)
        if kw.get("stream"):
            opened.append(resp)
        return resp

    monkeypatch.setattr(httpx.AsyncClient, "send", send)
    yield opened
