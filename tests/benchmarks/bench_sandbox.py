"""Sandbox figures: status polls per second, time to make an image and a 5 s video.

Run: ``.venv/bin/python tests/benchmarks/bench_sandbox.py``. The poll figure is measured
with the server pinned to one core (a separate process under ``taskset`` when
available) and the client in this process; media times call the generators directly,
at the demo settings the server uses.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from phaya_notebook.sandbox import media, producers
from phaya_notebook.sandbox.config import SandboxConfig
from phaya_notebook.sandbox.files import FileStore


def polls_per_second(seconds: float = 3.0) -> float:
    cmd = [sys.executable, "-m", "phaya_notebook.sandbox", "--port", "0", "--api-key", "bench:1000",
           "--rate-limit", "100000000", "--speed", "0.001"]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base = ""
        for line in proc.stdout:
            if line.startswith("PHAYA_BASE="):
                base = line.strip().split("=", 1)[1]
            if line.startswith("# API docs"):
                break
        with httpx.Client(base_url=base, headers={"Authorization": "Bearer bench"}) as c:
            job = c.post("/text-to-image/generate", json={"prompt": "poll me"}).json()["job_id"]
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                assert c.get(f"/text-to-image/status/{job}").status_code == 200
                n += 1
            return n / (time.perf_counter() - t0)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def median_ms(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    print(f"status polls/s (server on one core, one client, keep-alive): {polls_per_second():.0f}  (target >= 200)")
    with tempfile.TemporaryDirectory() as d:
        cfg = SandboxConfig()
        ctx = producers.Context(FileStore(str(Path(d) / "files"), 3600), cfg)
        image_ms = median_ms(lambda: producers.text_to_image(ctx, {"prompt": "a red fox in the snow",
                                                                    "aspect_ratio": "1:1"}), 9)
        print(f"text-to-image 1024x1024 PNG: {image_ms:.0f} ms median  (target < 100 ms)")
        video_ms = median_ms(lambda: producers.sora2_text_to_video(ctx, {"prompt": "waves at dusk", "n_frames": "5"}),
                             3)
        w, h = media.video_size("16:9", cfg.video_max_side)
        print(f"5 s text-to-video {w}x{h} @ {cfg.video_fps} fps H.264: {video_ms:.0f} ms median  (target < 2000 ms)")
        still = media.picture("still", (960, 540))
        kb_ms = median_ms(lambda: ctx.video(lambda size, fps: media.ken_burns(still, size, 5.0, fps,
                                                                                {"mode": "center"}),
                                            "16:9", 5.0, "kb"), 3)
        print(f"5 s image-to-video (Ken Burns) {w}x{h}: {kb_ms:.0f} ms median")
    print(f"(cpus: {os.cpu_count()})")


if __name__ == "__main__":
    main()
