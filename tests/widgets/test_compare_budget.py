"""The compare grid (and the studio's takes) check the whole batch with the ledger before its first request.

With ``max_credits=3`` a 2 prompts x 3 image models grid (9 credits) used to ask "Run 6 jobs
for 9 credits in total?", run 2 jobs and fail 4 with BudgetExceeded. Now it is refused before
anything is sent, in the words ``Session.compare`` uses, and a grid that fits names the budget
left in its confirm line. Requests are counted by the sandbox (``GET /_sandbox/stats``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from phaya_notebook import catalog
from phaya_notebook.core.errors import BudgetExceeded
from phaya_notebook.session import Session
from phaya_notebook.widgets import CompareGrid, Studio

from .test_studio import TIMEOUT, until

MODELS = ("text-to-image", "seedream", "nano-banana")  # 1 + 1.5 + 2 credits per prompt
CREATE_PATHS = {catalog.resolve_service(m).create_path for m in MODELS}


def _requests(sb: Any) -> dict[str, int]:
    """{path: count} of every request made with the sandbox's key, as the sandbox counted them."""
    root = sb.base_url.rsplit("/api/v1", 1)[0]
    stats = httpx.get(f"{root}/_sandbox/stats", headers={"X-Sandbox-Admin": sb.admin_token}).json()
    return dict(stats["by_key"].get(sb.key_id(sb.api_key), {}).get("paths", {}))


def _creates(sb: Any) -> int:
    return sum(n for p, n in _requests(sb).items() if any(p.endswith(c) for c in CREATE_PATHS))


@pytest.fixture()
async def capped(wsandbox: Any, nb_cwd: Path) -> AsyncIterator[Session]:
    s = Session(wsandbox.api_key, wsandbox.base_url, cache_dir=nb_cwd / "phaya-media", log_path=nb_cwd / "jobs.sqlite3",
                max_credits=3)
    try:
        yield s
    finally:
        await s.aio.aclose()
        s.log.close()


async def test_a_grid_over_max_credits_is_refused_before_any_request(wsandbox: Any, capped: Session) -> None:
    before, creates = _requests(wsandbox), _creates(wsandbox)
    g = CompareGrid(capped, tick=0.05)
    g.prompts.value = "a cat\na dog"
    g.models.value = MODELS
    assert g.cost.value == "<b>6 jobs · total 9 credits</b>" and not g.start_button.disabled
    g.start_button.click()
    asked, refusal = g.confirm_box.layout.display == "flex", g.error.value
    g.confirm_box.confirm_button.click()  # a user who clicks on anyway: still nothing is sent
    await asyncio.sleep(0.3)
    assert _creates(wsandbox) == creates and _requests(wsandbox) == before  # not one request
    assert g.grid.children == () and g.cards == {} and capped.aio.jobs == []
    assert not asked  # no "Run 6 jobs for 9 credits in total?" for a grid that cannot run
    assert "BudgetExceeded" in refusal and "6 jobs, 9 credits in total" in refusal
    assert "more than the 3 credits left of max_credits=3" in refusal
    assert capped.budget_left == 3.0
    # Session.compare refuses the same grid with the same words (one rule, one text)
    with pytest.raises(BudgetExceeded) as info:
        await capped.acompare(["a cat", "a dog"], list(MODELS), confirm=True)
    assert str(info.value) in refusal.replace("&#x27;", "'")
    assert _requests(wsandbox) == before


async def test_a_grid_that_fits_names_the_budget_left_and_runs(wsandbox: Any, capped: Session) -> None:
    creates = _creates(wsandbox)
    g = CompareGrid(capped, tick=0.05)
    g.prompts.value = "a kite"
    g.models.value = ("text-to-image", "seedream")
    g.start_button.click()
    assert g.confirm_box.layout.display == "flex" and g.error.value == ""
    assert g.confirm_box.text.value == "Run 2 jobs for 2.5 credits in total? Budget left: 3 of max_credits=3"
    g.confirm_box.confirm_button.click()
    assert g.error.value == "" and len(g.cells) == 2
    await until(lambda: len(g.cards) == 2)
    await g.wait(TIMEOUT)
    assert sorted(c.outcome for c in g.cards.values()) == ["completed", "completed"]
    assert _creates(wsandbox) == creates + 2 and capped.budget_left == 0.5
    g.start_button.click()  # the same grid again no longer fits: refused, nothing more sent
    assert "more than the 0.5 credits left of max_credits=3" in g.error.value
    assert g.confirm_box.layout.display != "flex" and _creates(wsandbox) == creates + 2


async def test_studio_takes_over_max_credits_are_refused_before_any_request(wsandbox: Any,
                                                                            capped: Session) -> None:
    creates = _creates(wsandbox)
    st = Studio(capped, tick=0.05)  # it reads the balance on its own: count the creates
    st.prompt.value = "a lighthouse"
    st.takes.value = 4  # 4 x 1 credit with 3 left: not 3 jobs and a failure, but nothing at all
    st.generate.click()
    await asyncio.sleep(0.3)
    assert _creates(wsandbox) == creates and st.cards == [] and capped.aio.jobs == []
    assert "BudgetExceeded" in st.error.value
    assert "text-to-image x4 = 4 jobs, 4 credits in total, more than the 3 credits left of max_credits=3" \
        in st.error.value
    st.takes.value = 3
    st.generate.click()
    await until(lambda: len(st.cards) == 3)
    await st.wait(TIMEOUT)
    assert st.error.value == "" and capped.budget_left == 0.0
