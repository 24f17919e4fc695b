"""Plain-httpx helpers for the sandbox tests: auth headers, polling, media probes.

Deliberately independent of ``phaya_notebook.core``: these tests check the server the
way the contract's own snippets use it.
"""

from __future__ import annotations

import io
import re
import subprocess
import time
from typing import Any

import httpx
import imageio_ffmpeg
from PIL import Image

from phaya_notebook import catalog

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def client(sb: Any, key: str | None = None) -> httpx.Client:
    return httpx.Client(base_url=sb.base_url, timeout=30.0,
                        headers={"Authorization": f"Bearer {key or sb.api_key}"})


def admin(sb: Any) -> httpx.Client:
    root = sb.base_url.rsplit("/api/v1", 1)[0]
    return httpx.Client(base_url=root, timeout=30.0, headers={"X-Sandbox-Admin": sb.admin_token})


def create(c: httpx.Client, service: str, body: dict[str, Any]) -> str:
    svc = catalog.resolve_service(service)
    r = c.post(svc.create_path, json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["job_id"])


def poll(c: httpx.Client, service: str, job_id: str, timeout: float = 30.0, every: float = 0.1) -> dict[str, Any]:
    """Poll until terminal; returns the terminal status answer and checks the flow's casing."""
    svc = catalog.resolve_service(service)
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = c.get(svc.status_url(job_id))
        assert r.status_code == 200, r.text
        ans = r.json()
        seen.append(ans["status"])
        if catalog.is_terminal(ans["status"]):
            allowed = set(svc.statuses) | {svc.server_status(s) for s in catalog.TERMINAL}
            assert set(seen) <= allowed, (seen, allowed)
            return dict(ans)
        time.sleep(every)
    raise AssertionError(f"{service} job {job_id} not terminal after {timeout}s: {seen[-3:]}")


def fetch(url: str) -> httpx.Response:
    r = httpx.get(url, timeout=30.0)
    assert r.status_code == 200, (url, r.status_code)
    return r


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.size


def video_facts(data: bytes, tmp_path: Any) -> dict[str, Any]:
    """Decode every frame with the bundled FFmpeg: codec, pixel format, frames, seconds, size."""
    path = tmp_path / f"v{time.monotonic_ns()}.mp4"
    path.write_bytes(data)
    out = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"],
                         capture_output=True, timeout=60).stderr.decode(errors="replace")
    stream = re.search(r"Stream #0:\d.*?Video: (\w+).*?, (\w+)(?:\(.*?\))?, (\d+)x(\d+)", out)
    frames = re.findall(r"frame=\s*(\d+)", out)
    dur = re.search(r"Duration: (\d+):(\d+):(\d+\.\d+)", out)
    assert stream and frames and dur, out[-800:]
    return {"codec": stream.group(1), "pix_fmt": stream.group(2), "width": int(stream.group(3)),
            "height": int(stream.group(4)), "frames": int(frames[-1]),
            "seconds": int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3)),
            "faststart": 0 <= data.find(b"moov") < data.find(b"mdat")}


def audio_samples(data: bytes) -> int:
    """Decode to 16-bit mono PCM; returns the number of non-silent samples."""
    proc = subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-i", "-", "-f", "s16le", "-ac", "1",
                           "-ar", "16000", "-"], input=data, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-500:]
    import numpy as np

    pcm = np.frombuffer(proc.stdout, dtype="<i2")
    return int((np.abs(pcm) > 200).sum())


def ratio(size: tuple[int, int]) -> float:
    return size[0] / size[1]


def aspect(text: str) -> float:
    a, b = (float(x) for x in text.split(":"))
    return a / b
