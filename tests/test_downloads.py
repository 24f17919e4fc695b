"""A paid result whose media download fails is kept, retried with backoff and collected.

Real sandbox over HTTP; its fault queue makes storage (``/files/...``) answer 500. The
create is counted from the sandbox's own request stats: a retry never sends a new one.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from phaya_notebook import catalog
from phaya_notebook.session import Session

CREATE = "/api/v1" + catalog.resolve_service("text-to-image").create_path


def _admin(sb: Any) -> httpx.Client:
    return httpx.Client(base_url=sb.root_url, timeout=30.0, headers={"X-Sandbox-Admin": sb.admin_token})


def _requests(sb: Any, prefix: str) -> int:
    with _admin(sb) as a:
        by_path = a.get("/_sandbox/stats").json()["by_path"]
    return sum(n for path, n in by_path.items() if path.startswith(prefix))


def _storage_fails(sb: Any, times: int) -> None:
    with _admin(sb) as a:
        assert a.post("/_sandbox/faults", json={"kind": "500", "count": times, "paths": "/files/"}).status_code == 200


def test_a_result_whose_first_5_downloads_fail_is_retried_in_the_background(fresh_sandbox: Any,
                                                                            tmp_path: Path) -> None:
    sb = fresh_sandbox

    async def main() -> None:
        with Session(sb.api_key, sb.base_url, log_path=tmp_path / "jobs.sqlite3", cache_dir=tmp_path / "media") as s:
            _storage_fails(sb, 5)
            job = await s.aio.submit("text-to-image", prompt="a paid picture")
            result = await job.wait()
            assert not result.cached and result.paths == [] and result.url  # the 4 tries of the first pass
            assert "not cached yet" in repr(result)
            row = s.log.get(job.id)
            assert row is not None and (row["status"], row["download"]) == ("completed", "pending")
            assert "500" in row["error"] and row["urls"] == [result.url]
            deadline = time.monotonic() + 30
            while not result.cached and time.monotonic() < deadline:  # the background retry
                await asyncio.sleep(0.05)
            assert result.cached and result.path is not None and result.path.stat().st_size > 1000
            row = s.log.get(job.id)
            assert row is not None
            assert (row["status"], row["download"], row["error"]) == ("completed", "cached", None)
            assert row["paths"] == [str(result.path)] and row["charged"] == 1.0

    asyncio.run(main())
    assert _requests(sb, CREATE) == 1  # never a new create
    assert _requests(sb, "/files/") == 6  # 5 failures, then the file


def test_resume_collects_a_result_whose_downloads_failed_in_an_earlier_session(fresh_sandbox: Any,
                                                                               tmp_path: Path,
                                                                               capsys: pytest.CaptureFixture[str],
                                                                               monkeypatch: pytest.MonkeyPatch
                                                                               ) -> None:
    import phaya_notebook.session.downloads

    sb = fresh_sandbox
    log_path = tmp_path / "jobs.sqlite3"
    monkeypatch.setattr(phaya_notebook.session.downloads, "DOWNLOAD_RETRY_SECONDS", (3600.0,))  # the kernel dies first
    with Session(sb.api_key, sb.base_url, log_path=log_path, cache_dir=tmp_path / "media") as s:
        _storage_fails(sb, 4)  # the first pass: one try and three quick retries
        result = s.generate("text-to-image", prompt="a paid picture")
        assert not result.cached
        job_id = result.job_id
    # the session (kernel) is gone; its retry with it; the row says what is missing
    with Session(sb.api_key, sb.base_url, log_path=log_path, cache_dir=tmp_path / "media") as s:
        assert s.log.get(job_id)["download"] == "pending"  # type: ignore[index]
        capsys.readouterr()
        got = s.resume()
        assert "downloaded the media of 1 of 1 completed job(s) that were not cached yet" in capsys.readouterr().out
        assert [r.job_id for r in got] == [job_id] and got[0].cached and got[0].path is not None
        assert got[0].path.is_file()
        row = s.log.get(job_id)
        assert row is not None and (row["download"], row["paths"]) == ("cached", [str(got[0].path)])
        assert s.resume() == []
    assert _requests(sb, CREATE) == 1
