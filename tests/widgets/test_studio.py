"""The studio against the sandbox over real HTTP: traits, labels, enabled states, update order."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from phaya_notebook.widgets import Studio

from ..sandboxes import running_sandbox

TIMEOUT = 30.0


def record(widget: Any, name: str = "value") -> list[Any]:
    seen: list[Any] = []
    widget.observe(lambda ch: seen.append(ch["new"]), names=name)
    return seen


async def until(cond: Any, timeout: float = TIMEOUT) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


async def test_builds_fast_and_shows_balance(aio: Any) -> None:
    requests = aio.stats["requests"]
    t0 = time.thread_time()  # CPU time of this thread: what building costs, not how busy the machine is
    s = Studio(aio)
    assert time.thread_time() - t0 < 0.5
    assert s.balance_label.value == "balance: …"  # not fetched yet: the cell did not wait
    assert aio.stats["requests"] == requests  # no request was sent while building
    assert s._dom_classes == ("phaya-studio",)
    await until(lambda: s.balance is not None)
    assert s.balance_label.value.startswith("balance: ") and s.balance > 1000
    await s.wait(TIMEOUT)


async def test_invalid_input_disables_generate_with_a_reason(aio: Any) -> None:
    s = Studio(aio)
    assert s.generate.disabled and "prompt" in s.reason.value
    costs = record(s.cost)
    s.prompt.value = "a red fox"
    assert not s.generate.disabled and s.reason.value == ""
    assert "1 credit" in s.cost.value and "1 credits" not in s.cost.value
    s.model.value = "image-to-video"  # needs an image, takes no prompt
    assert s.prompt.disabled
    assert s.generate.disabled and "image_url" in s.reason.value
    s.controls.widget_for("image_url").value = "http://127.0.0.1/x.png"
    assert not s.generate.disabled and "0.5 credits" in s.cost.value
    s.model.value = "seedance-video"
    s.prompt.value = "ab"  # Seedance wants at least 3 characters
    assert s.generate.disabled and "prompt" in s.reason.value and "3 to 2500" in s.reason.value
    s.prompt.value = "a boat"
    s.controls.widget_for("resolution").value = "1080p"
    s.controls.widget_for("generate_audio").value = True
    assert "23 credits" in s.cost.value
    # every change re-priced, in order
    priced = [c for c in costs if "credit" in c]
    assert [p.split("cost: ")[1].split(" credit")[0] for p in priced][:2] == ["1", "0.5"]
    assert "23" in priced[-1]
    await s.wait(TIMEOUT)


async def test_generate_returns_at_once_then_the_job_fills_the_gallery(aio: Any) -> None:
    s = Studio(aio, tick=0.02)
    s.prompt.value = "a lighthouse at dusk"
    running = record(s.running_label)
    requests = aio.stats["requests"]
    t0 = time.thread_time()  # CPU time: a click that waited would show as no request sent yet, below
    s.generate.click()
    click_ms = (time.thread_time() - t0) * 1000
    assert click_ms < 50, click_ms
    assert s.jobs_box.children == () and s.gallery.children == ()  # nothing has happened yet
    assert aio.stats["requests"] == requests and aio.jobs == []  # the click did not wait for the create
    await until(lambda: len(s.cards) == 1)
    card = s.cards[0]
    progress = record(card.progress)
    await s.wait(TIMEOUT)
    assert s.jobs_box.children == () and s.gallery.children == (card,)
    assert card.outcome == "completed", card.info.value
    assert "phaya-result" in card._dom_classes and "phaya-jobcard" in card._dom_classes
    assert card.progress.value == 1.0 and card.progress.bar_style == "success"
    assert progress == sorted(progress)  # the bar only moves forward
    assert "1 credit ·" in card.info.value and " s · completed" in card.info.value
    (out,) = card.media.outputs
    assert out["output_type"] == "display_data"
    html = out["data"]["text/html"]
    assert '<img src="data:image/' in html and 'href="phaya-media/' in html
    assert running[0] == "1 job(s) running" and running[-1] == ""
    assert card.cancel_button.layout.display == "none"  # text-to-image cannot cancel


async def test_several_jobs_at_once_newest_first(aio: Any) -> None:
    s = Studio(aio, tick=0.05)
    for i in range(3):
        s.prompt.value = f"tile {i}"
        s.generate.click()
    await until(lambda: len(s.cards) == 3)
    await s.wait(TIMEOUT)
    assert len(s.gallery.children) == 3 and all(c.outcome == "completed" for c in s.cards)
    assert [c.job.params["prompt"] for c in s.gallery.children] == ["tile 2", "tile 1", "tile 0"]


async def test_confirm_step_sends_nothing_until_confirmed_and_cancel_refunds(aio: Any) -> None:
    s = Studio(aio, model="veo31-video", tick=0.05)
    s.prompt.value = "[stuck] a long take"
    assert "15 credits" in s.cost.value and "asks to confirm" in s.cost.value
    s.generate.click()
    assert s.confirm_box.layout.display == "flex" and "15 credits" in s.confirm_box.text.value
    assert s.generate.disabled
    await asyncio.sleep(0.2)
    assert aio.jobs == [] and s.cards == []  # nothing sent
    s.confirm_box.cancel_button.click()
    assert s.confirm_box.layout.display == "none" and not s.generate.disabled
    s.generate.click()
    s.prompt.value = "[stuck] a longer take"  # a change withdraws the pending confirmation
    assert s.confirm_box.layout.display == "none"
    s.generate.click()
    s.confirm_box.confirm_button.click()
    await until(lambda: len(s.cards) == 1)
    card = s.cards[0]
    assert card.cancel_button.layout.display == "" and not card.cancel_button.disabled
    await until(lambda: card.job.status == "processing")
    card.cancel_button.click()
    assert card.cancel_button.disabled and card.status.value == "cancelling…"
    await s.wait(TIMEOUT)
    assert card.outcome == "cancelled"
    assert "refunded" in card.info.value and "15 credits" in card.info.value
    assert len(aio.jobs) == 1


async def test_failure_shows_the_server_reason_and_the_refund(aio: Any) -> None:
    s = Studio(aio, tick=0.05)
    s.prompt.value = "[fail] a broken thing"
    s.generate.click()
    await until(lambda: len(s.cards) == 1)
    await s.wait(TIMEOUT)
    card = s.cards[0]
    assert card.outcome == "failed" and card.progress.bar_style == "danger"
    assert card.job.error and card.job.error[:20] in card.info.value
    assert "1 credit refunded" in card.info.value
    assert s.error.value == ""  # a failed job is a result, not a widget error


async def test_budget_warning_and_task_errors_surface(wsandbox: Any, nb_cwd: Any) -> None:
    from phaya_notebook.core.client import AsyncPhaya

    async with AsyncPhaya(wsandbox.api_key, wsandbox.base_url, max_credits=1.5,
                          cache_dir=nb_cwd / "m") as aio:
        s = Studio(aio, tick=0.05)
        s.model.value = "nano-banana"
        s.prompt.value = "x"
        assert "phaya-cost-warning" in s.cost._dom_classes and "session budget" in s.cost.value
        s.model.value = "text-to-image"
        s.prompt.value = "first"
        assert "phaya-cost-warning" not in s.cost._dom_classes
        s.generate.click()
        await until(lambda: len(s.cards) == 1)
        s.prompt.value = "second"
        assert "phaya-cost-warning" in s.cost._dom_classes  # 1 committed, 0.5 left
        s.generate.click()  # the core refuses it: the error shows in the studio
        await until(lambda: s.error.value != "")
        assert "BudgetExceeded" in s.error.value and "max_credits" in s.error.value
        await s.wait(TIMEOUT)


async def test_balance_warning(nb_cwd: Any) -> None:
    from phaya_notebook.core.client import AsyncPhaya

    with running_sandbox(speed=60.0, time_scale=10.0, credits=5.0) as sb:
        async with AsyncPhaya(sb.api_key, sb.base_url, cache_dir=nb_cwd / "m") as aio:
            s = Studio(aio, model="veo31-video")
            s.prompt.value = "a river"
            await until(lambda: s.balance is not None)
            assert "exceeds your balance of 5" in s.cost.value
            assert "phaya-cost-warning" in s.cost._dom_classes
            assert "balance: 5 credits" in s.balance_label.value
            await s.wait(TIMEOUT)


async def test_upload_fills_the_media_field(aio: Any) -> None:
    import datetime
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(buf, "PNG")
    s = Studio(aio, model="image-to-video")
    up = s.controls.upload_for("image_url")
    assert up is not None and up.accept == "image/*"
    up.value = ({"name": "red.png", "type": "image/png", "size": len(buf.getvalue()),
                 "content": memoryview(buf.getvalue()),
                 "last_modified": datetime.datetime.now(datetime.timezone.utc)},)
    await s.wait(TIMEOUT)
    url = s.controls.widget_for("image_url").value
    assert url.startswith("http://127.0.0.1:"), url
    assert not s.generate.disabled and "0.5 credits" in s.cost.value


# chat_box through a Session has its own test (test_chat_session.py)
@pytest.mark.parametrize("factory", ["studio", "compare_grid"])
async def test_session_builds_the_widgets_and_logs_their_work(wsandbox: Any, nb_cwd: Any, factory: str) -> None:
    from phaya_notebook.session import Session

    sess = Session(api_key=wsandbox.api_key, base_url=wsandbox.base_url)
    try:
        widget = getattr(sess, factory)()
        cls = {"studio": "phaya-studio", "compare_grid": "phaya-compare"}[factory]
        assert cls in widget._dom_classes and widget.aio is sess.aio
        if factory == "studio":
            widget.prompt.value = "logged from the studio"
            widget.generate.click()
        else:
            widget.prompts.value = "logged from the grid"
            widget.start_button.click()
            widget.confirm_box.confirm_button.click()
        await widget.wait(TIMEOUT)
        df = sess.jobs()
        assert len(df) == 1, df
        card = widget.cards[0] if factory == "studio" else next(iter(widget.cards.values()))
        assert card.outcome == "completed" and card.job.id in set(df["job_id"])
    finally:
        sess.close()


async def test_balance_refreshes_coalesce(aio: Any) -> None:
    s = Studio(aio)
    await s.wait(TIMEOUT)
    before = aio.stats["requests"]
    s.refresh_balance()
    await asyncio.sleep(0)  # the fetch is now under way
    for _ in range(9):  # e.g. nine more jobs finishing meanwhile
        s.refresh_balance()
    await s.wait(TIMEOUT)
    assert aio.stats["requests"] - before == 2  # the one under way and one trailing, not ten


async def test_daily_cap_left_shows_and_warns(wsandbox: Any, nb_cwd: Any) -> None:
    """The key's daily cap (shared through the job log) shows in the balance line and the cost warning."""
    from phaya_notebook.core.client import AsyncPhaya
    from phaya_notebook.core.daily import DailyCap
    from phaya_notebook.joblog import JobLog

    log = JobLog(nb_cwd / "jobs.sqlite3")
    async with AsyncPhaya(wsandbox.api_key, wsandbox.base_url, cache_dir=nb_cwd / "m") as aio:
        aio.daily_cap = DailyCap(2.5, log.shared(aio.shared_id), source="PHAYA_DAILY_CAP")
        s = Studio(aio, tick=0.05)
        s.model.value = "nano-banana"
        s.prompt.value = "x"
        assert "phaya-cost-warning" not in s.cost._dom_classes  # 2 of 2.5
        s.model.value = "text-to-image"
        s.prompt.value = "first"
        s.generate.click()
        await until(lambda: len(s.cards) == 1)
        s.model.value = "nano-banana"
        assert "exceeds the daily cap (1.5 left today)" in s.cost.value
        await until(lambda: "daily cap left: 1.5" in s.balance_label.value)
        s.generate.click()  # the core refuses it, naming the cap
        await until(lambda: s.error.value != "")
        assert "BudgetExceeded" in s.error.value and "PHAYA_DAILY_CAP" in s.error.value
        await s.wait(TIMEOUT)
    log.close()
