"""Live progress of blocking calls in a real kernel, read from the messages the kernel sent.

nbclient records every IOPub message of a cell as it arrives (``output`` is called per
message), so the test sees the progress line appear, change while the cell is still busy
and finally turn into the video — the order and timing a browser would see. A plain script
doing the same prints nothing extra.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from .nbrun import kernel_env

pytestmark = pytest.mark.timeout(240)

SETUP = """\
from phaya_notebook.core.launch import embedded_sandbox
embedded_sandbox(speed=30)  # Sora: 180 s at speed 30 = 6 s, several progress updates
import phaya_notebook
phaya = phaya_notebook.connect()"""
GENERATE = 'video = phaya.generate("sora2-text-to-video", prompt="waves rolling onto a beach at dusk")'
SHOW = 'phaya.generate("text-to-image", prompt="a paper boat")'
COMPARE = 'comparison = phaya.compare(["a paper boat", "a kite"], ["text-to-image", "nano-banana"])'
WAIT = """\
job = phaya.submit("nano-banana", prompt="a lantern")
result = job.wait()"""


class RecordingClient(NotebookClient):
    """Keeps (arrival time, cell index, msg_type, text) of every output message, updates too."""

    def __init__(self, *a: Any, **kw: Any):
        super().__init__(*a, **kw)
        self.seen: list[tuple[float, int, str, str]] = []
        self.started: dict[int, float] = {}

    async def async_execute_cell(self, cell: Any, cell_index: int, *a: Any, **kw: Any) -> Any:
        self.started[cell_index] = time.monotonic()
        return await super().async_execute_cell(cell, cell_index, *a, **kw)

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        if msg["msg_type"] in ("display_data", "update_display_data", "execute_result", "stream"):
            data = msg["content"].get("data", {})
            text = data.get("text/html") or data.get("text/plain") or msg["content"].get("text", "")
            self.seen.append((time.monotonic(), cell_index, msg["msg_type"], str(text)))
        return super().process_message(msg, cell, cell_index)


def _run(cells: list[str], work: Path) -> RecordingClient:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    client = RecordingClient(nb, kernel_name="python3", timeout=120, startup_timeout=120,
                             shutdown_kernel="immediate", resources={"metadata": {"path": str(work)}})
    client.execute(env=kernel_env(), cwd=str(work))
    return client


def test_generate_compare_show_live_lines_replaced_by_the_result() -> None:
    with tempfile.TemporaryDirectory(prefix="phaya-progress-") as tmp:
        client = _run([SETUP, GENERATE, SHOW, COMPARE, WAIT], Path(tmp))
    nb = client.nb

    # generate: a line within 1 s, several different lines while running, then the video
    msgs = [m for m in client.seen if m[1] == 1]
    assert msgs and msgs[0][2] == "display_data", msgs[:3]
    lines = [m for m in msgs if "Sora 2" in m[3] and "<video" not in m[3]]
    assert lines and lines[0][0] - client.started[1] < 1.0, (lines[:1], client.started[1])
    running = [m[3] for m in lines if "/ ~" in m[3]]
    assert len(set(running)) >= 3, running  # elapsed seconds moved while the cell was busy
    assert "8 credits" in running[-1] and "s / ~" in running[-1]
    last = msgs[-1]
    assert last[2] == "update_display_data" and "<video" in last[3], last
    outs = nb.cells[1].outputs  # what the saved notebook keeps: the video, nothing else
    assert len(outs) == 1 and "<video" in outs[0]["data"]["text/html"], outs

    # a result as the cell's value: shown once (the line became it), Out[] is one short line
    outs = nb.cells[2].outputs
    shown = [o for o in outs if "<img" in o.get("data", {}).get("text/html", "")]
    assert len(shown) == 1, outs
    results = [o for o in outs if o["output_type"] == "execute_result"]
    assert [o["data"]["text/plain"] for o in results] == [results[0]["data"]["text/plain"]]
    assert "(shown above)" in results[0]["data"]["text/plain"] and "text/html" not in results[0]["data"]

    # compare: "k of n done, credits so far", then every line completed
    texts = [m[3] for m in client.seen if m[1] == 3]
    heads = [re.search(r"compare: (\d) of 4 done, ([\d.]+) credits? so far", t) for t in texts]
    counts = [int(h.group(1)) for h in heads if h]
    assert counts and counts[-1] == 4 and min(counts) == 0, counts
    assert "6 credits so far" in texts[-1]  # 2 x Z-Image (1) + 2 x Nano Banana (2)
    assert texts[-1].count("✅") == 4, texts[-1]

    # submit() then wait(): the same live line, then the image
    texts = [m[3] for m in client.seen if m[1] == 4]
    assert any("Nano Banana 2" in t and "s / ~" in t for t in texts), texts
    assert "<img" in texts[-1] and len(nb.cells[4].outputs) == 1


SCRIPT = """
import phaya_notebook
phaya = phaya_notebook.connect()
r = phaya.generate("text-to-image", prompt="a paper boat")
c = phaya.compare(["a kite"], ["text-to-image"])
print("done", r.media, len(c.df))
"""


def test_plain_script_prints_nothing_extra() -> None:
    with tempfile.TemporaryDirectory(prefix="phaya-progress-script-") as tmp:
        out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp, env=kernel_env(), capture_output=True,
                             text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("phaya: no PHAYA_API_KEY"), lines
    assert lines[1].startswith("compare: 1 prompt(s) x 1 model(s)"), lines  # the price line, as before
    assert lines[2:] == ["done image 1"], lines

