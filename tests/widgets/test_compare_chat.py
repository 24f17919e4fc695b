"""Compare grid and chat box against the sandbox over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

from phaya_notebook import catalog
from phaya_notebook.widgets import ChatBox, CompareGrid

from .test_studio import TIMEOUT, record, until


def assert_send_ready(c: ChatBox) -> None:
    """Idle again: Send is off for an empty input and comes on as soon as there is text."""
    assert c.input.value == "" and c.send.disabled
    c.input.value = "a next question"
    assert not c.send.disabled, "Send stays disabled after the reply"
    c.input.value = ""
    assert c.send.disabled


async def test_compare_confirms_the_total_then_fills_cells(aio: Any) -> None:
    g = CompareGrid(aio, tick=0.05)
    assert g.start_button.disabled and "prompt" in g.cost.value
    g.prompts.value = "a cat\n\n  a dog  \n"
    g.models.value = ("text-to-image", "seedream")
    assert g.cost.value == "<b>4 jobs · total 5 credits</b>" and not g.start_button.disabled
    g.start_button.click()
    assert g.confirm_box.layout.display == "flex" and "5 credits" in g.confirm_box.text.value
    await asyncio.sleep(0.2)
    assert aio.jobs == [] and g.grid.children == ()  # nothing starts before Confirm
    g.confirm_box.confirm_button.click()
    assert len(g.grid.children) == 3 + 2 * 3  # header row, then prompt + 2 cells per row
    cells = [c for c in g.grid.children if "phaya-compare-cell" in c._dom_classes]
    assert len(cells) == 4
    filled: list[int] = []
    await until(lambda: len(g.cards) == 4)
    for card in g.cards.values():
        card.info.observe(lambda ch: filled.append(1), names="value")
    await g.wait(TIMEOUT)
    assert len(filled) == 4
    for (i, j), card in g.cards.items():
        assert card.outcome == "completed", card.info.value
        assert g.cells[(i, j)].children == (card,)
        price = catalog.estimate(("text-to-image", "seedream")[j], {"prompt": "x"}).credits
        assert catalog.credits_text(price) + " ·" in card.info.value and " s · completed" in card.info.value
        assert card.job.params["prompt"] == ("a cat", "a dog")[i]
        assert "<img" in card.media.outputs[0]["data"]["text/html"]
    assert "grid-template-columns" not in g.error.value and g.error.value == ""


async def test_compare_rejects_a_prompt_a_model_cannot_take(aio: Any) -> None:
    g = CompareGrid(aio)
    g.prompts.value = "ab"
    g.models.value = ("seedance-video",)
    assert g.start_button.disabled and "prompt" in g.cost.value and "3 to 2500" in g.cost.value


async def test_chat_streams_token_by_token_with_tokens_and_credits(aio: Any) -> None:
    c = ChatBox(aio)
    assert c.send.disabled
    c.input.value = "Tell me about <b>tags</b> please"
    assert not c.send.disabled
    c.send.click()
    assert c.input.value == "" and c.send.disabled  # busy while the reply streams
    user, reply, meta = c.history.children
    assert "&lt;b&gt;tags&lt;/b&gt;" in user.value and "<b>tags</b>" not in user.value
    updates = record(reply)
    await c.wait(TIMEOUT)
    assert len(updates) >= 3, updates  # streamed, not one final write
    assert len(set(updates)) == len(updates)  # each chunk changed what is shown
    (r,) = c.replies
    assert r["chunks"] == len(updates) and r["text"]
    assert r["tokens"] and r["tokens"] > 0 and r["credits"] is not None and r["credits"] > 0
    assert f"{r['tokens']} tokens" in meta.value and "credits" in meta.value
    assert c.usage.value.startswith("1 reply · "), c.usage.value  # not "1 replies"
    assert c.messages[-1] == {"role": "assistant", "content": r["text"]}
    assert_send_ready(c)
    c.model.value = "openai/gpt-4o-mini"
    c.input.value = "and again"
    c.send.click()  # the button itself, as a person would
    assert c.input.value == "" and c.send.disabled
    await c.wait(TIMEOUT)
    assert len(c.replies) == 2 and c.replies[1]["model"] == "openai/gpt-4o-mini"
    assert len(c.history.children) == 6 and "2 replies" in c.usage.value
    assert [m["role"] for m in c.messages] == ["user", "assistant", "user", "assistant"]


async def test_chat_error_is_shown_not_swallowed(aio: Any, wsandbox: Any) -> None:
    import httpx

    root = wsandbox.base_url.split("/api/")[0]
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{root}/_sandbox/faults", headers={"X-Sandbox-Admin": wsandbox.admin_token},
                            json={"kind": "500", "count": 1, "paths": "phaya-gpt"})
        assert r.status_code == 200, r.text
    c = ChatBox(aio)
    c.ask("will this work?")
    await c.wait(TIMEOUT)
    assert "phaya-error" in c.error._dom_classes and "Error" in c.error.value
    assert c.replies == [] and c.messages == []  # the unanswered question is not resent later
    assert "interrupted" in c.history.children[-1].value
    assert_send_ready(c)  # a failed reply does not leave the box busy
    c.ask("and now?")  # the fault was one-off: the box still works
    await c.wait(TIMEOUT)
    assert len(c.replies) == 1 and c.messages[-1]["role"] == "assistant"
