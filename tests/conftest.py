"""Shared fixtures: a clean environment and a real sandbox over HTTP on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _clean_phaya_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees a developer's real key or base URL."""
    for name in list(os.environ):
        if name.startswith("PHAYA_"):
            monkeypatch.delenv(name, raising=False)


def _tell_clients(sb: object, *, speed: float, time_scale: float) -> None:
    """Clients on this sandbox time their polls and rate window to its speed (core.launch)."""
    from phaya_notebook.core.launch import register

    register(sb.base_url, speed=speed, time_scale=time_scale)  # type: ignore[attr-defined]


def _forget(sb: object) -> None:
    from phaya_notebook.core.launch import unregister

    unregister(sb.base_url)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def sandbox() -> Iterator[object]:
    """One fast sandbox for the whole run (jobs finish in about a second).

    time_scale=10: the 5 s status cache lasts 0.5 s and the 60-request window 6 s.
    """
    from phaya_notebook.sandbox import start

    sb = start(speed=60.0, credits=100000.0, api_keys=None, time_scale=10.0)
    _tell_clients(sb, speed=60.0, time_scale=10.0)
    try:
        yield sb
    finally:
        sb.stop()
        _forget(sb)


@pytest.fixture()
def fresh_sandbox() -> Iterator[object]:
    """A sandbox of its own, for tests that spend, rate-limit or inject faults.

    time_scale=10 as above: 60 requests per 6 s window, Retry-After of a few seconds.
    """
    from phaya_notebook.sandbox import start

    sb = start(speed=60.0, credits=100.0, time_scale=10.0)
    _tell_clients(sb, speed=60.0, time_scale=10.0)
    try:
        yield sb
    finally:
        sb.stop()
        _forget(sb)
