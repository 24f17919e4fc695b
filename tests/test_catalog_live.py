"""The contract's live section in the catalog: GPT Image 2's rules, live chat and embedding prices."""

from __future__ import annotations

import pytest

from phaya_notebook import catalog as c

T2I, I2I = "gpt-image-2-text-to-image", "gpt-image-2-image-to-image"


@pytest.mark.parametrize("svc", [T2I, I2I])
def test_gpt_image_rules_name_both_fields(svc: str) -> None:
    base = {"prompt": "a fox"} | ({"input_urls": ["https://x/a.png"]} if svc == I2I else {})
    for aspect, res in [("auto", "2K"), ("auto", "4K"), ("1:1", "4K")]:
        with pytest.raises(c.ParamError) as err:
            c.validate(svc, {**base, "aspect_ratio": aspect, "resolution": res})
        text = str(err.value)
        assert err.value.field == "aspect_ratio"
        assert "aspect_ratio" in text and "resolution" in text and repr(res) in text and repr(aspect) in text
    # the default aspect (1:1) clashes with 4K too, and the error says it was the default
    with pytest.raises(c.ParamError, match=r"aspect_ratio='1:1' \(the default\) is not allowed with resolution='4K'"):
        c.validate(svc, {**base, "resolution": "4K"})
    # what is allowed passes, and the allowed values are listed for the failing combination
    assert c.validate(svc, {**base, "aspect_ratio": "auto"})["aspect_ratio"] == "auto"
    assert c.validate(svc, {**base, "aspect_ratio": "1:1", "resolution": "2K"})
    assert c.validate(svc, {**base, "aspect_ratio": "16:9", "resolution": "4K"})
    with pytest.raises(c.ParamError) as err:
        c.validate(svc, {**base, "aspect_ratio": "1:1", "resolution": "4K"})
    assert "'16:9'" in err.value.allowed and "'1:1'" not in err.value.allowed.split(";")[1]


def test_gpt_image_enums_and_input_urls() -> None:
    with pytest.raises(c.ParamError) as err:
        c.validate(T2I, {"prompt": "a", "aspect_ratio": "7:3"})
    assert err.value.field == "aspect_ratio" and "'21:9'" in err.value.allowed
    with pytest.raises(c.ParamError) as err:
        c.validate(T2I, {"prompt": "a", "resolution": "8K"})
    assert err.value.field == "resolution" and "'4K'" in err.value.allowed
    for bad, field in [([], "input_urls"), (["https://x/a.png"] * 6, "input_urls"),
                       (["not-a-url.png"], "input_urls[0]")]:
        with pytest.raises(c.ParamError) as err:
            c.validate(I2I, {"prompt": "a", "input_urls": bad})
        assert err.value.field == field, bad
    assert len(c.validate(I2I, {"prompt": "a", "input_urls": ["https://x/a.png"] * 5})["input_urls"]) == 5
    with pytest.raises(c.ParamError, match="input_urls: is required"):
        c.validate(I2I, {"prompt": "a"})
    # text-to-image takes no input images: refused before sending (the live API would ignore it)
    with pytest.raises(c.ParamError, match="input_urls: is not a parameter"):
        c.validate(T2I, {"prompt": "a", "input_urls": ["https://x/a.png"]})


def test_aliases() -> None:
    assert c.resolve_service("gpt-image-2").name == T2I
    assert c.resolve_service("gpt-image-2-edit").name == I2I


def test_live_chat_and_embedding_prices() -> None:
    m = c.CHAT_MODELS["phaya-gpt"]
    assert (m.prompt_per_million, m.completion_per_million) == (10.5, 87.5)
    assert c.chat_credits("phaya-gpt", 11, 4) == pytest.approx(0.000466, abs=1e-9)  # live answer
    assert c.chat_credits(None, 1_000_000, 0) == pytest.approx(10.5)
    assert c.embedding_credits(None, 6) == pytest.approx(1.68e-05, abs=1e-12)  # live answer
    assert c.EMBEDDING_MODELS["qwen/qwen3-embedding-8b"] == 2.8
    assert "10.50 / 87.50 per million" in m.price_text
