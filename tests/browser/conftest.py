"""Fixtures for the browser tests: one JupyterLab for the session, a fresh Chromium per test."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import ARTIFACTS, NOTEBOOKS, Server, chromium_page, jupyter_server


@pytest.fixture(scope="session", autouse=True)
def _fresh_failure_shots() -> None:
    """Failure screenshots describe this run only."""
    for old in ARTIFACTS.glob("failure-*.png"):
        old.unlink(missing_ok=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/browser is a browser test (``-m "not browser"`` skips it)."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def lab() -> Iterator[Server]:
    with jupyter_server("lab", [p.name for p in NOTEBOOKS.glob("*.ipynb")]) as server:
        yield server


@pytest.fixture()
def page() -> Iterator[object]:
    """A new, empty Chromium profile per test, removed afterwards."""
    profile = Path(tempfile.mkdtemp(prefix="e2e-chromium-"))
    try:
        with chromium_page(profile / "profile") as pg:
            yield pg
    finally:
        shutil.rmtree(profile, ignore_errors=True)
