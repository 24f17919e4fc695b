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


@pytest.fixture(scope="session")
def sandbox() -> Iterator[object]:
    """One fast sandbox for the whole run (jobs finish in about a second)."""
    from phaya_notebook.sandbox import start

    sb = start(speed=60.0, credits=100000.0, api_keys=None)
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture()
def fresh_sandbox() -> Iterator[object]:
    """A sandbox of its own, for tests that spend, rate-limit or inject faults."""
    from phaya_notebook.sandbox import start

    sb = start(speed=60.0, credits=100.0)
    try:
        yield sb
    finally:
        sb.stop()
