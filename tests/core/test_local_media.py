"""Local files for media params: checked before any request, uploaded, then the job is created."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from phaya_notebook.core.errors import BudgetExceeded, ConfirmationRequired, InvalidParams

from .conftest import SECRET
from .test_services import png_bytes


def _uploads(admin: Any) -> int:
    return admin.paths_of(SECRET).get("/api/v1/media/upload", 0)


async def test_a_path_becomes_an_uploaded_url(make_client: Any, admin: Any, tmp_path: pathlib.Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    c = make_client()
    pic = tmp_path / "cat.png"
    pic.write_bytes(png_bytes())
    before = _uploads(admin)
    # a pathlib.Path for a single-URL field
    r = await c.generate("image-to-video", image_url=pic, duration=2)
    assert r.urls and r.paths
    sent = c.jobs[-1].params["image_url"]
    assert sent.startswith(("http://", "https://")) and "local-file.invalid" not in sent
    assert _uploads(admin) == before + 1
    # a relative path string in a list field; the same file twice is uploaded once
    monkeypatch.chdir(tmp_path)
    job = await c.submit("sora2-video", prompt="a cat walks", image_urls=["./cat.png", pic, "https://x.test/a.png"],
                         confirm=True)
    urls = job.params["image_urls"]
    assert urls[0] == urls[1] and urls[0].startswith("http") and urls[2] == "https://x.test/a.png"
    assert _uploads(admin) == before + 2
    await job.cancel()
    # a plain URL is passed through untouched, with no upload
    await c.submit("image-to-video", image_url=sent, duration=2)
    assert _uploads(admin) == before + 2
    assert c.estimate("image-to-video", image_url=pic).credits == c.estimate("image-to-video",
                                                                             image_url=sent).credits


async def test_bad_paths_and_refusals_send_nothing(make_client: Any, admin: Any,
                                                   tmp_path: pathlib.Path) -> None:
    c = make_client(confirm_above=0.1)
    pic = tmp_path / "cat.png"
    pic.write_bytes(png_bytes())
    before = admin.requests_of(SECRET)
    uploads = _uploads(admin)

    def nothing_sent(step: str) -> None:  # checked after each refusal, not just once at the end
        assert (_uploads(admin), admin.requests_of(SECRET)) == (uploads, before), f"sent after {step}"

    with pytest.raises(InvalidParams) as err:
        await c.submit("image-to-video", image_url=tmp_path / "missing.png", confirm=True)
    assert "image_url" in str(err.value) and "not an existing file" in str(err.value)
    assert "a URL or the path of a local image file" in str(err.value)
    nothing_sent("a missing file")
    with pytest.raises(InvalidParams, match=r"image_urls\[1\]"):
        await c.submit("sora2-video", prompt="a cat", image_urls=[pic, "./nope.png"], confirm=True)
    nothing_sent("a missing file in a list")
    with pytest.raises(InvalidParams, match="duration"):  # the other params are still checked
        await c.submit("image-to-video", image_url=pic, duration=999, confirm=True)
    nothing_sent("an invalid duration next to a good file")
    with pytest.raises(InvalidParams, match="prompt"):
        await c.submit("sora2-video", prompt="", image_urls=[pic], confirm=True)
    nothing_sent("an empty prompt next to a good file")
    with pytest.raises(ConfirmationRequired):  # refused for its price: nothing uploaded
        await c.submit("image-to-video", image_url=pic)
    nothing_sent("a refused price")
    capped = make_client(max_credits=0.1)
    with pytest.raises(BudgetExceeded):  # refused by the session budget: nothing uploaded
        await capped.submit("image-to-video", image_url=pic)
    nothing_sent("the session budget")
    assert admin.requests_of(SECRET) == before
