"""Ratings on result cards, takes and seeds in the studio, remix (sandbox over real HTTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phaya_notebook.session import Session
from phaya_notebook.widgets import CompareGrid, Studio

from .test_studio import TIMEOUT, until


def _rating(s: Session, job_id: str) -> Any:
    return s.log.get(job_id)["rating"]


async def test_studio_cards_rate_into_the_log(session: Session) -> None:
    st = Studio(session, tick=0.05)
    st.prompt.value = "a lighthouse"
    st.generate.click()
    await until(lambda: len(st.cards) == 1)
    await st.wait(TIMEOUT)
    card = st.cards[0]
    assert card.rating is not None and card.rating in card.children
    jid = card.job.id
    card.rating.up.click()
    assert _rating(session, jid) == 1 and "phaya-rated" in card.rating.up._dom_classes
    assert card.rating.up.button_style == "success"
    card.rating.up.click()  # a second click clears
    assert _rating(session, jid) is None and "phaya-rated" not in card.rating.up._dom_classes
    card.rating.down.click()
    assert _rating(session, jid) == -1 and card.rating.down.button_style == "danger"


async def test_compare_grid_cards_rate(session: Session) -> None:
    g = CompareGrid(session, tick=0.05)
    g.prompts.value = "a kite\na boat"
    g.models.value = ("text-to-image",)
    g.start_button.click()
    g.confirm_box.confirm_button.click()
    await until(lambda: len(g.cards) == 2)
    await g.wait(TIMEOUT)
    for card in g.cards.values():
        assert card.rating is not None
    first, second = list(g.cards.values())
    first.rating.up.click()
    second.rating.down.click()
    assert session.log.ratings([first.job.id, second.job.id]) == {first.job.id: 1, second.job.id: -1}


async def test_no_rating_control_without_a_log(aio: Any) -> None:
    st = Studio(aio, tick=0.05)
    st.prompt.value = "x"
    st.generate.click()
    await until(lambda: len(st.cards) == 1)
    await st.wait(TIMEOUT)
    assert st.cards[0].rating is None


async def test_takes_run_several_jobs_priced_as_a_whole(session: Session) -> None:
    st = Studio(session, tick=0.05)
    st.prompt.value = "a lighthouse"
    st.takes.value = 3
    assert "3 × 1 credit = 3 credits" in st.cost.value
    st.generate.click()
    await until(lambda: len(st.cards) == 3)
    await st.wait(TIMEOUT)
    assert [c.outcome for c in st.cards] == ["completed"] * 3
    assert len(session.jobs()) == 3
    # above confirm_above as a whole: asks first, naming the total
    st.model.value = "nano-banana"
    st.takes.value = 6  # 6 x 2 = 12 > 10
    st.generate.click()
    assert st.confirm_box.layout.display == "flex" and "12 credits" in st.confirm_box.text.value
    st.confirm_box.cancel_button.click()
    assert len(session.jobs()) == 3


async def test_seed_control_and_takes_vary_it(aio: Any) -> None:
    st = Studio(aio, model="veo31-video", tick=0.05)
    assert st.controls is not None and st.controls.seed_param is not None  # Veo has seeds
    seed_box = st.controls.fields["seeds"].widget
    assert "phaya-seed" in seed_box._dom_classes
    st.controls.enable_for("seeds").value = True
    st.controls.widget_for("seeds").value = 12345
    assert st.params()["seeds"] == 12345
    st.model.value = "text-to-image"
    assert st.controls.seed_param is None  # Z-Image has none: no seed control

    sent: list[dict[str, Any]] = []

    async def fake_run(svc: Any, params: dict[str, Any], confirm: bool) -> None:
        sent.append(params)

    st.model.value = "veo31-video"
    st._run = fake_run  # type: ignore[method-assign]
    st.start(st.service, {"prompt": "p", "seeds": 99998}, confirm=True, takes=3)
    await st.wait(TIMEOUT)
    assert sorted(p["seeds"] for p in sent) == [99998, 99999, 99999]  # +1 per take, within range


async def test_load_puts_a_past_request_back(aio: Any) -> None:
    st = Studio(aio, tick=0.05)
    st.load("nano-banana", {"prompt": "<b>a kite</b>", "aspect_ratio": "16:9"})
    assert st.model.value == "nano-banana" and st.prompt.value == "<b>a kite</b>"
    assert st.params()["aspect_ratio"] == "16:9"
    assert "2 credits" in st.cost.value and not st.generate.disabled
    st.load("veo31-video", {"prompt": "waves", "seeds": 22222})
    assert st.params()["seeds"] == 22222
    st.load("veo31-video", {"prompt": "waves"})
    assert "seeds" not in st.params()


async def test_compare_grid_as_a_comparison(session: Session, nb_cwd: Path) -> None:
    g = CompareGrid(session, tick=0.05)
    g.prompts.value = "a kite\n<script>x</script> a boat"
    g.models.value = ("text-to-image", "nano-banana")
    g.start_button.click()
    g.confirm_box.confirm_button.click()
    await until(lambda: len(g.cards) == 4)
    await g.wait(TIMEOUT)
    first = g.cards[(0, 0)]
    first.rating.up.click()
    comp = g.comparison()
    assert len(comp.cells) == 4 and all(c.status == "completed" and c.path for c in comp.cells)
    s = comp.summary()
    assert s.loc["text-to-image", "kept"] == 1 and s.loc["text-to-image", "credits_per_kept"] == 2.0
    html = comp.to_html(nb_cwd / "grid.html").read_text()
    assert "&lt;script&gt;x&lt;/script&gt; a boat" in html and html.count('<img src="data:image/') == 4
