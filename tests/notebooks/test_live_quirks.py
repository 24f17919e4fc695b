"""A notebook session (a real kernel, by nbclient) against a sandbox with the live API's quirks:
Seedance charged at 2x its table and ``credits_used: 0`` in every answer.

The notebook's own cells check that spend() matches the balance change to 0.01 credits, that
the second Seedance estimate shows the observed price, and that a max_credits which fits the
catalog price but not the observed one refuses the next job before sending it (counted with
the sandbox's request counter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from ..sandboxes import running_sandbox
from .nbrun import execute, texts

pytestmark = pytest.mark.timeout(240)

CELLS = [
    """\
import os, httpx, phaya_notebook
from phaya_notebook.core.errors import BudgetExceeded
phaya = phaya_notebook.connect(max_credits=20, confirm_above=100)
def requests_sent():
    stats = httpx.get(os.environ["SB_ROOT"] + "/_sandbox/stats",
                      headers={"X-Sandbox-Admin": os.environ["SB_ADMIN"]}).json()
    return stats["by_key"][os.environ["SB_KEY_ID"]]["total"]
before = phaya.credits()
est1 = phaya.estimate("seedance-video", prompt="waves at dusk")
est1""",
    """\
clip = phaya.generate("seedance-video", prompt="waves at dusk")
assert clip.fields["credits_used"] == 0, clip.fields["credits_used"]
clip""",
    """\
after = phaya.credits()
spent = float(phaya.spend(this_session=True)["net"].sum())
print(f"balance change {before - after:.4f}, spend() {spent:.4f}")
assert abs((before - after) - spent) <= 0.01, (before, after, spent)
phaya.jobs(this_session=True)[["service", "estimated", "charged", "charge_source", "reconcile"]]""",
    """\
est2 = phaya.estimate("seedance-video", prompt="waves at dusk")
print(est2.credits, est2.basis)
assert est1.credits == 6 and est2.credits == 12 and "catalog 6 · last charged 12" in est2.basis""",
    """\
sent = requests_sent()
try:
    phaya.submit("seedance-video", prompt="waves at dusk", confirm=True)
    raise AssertionError("not refused")
except BudgetExceeded as exc:
    print("refused:", exc)
assert requests_sent() == sent, "a request was sent"
phaya.prices()""",
]


def test_notebook_session_under_live_quirks(tmp_path: Path) -> None:
    quirks: dict[str, Any] = {"zero_credits_used": True, "price_multipliers": {"seedance-video": 2.0}}
    with running_sandbox(speed=12.0, time_scale=10.0, credits=100.0, api_keys=["k-nb-quirks"],
                         quirks=quirks) as sb:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
        path = tmp_path / "quirks.ipynb"
        nbformat.write(nb, path)
        env = {"PHAYA_API_KEY": "k-nb-quirks", "PHAYA_BASE": sb.base_url, "SB_ROOT": sb.root_url,
               "SB_ADMIN": sb.admin_token, "SB_KEY_ID": sb.key_id("k-nb-quirks")}
        done = execute(path, tmp_path, env=env, timeout=120)
    text = "\n".join(texts(done))
    assert "catalog 6 · last charged 12" in text and "refused:" in text and "balance delta" not in text
    assert "credits history" in text and "12.0" in text
