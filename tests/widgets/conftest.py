"""Widget tests run against a real sandbox over HTTP; its clock runs 10x so the suite stays quick."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..sandboxes import running_sandbox

SPEED, TIME_SCALE = 60.0, 10.0


@pytest.fixture(scope="package")
def wsandbox() -> Iterator[Any]:
    """Jobs finish in well under a second; the status cache and rate window are 10x shorter."""
    with running_sandbox(speed=SPEED, time_scale=TIME_SCALE, credits=100000.0) as sb:
        yield sb


@pytest.fixture()
def nb_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The notebook's directory: the media cache lives below it, as in a real session."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture()
async def aio(wsandbox: Any, nb_cwd: Path) -> AsyncIterator[Any]:
    from phaya_notebook.core.client import AsyncPhaya

    client = AsyncPhaya(wsandbox.api_key, wsandbox.base_url, cache_dir=nb_cwd / "phaya-media")
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture()
async def session(wsandbox: Any, nb_cwd: Path) -> AsyncIterator[Any]:
    """A Session (job log, ratings, gallery) on the package's sandbox, its cache below the notebook."""
    from phaya_notebook.session import Session

    s = Session(wsandbox.api_key, wsandbox.base_url, cache_dir=nb_cwd / "phaya-media")
    try:
        yield s
    finally:
        await s.aio.aclose()
        s.log.close()
