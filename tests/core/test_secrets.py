"""The API key never appears in reprs, errors or logs, and is never sent for media files."""

from __future__ import annotations

import logging
import pathlib
from typing import Any

import pytest

from phaya_notebook.core.errors import AuthenticationError, JobFailed, JobTimeout, PhayaError
from phaya_notebook.core.sync import Phaya

from .conftest import SECRET, SPEED, TIME_SCALE


async def test_key_never_leaks(make_client: Any, admin: Any, fast_sandbox: Any, caplog: pytest.LogCaptureFixture,
                               capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    caplog.set_level(logging.DEBUG)  # httpx, httpcore, asyncio and ours
    c = make_client()
    seen: list[str] = [repr(c), str(c), repr(c.budget), c.api_key_masked]
    c.add_listener(lambda e: seen.append(f"{e!r} {e.job!r}"))
    admin.fault("500", 2, paths="/status/")
    admin.fault("drop", 1, paths="/text-to-image/generate")
    res = await c.generate("text-to-image", prompt="secret-safe")
    seen += [repr(res), str(res), repr(c.jobs[-1]), str(vars(c.jobs[-1]))]
    errors: list[BaseException] = []
    with pytest.raises(JobFailed) as failed:
        await c.generate("text-to-image", prompt="[fail] x")
    errors.append(failed.value)
    job = await c.submit("text-to-image", prompt="[stuck] x")
    with pytest.raises(JobTimeout) as late:
        await job.wait(timeout=0.3)
    errors.append(late.value)
    bad = make_client(key="sk-wrong-" + SECRET[::-1])
    with pytest.raises(AuthenticationError) as denied:
        await bad.credits()
    errors.append(denied.value)
    assert [type(e) for e in errors] == [JobFailed, JobTimeout, AuthenticationError]  # all three checked
    for e in errors:
        seen += [str(e), repr(e)]
        cause = e.__cause__ or e.__context__
        if cause is not None:
            seen += [str(cause), repr(cause)]
    out = capsys.readouterr()
    seen += [caplog.text, out.out, out.err]
    assert "HTTP Request" in caplog.text  # httpx's own DEBUG/INFO lines were captured
    for text in seen:
        assert SECRET not in text and SECRET[-12:] not in text
    assert SECRET[-4:] in repr(c)
    # media files were fetched without the key: the sandbox saw them as anonymous
    files_by_key = [p for p in admin.paths_of(SECRET) if p.startswith("/files/")]
    assert files_by_key == [] and res.path is not None
    anon = admin.stats()["by_key"].get("anonymous", {}).get("paths", {})
    assert any(p.startswith("/files/") for p in anon)
    # nothing written to disk carries the key
    for f in pathlib.Path(c.cache.root).rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes()
    await c.aclose()
    await bad.aclose()


def test_sync_facade_repr_and_errors_mask_the_key(fast_sandbox: Any, tmp_path: pathlib.Path) -> None:
    with Phaya(SECRET, fast_sandbox.base_url, time_scale=TIME_SCALE, job_speed=SPEED,
               cache_dir=tmp_path) as p:
        assert SECRET not in repr(p) and "Phaya" in repr(p) and SECRET[-4:] in repr(p)
        with pytest.raises(PhayaError) as ei:
            p.submit("text-to-image", prompt="x" * 2000)
        assert SECRET not in str(ei.value) and "1000" in str(ei.value)
