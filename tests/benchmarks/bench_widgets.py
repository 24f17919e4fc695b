"""Benchmark: the studio cell returns fast; 20 jobs in flight barely delay the event loop.

Run: ``.venv/bin/python tests/benchmarks/bench_widgets.py [1] [2] [3]`` (prints the figures;
the numbers pick the ways listed below, default all).

1. Showing the studio: time ``Studio(client)`` plus its display bundle on a live client,
   after the first connect (which is excluded). Target < 100 ms.
2. Event-loop lag: a 5 ms ticker measures how late it wakes while 20 jobs started by
   clicking Generate run, poll, download and render. Target p99 < 20 ms.

Run three ways: the sandbox in its own process (as the real, remote Phaya is), measured in
this process and again inside a real ipykernel (widget comm traffic included); and the
sandbox in a thread of this process (as ``connect()`` without a key does), where its
own media generation competes for the GIL with the loop being measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from phaya_notebook.core import launch  # noqa: E402
from phaya_notebook.core.client import AsyncPhaya  # noqa: E402
from phaya_notebook.sandbox import start  # noqa: E402

# jobs last about 10 s / (SPEED * TIME_SCALE) = 2-3 s each, so 20 are in flight together
SPEED, TIME_SCALE, JOBS = 0.4, 10.0, 20


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


@contextlib.contextmanager
def sandbox_process() -> Iterator[SimpleNamespace]:
    """``python -m phaya_notebook.sandbox`` in a child process on a free port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "phaya_notebook.sandbox", "--port", "0", "--speed", str(SPEED),
         "--time-scale", str(TIME_SCALE), "--credits", "100000"],
        stdout=subprocess.PIPE, text=True, cwd=str(Path(__file__).resolve().parents[2]))
    try:
        env: dict[str, str] = {}
        assert proc.stdout is not None
        while "PHAYA_API_KEY" not in env:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("the sandbox process did not start")
            if line.startswith("PHAYA_") and "=" in line:
                k, _, v = line.strip().partition("=")
                env[k] = v
        yield SimpleNamespace(base_url=env["PHAYA_BASE"], api_key=env["PHAYA_API_KEY"])
    finally:
        proc.terminate()
        proc.wait(10)


async def measure(base_url: str, api_key: str, tmp: str) -> None:
    """Both figures against the sandbox at ``base_url`` (the caller's loop is the one measured)."""
    from phaya_notebook.widgets import Studio

    os.chdir(tmp)
    launch.register(base_url, speed=SPEED, time_scale=TIME_SCALE)
    async with AsyncPhaya(api_key, base_url, cache_dir=Path(tmp) / "phaya-media") as aio:
        await aio.credits()  # the first connect, excluded

        # 1. the cell that shows the studio
        times = []
        for _ in range(10):
            t0 = time.perf_counter()
            s = Studio(aio)
            s._repr_mimebundle_()
            times.append((time.perf_counter() - t0) * 1000)
            await s.wait(10)
        print(f"studio cell: first {times[0]:.1f} ms, median {statistics.median(times):.1f} ms, "
              f"max {max(times):.1f} ms (target < 100 ms)")

        # 2. event-loop lag with 20 jobs in flight from the widget
        studio = Studio(aio, tick=0.5)
        lags: list[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            loop = asyncio.get_running_loop()
            while not stop.is_set():
                t = loop.time()
                await asyncio.sleep(0.005)
                lags.append((loop.time() - t - 0.005) * 1000)

        tick = asyncio.ensure_future(ticker())
        t0 = time.perf_counter()
        clicks = []
        for i in range(JOBS):
            studio.prompt.value = f"benchmark tile {i}"
            c0 = time.perf_counter()
            studio.generate.click()
            clicks.append((time.perf_counter() - c0) * 1000)
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, len(studio.jobs_box.children))
                await asyncio.sleep(0.05)

        watcher = asyncio.ensure_future(watch())
        await studio.wait(300)
        wall = time.perf_counter() - t0
        stop.set()
        await tick
        await watcher
        done = sum(1 for c in studio.cards if c.outcome == "completed")
        print(f"generate click: max {max(clicks):.2f} ms over {JOBS} clicks")
        print(f"{JOBS} jobs: {done} completed, peak {peak} in flight, {wall:.1f} s wall, "
              f"{aio.stats['requests']} requests")
        print(f"event-loop lag over {len(lags)} ticks: p50 {pct(lags, 50):.2f} ms, "
              f"p99 {pct(lags, 99):.2f} ms, max {max(lags):.2f} ms (target p99 < 20 ms)")
        if studio.error.value:
            print("studio error:", studio.error.value)




async def main(mode: str) -> None:
    print(f"--- sandbox {mode}")
    server = start(speed=SPEED, credits=100000.0, time_scale=TIME_SCALE) if "thread" in mode else sandbox_process()
    with server as sb, tempfile.TemporaryDirectory() as tmp:
        if "kernel" in mode and "thread" not in mode:
            in_kernel(sb.base_url, sb.api_key, tmp)
        else:
            await measure(sb.base_url, sb.api_key, tmp)


def in_kernel(base_url: str, api_key: str, tmp: str) -> None:
    """Run ``measure`` inside a real ipykernel (widget comms and all), print what it prints."""
    import nbclient
    import nbformat

    code = (f"import runpy\nbench = runpy.run_path({str(Path(__file__).resolve())!r}, run_name='bench')\n"
            f"await bench['measure']({base_url!r}, {api_key!r}, {tmp!r})")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    for out in nb.cells[0].outputs:
        print(out.get("text", ""), end="")


if __name__ == "__main__":
    home = os.getcwd()
    modes = ("in a child process", "in a child process, measured inside an ipykernel",
             "in a thread of the measured process (as connect() without a key)")
    for mode in [m for i, m in enumerate(modes) if not sys.argv[1:] or str(i + 1) in sys.argv[1:]]:
        asyncio.run(main(mode))
        os.chdir(home)
