"""GPT Image 2 end to end through the client, and the live shapes it must read (real HTTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from phaya_notebook.core.errors import InvalidParams

from .conftest import SECRET, Admin

T2I, I2I = "gpt-image-2-text-to-image", "gpt-image-2-image-to-image"


async def test_text_to_image_and_image_to_image_with_a_local_file(make_client: Any, tmp_path: Path) -> None:
    c = make_client()
    r = await c.generate("gpt-image-2", prompt="a paper boat", resolution="2K", aspect_ratio="16:9")
    assert r.service == T2I and r.path is not None and r.credits == 2.0
    assert r.fields["status"] == "completed" and isinstance(r.fields["processing_time_ms"], int)
    with Image.open(r.path) as img:
        assert img.size == (2048, 1152)

    src = tmp_path / "boat.png"
    Image.new("RGB", (300, 200), (10, 120, 200)).save(src)
    job = await c.submit("gpt-image-2-edit", prompt="the boat at night", input_urls=[src, r.url])
    assert job.params["input_urls"][0].startswith("http") and job.params["input_urls"][1] == r.url
    res = await job.wait()
    assert res.service == I2I and res.path is not None and res.fields["image_url"] == res.url
    with Image.open(res.path) as img:
        assert img.size == (1024, 1024)  # the defaults: 1:1 at 1K


@pytest.mark.parametrize(("service", "params", "field", "allowed"), [
    (T2I, {"aspect_ratio": "7:3"}, "aspect_ratio", "'21:9'"),
    (T2I, {"resolution": "8K"}, "resolution", "'4K'"),
    (T2I, {"aspect_ratio": "auto", "resolution": "2K"}, "aspect_ratio", "only with resolution '1K'"),
    (T2I, {"aspect_ratio": "1:1", "resolution": "4K"}, "aspect_ratio", "not with resolution '4K'"),
    (I2I, {"input_urls": ["https://x.test/a.png"] * 6}, "input_urls", "1 to 5"),
    (I2I, {"input_urls": ["./no-such-image.png"]}, "input_urls[0]", "local image file"),
    (I2I, {"input_urls": [Path("/no/such/file.png")]}, "input_urls[0]", "local image file"),
])
async def test_bad_input_is_refused_before_any_request(make_client: Any, admin: Admin, service: str,
                                                       params: dict[str, Any], field: str, allowed: str) -> None:
    c = make_client()
    if service == I2I:
        params = {"input_urls": ["https://x.test/a.png"], **params}
    before = admin.requests_of(SECRET)
    with pytest.raises(InvalidParams) as err:
        await c.submit(service, prompt="a fox", **params)
    assert err.value.problems[0].field == field and allowed in str(err.value)
    if "resolution" in params and field == "aspect_ratio":
        assert "resolution" in str(err.value) and "aspect_ratio" in str(err.value)  # names both fields
    with pytest.raises(InvalidParams):
        c.estimate(service, prompt="a fox", **params)
    assert admin.requests_of(SECRET) == before and c.committed_credits == 0.0


async def test_live_shapes_are_read(make_client: Any) -> None:
    c = make_client()
    prof = await c.profile()
    assert set(prof) == {"success", "user_id", "email", "credits_balance"}
    emb = await c.embed(["abcdefghijklmnopqrstuvwx"])  # 24 characters: 6 tokens
    assert emb.dimensions == 4096 and emb.usage["prompt_tokens"] == 6
    assert emb.credits == pytest.approx(1.68e-05, abs=1e-12) and emb.id and emb.model == "Phaya Text Embedding"
    before = await c.credits()
    reply = await c.chat([{"role": "user", "content": "x" * 28}], max_tokens=4)  # 7 + 4 = 11 prompt tokens
    assert (reply.usage["prompt_tokens"], reply.usage["completion_tokens"]) == (11, 4)
    assert reply.credits == pytest.approx(0.000466, abs=1e-6)
    assert before - await c.credits() == pytest.approx(0.000466, abs=1e-6)  # charged, not just reported
    assert c.committed_credits == pytest.approx(1.68e-05 + 0.000466, abs=1e-9)  # settled at the live prices
