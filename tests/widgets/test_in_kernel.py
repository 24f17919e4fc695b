"""In a real ipykernel: Generate returns at once, the next cell runs while the job is in
flight, and the job finishes as a task on the kernel's own loop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbclient  # in the test extra: a missing one is an error, never a silent skip
import nbformat
import pytest

SPEED, TIME_SCALE = 2.0, 5.0  # Z-Image takes about 1 s: long enough to watch it run


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[Any]:
    from phaya_notebook.sandbox import start

    with start(speed=SPEED, credits=1000.0, time_scale=TIME_SCALE) as sb:
        yield sb


def test_studio_in_a_kernel(slow_sandbox: Any, tmp_path: Path) -> None:
    cfg = json.dumps({"base": slow_sandbox.base_url, "key": slow_sandbox.api_key})
    cells = [
        f"""import json, time
from phaya_notebook.core import launch
from phaya_notebook.core.client import AsyncPhaya
from phaya_notebook.widgets import Studio
cfg = json.loads({cfg!r})
launch.register(cfg["base"], speed={SPEED}, time_scale={TIME_SCALE})
aio = AsyncPhaya(cfg["key"], cfg["base"])
s = Studio(aio, tick=0.05)
s.prompt.value = "a kernel-side lighthouse"
sent = aio.stats["requests"]
t0 = time.thread_time()  # the click's CPU time: what it costs, however busy the machine is
s.generate.click()
cpu_ms = (time.thread_time() - t0) * 1000
print("waited", aio.stats["requests"] - sent, len(aio.jobs))
print("click_ms", cpu_ms)""",
        "print('next cell', len(s.tasks) > 0, 'completed' in [c.outcome for c in s.cards])",
        """await s.wait(60)
print('done', [c.outcome for c in s.cards], len(s.gallery.children), repr(s.error.value))
print('media', 'data:image/' in s.cards[0].media.outputs[0]['data']['text/html'])""",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=90, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    out = ["".join(o.get("text", "") for o in c.outputs) for c in nb.cells]
    click_ms = float(out[0].split()[-1])
    assert click_ms < 50, out[0]
    assert "waited 0 0\n" in out[0], out[0]  # the click returned before any request was sent
    assert out[1] == "next cell True False\n", out[1]  # this cell ran while the job was in flight
    assert "done ['completed'] 1 ''" in out[2], out[2]
    assert "media True" in out[2]
