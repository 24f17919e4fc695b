"""The embedded sandbox starts once per process; core stays free of heavy imports."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from phaya_notebook import catalog
from phaya_notebook.core import launch
from phaya_notebook.core.client import AsyncPhaya
from phaya_notebook.core.scheduler import DEFAULT_UPPER


async def test_embedded_sandbox_once_per_process() -> None:
    try:
        base, key = launch.embedded_sandbox()
        assert launch.embedded_sandbox() == (base, key)
        assert base.startswith("http://127.0.0.1:") and base.endswith("/api/v1")
        c = AsyncPhaya(key, base)
        assert c.is_sandbox and c.job_speed == launch.EMBEDDED_SPEED and key not in repr(c)
        assert await c.credits() == launch.EMBEDDED_CREDITS
        await c.aclose()
    finally:
        launch.stop_embedded()
    assert launch.settings_for(base) is None


def test_core_imports_nothing_heavy() -> None:
    code = ("import sys, phaya_notebook.core.client, phaya_notebook.core.sync, phaya_notebook.core.launch;"
            "bad = [m for m in ('IPython', 'ipywidgets', 'pandas', 'fastapi', 'uvicorn', 'nest_asyncio',"
            " 'phaya_notebook.sandbox') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


async def test_clients_on_the_shared_fixture_know_its_speed(sandbox: Any, tmp_path: Any) -> None:
    import time

    c = AsyncPhaya(sandbox.api_key, sandbox.base_url, cache_dir=tmp_path)
    assert c.time_scale == 10.0 and c.job_speed == 60.0
    t0 = time.monotonic()
    image, video = await asyncio.gather(c.generate("text-to-image", prompt="quick"),
                                        c.generate("sora2-text-to-video", prompt="quick"))
    took = time.monotonic() - t0
    # The trap: a client that did not know the sandbox's speed would first poll the video at
    # its catalog duration (180 s / time_scale x 1.15 = 20.7 s). Checked at its cause (the
    # expectation) and, loosely enough for a loaded machine, at its effect (the wall time).
    video_job = next(j for j in c.jobs if j.service.name == "sora2-text-to-video")
    typical = catalog.typical_seconds(video_job.service, video_job.params)  # 180 s
    assert video_job.poll_state.base_seconds == pytest.approx(typical / (60.0 * 10.0))
    trap = typical / 10.0 * DEFAULT_UPPER
    assert image.path and video.path and took < 0.9 * trap, took  # not minutes (the 1.3 x typical trap)
    await c.aclose()


def test_the_kernel_and_the_sandbox_cli_find_the_same_folder(tmp_path: Any) -> None:
    """One folder rule (catalog/embedded.py): the launcher and ``python -m phaya_notebook.sandbox``
    agree, whether ``PHAYA_SANDBOX_DIR`` or ``XDG_STATE_HOME`` says where."""
    import os

    base = {k: v for k, v in os.environ.items() if k not in ("PHAYA_SANDBOX_DIR", "XDG_STATE_HOME")}
    for extra, want in [({"XDG_STATE_HOME": str(tmp_path / "state")}, tmp_path / "state" / "phaya-notebook" / "sandbox"),
                        ({"XDG_STATE_HOME": str(tmp_path / "state"), "PHAYA_SANDBOX_DIR": str(tmp_path / "own")},
                         tmp_path / "own")]:
        env = {**base, **extra}
        kernel = subprocess.run([sys.executable, "-c", "from phaya_notebook.core import launch; print(launch.sandbox_dir())"],
                                capture_output=True, text=True, timeout=60, env=env)
        cli = subprocess.run([sys.executable, "-m", "phaya_notebook.sandbox", "status"], capture_output=True,
                             text=True, timeout=60, env=env)
        assert kernel.stdout.strip() == str(want), kernel.stderr
        assert cli.returncode == 3 and f"not running (state in {want})" in cli.stdout, cli.stdout + cli.stderr
