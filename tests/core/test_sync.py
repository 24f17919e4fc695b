"""The sync facade: plain scripts, and inside a running event loop (as in Jupyter)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap
from typing import Any

from phaya_notebook.core.sync import Phaya, SyncJob

from .conftest import SECRET, SPEED, TIME_SCALE

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_sync_facade_in_plain_code(fast_sandbox: Any, tmp_path: pathlib.Path) -> None:
    p = Phaya(SECRET, fast_sandbox.base_url, time_scale=TIME_SCALE, job_speed=SPEED, cache_dir=tmp_path)
    try:
        assert p.aio.base_url == fast_sandbox.base_url and p.is_sandbox
        balance = p.credits()
        res = p.generate("tts", prompt="hello from a script")
        assert res.path is not None and res.path.exists()
        job = p.submit("image", prompt="sync job")
        assert isinstance(job, SyncJob) and job.id and job.service.name == "text-to-image"
        job.watched = True
        assert job.aio.watched
        assert job.refresh() is job
        assert job.wait().path is not None and job.done
        again = p.job("text-to-image", job.id)
        assert again.status == "completed" and again.aio is job.aio
        text = "".join(ch.text for ch in p.chat_stream("stream please"))
        assert text.strip()
        assert p.credits() < balance
        assert p.estimate("veo31-video", prompt="x", model="veo3").credits == 50.0
    finally:
        p.close()


SCRIPT = textwrap.dedent("""
    import asyncio, os, sys
    from phaya_notebook.core.sync import Phaya

    def use(p):
        r = p.generate("text-to-image", prompt="from a subprocess")
        assert r.path is not None and r.path.exists(), r
        assert p.credits() > 0
        return r

    if sys.argv[1] == "plain":
        with Phaya(time_scale=float(sys.argv[2]), job_speed=float(sys.argv[3]), cache_dir=sys.argv[4]) as p:
            use(p)
            use(p)  # the private loop is reused
    else:
        async def main():
            # a running loop, like a Jupyter kernel: sync calls must still work
            p = Phaya(time_scale=float(sys.argv[2]), job_speed=float(sys.argv[3]), cache_dir=sys.argv[4])
            use(p)
            await asyncio.sleep(0)
            use(p)
            job = p.submit("text-to-image", prompt="background")
            await asyncio.sleep(0.01)  # the poller runs as a task on this loop meanwhile
            job.wait()
            p.close()
        asyncio.run(main())
    print("OK")
""")


def run_script(mode: str, sb: Any, tmp_path: pathlib.Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHAYA_")}
    env.update(PHAYA_API_KEY=SECRET, PHAYA_BASE=sb.base_url, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", SCRIPT, mode, str(TIME_SCALE), str(SPEED), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=60)


def test_plain_script(fast_sandbox: Any, tmp_path: pathlib.Path) -> None:
    proc = run_script("plain", fast_sandbox, tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stderr
    assert SECRET not in proc.stdout + proc.stderr


def test_inside_a_running_loop(fast_sandbox: Any, tmp_path: pathlib.Path) -> None:
    proc = run_script("loop", fast_sandbox, tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stderr
    assert "already running" not in proc.stderr and SECRET not in proc.stdout + proc.stderr


def test_a_job_can_be_awaited_on_another_loop(fast_sandbox: Any, tmp_path: pathlib.Path) -> None:
    """Submitted through the facade (its own loop, idle between calls), then awaited with
    asyncio.run, or by two threads' loops at once: every waiter gets the result, and the
    job is polled by one driver at a time."""
    import asyncio
    import threading
    import time

    p = Phaya(SECRET, fast_sandbox.base_url, time_scale=TIME_SCALE, job_speed=SPEED, cache_dir=tmp_path)
    try:
        job = p.submit("text-to-speech", prompt="made on one loop, awaited on another")
        frozen = job.aio.driver
        assert frozen is not None and not frozen.done()
        res = asyncio.run(asyncio.wait_for(job.aio.wait(), 30))
        assert res.path is not None and res.path.exists()
        assert job.wait() is res  # back on the facade's loop: already done
        p.credits()  # the facade's loop runs again: the task it left behind is gone, not polling
        assert frozen.cancelled()

        # every poll of the job, timed: (job id, start, end)
        spans: list[tuple[str, float, float]] = []
        real_poll = p.aio.job_requests.status

        async def timed_poll(job: Any, due: float, *, interactive: bool = False) -> Any:
            t0 = time.monotonic()
            try:
                return await real_poll(job, due, interactive=interactive)
            finally:
                spans.append((job.id, t0, time.monotonic()))

        p.aio.job_requests.status = timed_poll  # type: ignore[method-assign]
        job2 = p.submit("sora2-text-to-video", prompt="two loops wait", n_frames="10")
        got: list[Any] = []
        thread = threading.Thread(target=lambda: got.append(asyncio.run(job2.aio.wait(timeout=60))))
        thread.start()
        main = asyncio.run(asyncio.wait_for(job2.aio.wait(), 60))
        thread.join(60)
        assert got == [main] and main.path is not None
        # One driver at a time, whatever the load: polls never overlap, and after the first
        # each waits the status cache's interval after the previous answer (two drivers
        # would poll side by side). Counting polls instead flaked on a busy machine.
        mine = sorted((a, b) for jid, a, b in spans if jid == job2.id)
        assert len(mine) == job2.aio.poll_state.polls >= 1
        floor = p.aio.scheduler.min_interval
        gaps = [round(nxt[0] - prev[1], 3) for prev, nxt in zip(mine, mine[1:], strict=False)]
        assert all(g >= 0.9 * floor for g in gaps), f"one driver at a time: gaps {gaps} (floor {floor:g} s)"
    finally:
        p.close()
