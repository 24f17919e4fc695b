"""The studio and chat box on the live API's additions: GPT Image 2 in the picker with its rules,
observed prices in the cost label, chat prices per million (real sandbox over HTTP)."""

from __future__ import annotations

from typing import Any

from phaya_notebook import catalog
from phaya_notebook.core.observed import ObservedPrices
from phaya_notebook.widgets import ChatBox, Studio

from .test_studio import TIMEOUT, until


async def test_gpt_image_2_in_the_studio(aio: Any) -> None:
    s = Studio(aio, tick=0.02)
    names = [v for _, v in s.model.options]
    assert "gpt-image-2-text-to-image" in names and "gpt-image-2-image-to-image" in names
    label = dict((v, k) for k, v in s.model.options)["gpt-image-2-text-to-image"]
    assert "GPT Image 2" in label and "1 cr" in label
    s.model.value = "gpt-image-2-text-to-image"
    s.prompt.value = "a paper boat"
    assert not s.generate.disabled and "1 credit" in s.cost.value and "1 credits" not in s.cost.value
    s.controls.widget_for("resolution").value = "4K"  # the default aspect 1:1 is not allowed at 4K
    assert s.generate.disabled
    assert "aspect_ratio" in s.reason.value and "resolution" in s.reason.value and "4K" in s.reason.value
    s.controls.widget_for("aspect_ratio").value = "16:9"
    assert not s.generate.disabled and "4 credits" in s.cost.value
    s.controls.widget_for("resolution").value = "2K"
    s.controls.widget_for("aspect_ratio").value = "auto"
    assert s.generate.disabled and "only with resolution &#x27;1K&#x27;" in s.reason.value
    s.controls.widget_for("aspect_ratio").value = "3:2"
    s.generate.click()
    await until(lambda: len(s.gallery.children) == 1)
    await s.wait(TIMEOUT)
    assert s.error.value == "" and s.cards[0].job.service.name == "gpt-image-2-text-to-image"
    assert s.cards[0].job.status == "completed"


async def test_the_cost_label_shows_an_observed_price(aio: Any) -> None:
    aio.observed = ObservedPrices()
    aio.observed.learn("seedance-video", {"prompt": "abc"}, 12.0, source="balance delta")
    s = Studio(aio)
    s.model.value = "seedance-video"
    s.prompt.value = "a boat at sea"
    assert "12 credits" in s.cost.value and "catalog 6 · last charged 12" in s.cost.value
    await s.wait(TIMEOUT)


async def test_chat_prices_per_million(aio: Any) -> None:
    s = Studio(aio)
    assert "10.50 / 87.50 per million tokens" in s.chat_prices.value and "2.80 per million" in s.chat_prices.value
    await s.wait(TIMEOUT)
    box = ChatBox(aio)
    labels = dict((v, k) for k, v in box.model.options)
    assert "10.50 / 87.50 per million tokens" in labels["phaya-gpt"]
    assert all("per million" in labels[m] for m in catalog.CHAT_MODELS)
    await box.wait(TIMEOUT)
