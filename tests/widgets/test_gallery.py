"""The history gallery and the shareable reports, over a real job log of real sandbox jobs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phaya_notebook.session import Session
from phaya_notebook.widgets import Gallery

XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2"> "tide" & pool'


async def _make(s: Session, n: int, service: str = "text-to-image", prompt: str = "boat {i}",
                tags: tuple[str, ...] = ()) -> list[Any]:
    out = []
    for i in range(n):
        job = await s.aio.submit(service, prompt=prompt.format(i=i), tags=tags)
        out.append(await job.wait())
    return out


async def test_pages_filters_rating_and_remix(session: Session) -> None:
    await _make(session, 5)
    await _make(session, 2, "nano-banana", "kite {i}", tags=("kites",))
    g = session.gallery(page_size=3)
    assert isinstance(g, Gallery) and "phaya-history" in g._dom_classes
    await g.wait(30)
    assert g.total == 7 and g.pages == 3 and len(g.grid.children) == 3
    assert "page 1 of 3" in g.page_label.value and g.prev_button.disabled
    first = g.rows[0]
    assert first["prompt"] == "kite 1"  # newest first
    html = g._cards[0][0].value
    assert '<img src="data:image/' in html and "2 credits" in html and "kite 1" in html
    g.next_button.click()
    g.next_button.click()
    assert g.page == 2 and len(g.grid.children) == 1 and g.next_button.disabled
    # filters: service, tag, text, rating
    g.service.value = "nano-banana"
    assert g.total == 2 and g.page == 0
    g.service.value = "(all)"
    g.tag.value = "kites"
    assert g.total == 2
    g.tag.value = ""
    g.text.value = "boat 3"
    assert g.total == 1 and g.rows[0]["prompt"] == "boat 3"
    card = g.grid.children[0]
    rate = card.children[1]
    assert "phaya-rating" in rate._dom_classes
    rate.up.click()
    assert session.log.get(g.rows[0]["job_id"])["rating"] == 1
    g.text.value = ""
    g.rating.value = 1
    assert g.total == 1
    g.rating.value = "unrated"
    assert g.total == 6
    g.rating.value = None
    # remix: the past job's model, prompt and params into a studio shown under the gallery
    g.service.value = "nano-banana"
    remix = next(c for c in g.grid.children[0].children[1].children if "phaya-remix" in c._dom_classes)
    remix.click()
    studio = g.studio
    assert studio is not None and studio in g.remix_box.children
    assert studio.model.value == "nano-banana" and studio.prompt.value == "kite 1"
    assert "2 credits" in studio.cost.value
    await studio.wait(30)


async def test_thumbnails_fill_in_and_are_kept_on_disk(session: Session, nb_cwd: Path) -> None:
    from phaya_notebook import display

    await _make(session, 3)
    display.thumbnails._thumb_cache.clear()
    g = Gallery(session)
    assert any(h.value.startswith('<div class="phaya-thumb-pending"') for h, _ in g._cards)  # shown first
    await g.wait(30)
    assert all('<img src="data:image/' in h.value for h, _ in g._cards)
    assert len(list((nb_cwd / "phaya-media" / "thumbs").glob("*.txt"))) == 3
    display.thumbnails._thumb_cache.clear()  # a new kernel: made from disk, nothing pending
    g2 = Gallery(session)
    assert all('<img src="data:image/' in h.value for h, _ in g2._cards)


async def test_reports_are_self_contained_and_escaped(session: Session, nb_cwd: Path) -> None:
    comp = await session.acompare([XSS, "a kite"], ["text-to-image", "nano-banana"])
    ids = [c.job_id for c in comp.cells]
    session.rate(ids[0], 1)
    session.rate(ids[1], -1)
    out = comp.to_html(nb_cwd / "reports" / "compare.html")
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<script" not in text.lower()
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in text and 'onerror="' not in text
    assert len(re.findall(r'<img src="data:image/(?:jpeg|png);base64,', text)) == 4
    assert "👍 kept" in text and "👎 rejected" in text and "credits_per_kept" in text
    assert not re.search(r'src="(?!data:)', text)  # nothing to fetch: every image is inside
    # video: embedded under the limit, linked (relative to the report) above it
    job = await session.aio.submit("sora2-text-to-video", prompt="waves")
    await job.wait()
    g = Gallery(session)
    small = g.to_html(nb_cwd / "gallery.html").read_text()
    assert '<video controls preload="metadata" src="data:video/mp4;base64,' in small
    assert small.count('class="card"') == 5 and "<script" not in small.lower()
    big = g.to_html(nb_cwd / "reports" / "gallery-linked.html", embed_max=1000).read_text()
    assert re.search(r'<video controls preload="none" src="\.\./phaya-media/[^"]+\.mp4"', big), big[:3000]
    g.text.value = "kite"
    assert g.to_html(nb_cwd / "kites.html").read_text().count('class="card"') == 2
