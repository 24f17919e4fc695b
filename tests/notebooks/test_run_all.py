"""JupyterLab's "Run All" without a browser: every execute_request is queued at once.

nbclient sends one cell, waits for its reply, then sends the next; JupyterLab and Notebook 7
send all cells immediately, so the kernel receives the next request while a sync call
(``Phaya`` → ``run_sync`` → nest_asyncio) is still running the loop. This drives a kernel
with jupyter_client the way the browser does and requires every reply within a deadline.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel

from .nbrun import kernel_env

pytestmark = pytest.mark.timeout(120)

CELLS = [
    "import phaya_notebook\nphaya = phaya_notebook.connect()",
    "print(phaya.credits())",
    "r = phaya.generate('text-to-image', prompt='run all, queued')\nprint(r.credits)",
    "print('after', phaya.credits())",
]
DEADLINE = 20.0


def test_queued_cells_all_reply(tmp_path: Path) -> None:
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=kernel_env())
    try:
        ids = [kc.execute(src) for src in CELLS]  # all at once, like Run All
        replies: dict[str, str] = {}
        end = time.monotonic() + DEADLINE
        while len(replies) < len(ids) and time.monotonic() < end:
            try:
                msg = kc.get_shell_msg(timeout=1.0)
            except Exception:  # queue.Empty: keep waiting until the deadline
                continue
            parent = msg.get("parent_header", {}).get("msg_id")
            if parent in ids and msg["msg_type"] == "execute_reply":
                replies[parent] = msg["content"]["status"]
        missing = [i for i, mid in enumerate(ids) if mid not in replies]
        assert not missing, f"cells {missing} never answered within {DEADLINE:.0f}s (kernel stuck)"
        assert set(replies.values()) == {"ok"}, replies
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
