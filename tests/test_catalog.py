"""The catalog: prices exact for every row, validation errors that name field and allowed values."""

from __future__ import annotations

import pytest

from phaya_notebook import catalog as c


def test_every_contract_service_is_listed() -> None:
    expected = {
        "text-to-image", "seedream", "nano-banana", "image-to-video", "sora2-video",
        "sora2-text-to-video", "sora2-character", "seedance-video", "kling-motion-control",
        "veo31-video", "text-to-music", "text-to-speech", "thai-subtitle", "video-download",
        # the contract's live section: services missing from the docs
        "gpt-image-2-text-to-image", "gpt-image-2-image-to-image",
    }
    assert set(c.SERVICES) == expected
    # every media utility the contract lists
    assert set(c.MEDIA_JOBS) == {"media/merge-video", "media/extract-last-frame", "media/merge-audio-video",
                                 "media/merge-audio", "media/overlay-gif", "media/transcribe"}


@pytest.mark.parametrize(
    ("service", "params", "credits"),
    [
        ("text-to-image", {"prompt": "a"}, 1.0),
        ("seedream", {"prompt": "a"}, 1.5),
        ("nano-banana", {"prompt": "a"}, 2.0),
        ("nano-banana", {"prompt": "a", "resolution": "2K"}, 3.0),
        ("nano-banana", {"prompt": "a", "resolution": "4K"}, 4.0),
        ("image-to-video", {"image_url": "u"}, 0.5),
        ("sora2-video", {"prompt": "a", "image_urls": ["u"]}, 8.0),
        ("sora2-text-to-video", {"prompt": "a"}, 8.0),
        ("sora2-character", {"character_file_url": "u"}, 0.5),
        ("veo31-video", {"prompt": "a"}, 15.0),
        ("veo31-video", {"prompt": "a", "model": "veo3"}, 50.0),
        ("text-to-music", {"prompt": "a"}, 3.0),
        ("text-to-speech", {"prompt": "a"}, 0.01),
        ("text-to-speech", {"prompt": "a" * 100}, 0.01),
        ("text-to-speech", {"prompt": "a" * 101}, 0.02),
        ("video-download", {"url": "https://x"}, 0.5),
        ("gpt-image-2-text-to-image", {"prompt": "a"}, 1.0),
        ("gpt-image-2-text-to-image", {"prompt": "a", "resolution": "2K"}, 2.0),
        ("gpt-image-2-text-to-image", {"prompt": "a", "resolution": "4K", "aspect_ratio": "16:9"}, 4.0),
        ("gpt-image-2-image-to-image", {"prompt": "a", "input_urls": ["https://x/a.png"], "resolution": "2K"}, 2.0),
    ],
)
def test_flat_and_tiered_prices(service: str, params: dict, credits: float) -> None:
    assert c.estimate(service, params).credits == pytest.approx(credits)


SEEDANCE = {
    "480p": {"4": (2, 3), "8": (3, 6), "12": (4, 8)},
    "720p": {"4": (3, 6), "8": (6, 12), "12": (9, 18)},
    "1080p": {"4": (6, 12), "8": (12, 23), "12": (18, 35)},
}


@pytest.mark.parametrize("res", ["480p", "720p", "1080p"])
@pytest.mark.parametrize("dur", ["4", "8", "12"])
@pytest.mark.parametrize("audio", [False, True])
def test_seedance_table(res: str, dur: str, audio: bool) -> None:
    p = {"prompt": "abc", "resolution": res, "duration": dur, "generate_audio": audio}
    assert c.estimate("seedance-video", p).credits == SEEDANCE[res][dur][int(audio)]


def test_seedance_defaults_are_720p_8s_no_audio() -> None:
    assert c.estimate("seedance-video", {"prompt": "abc"}).credits == 6


def test_kling_per_output_second() -> None:
    base = {"input_urls": ["i"], "video_urls": ["v"]}
    assert c.estimate("kling-motion-control", base, {"media_seconds": 5}).credits == pytest.approx(6.05)
    hd = {**base, "mode": "1080p", "character_orientation": "image"}
    assert c.estimate("kling-motion-control", hd, {"media_seconds": 25}).credits == pytest.approx(18.2)
    unknown = c.estimate("kling-motion-control", base)
    assert not unknown.exact and unknown.credits == pytest.approx(36.3)


def test_subtitle_and_download_formulas() -> None:
    assert c.estimate("thai-subtitle", {"media_url": "m"}, {"media_seconds": 120}).credits == 0.34
    assert c.estimate("thai-subtitle", {"media_url": "m"}, {"media_seconds": 5}).credits == 0.07
    assert c.estimate("video-download", {"url": "u"}, {"size_mb": 10}).credits == 0.5
    assert c.estimate("video-download", {"url": "u"}, {"size_mb": 10.1}).credits == 1.0


def test_validation_names_field_and_allowed_values() -> None:
    with pytest.raises(c.ParamError) as err:
        c.validate("text-to-image", {"prompt": "cat", "aspect_ratio": "2:1"})
    assert err.value.field == "aspect_ratio"
    assert "'16:9'" in str(err.value) and "aspect_ratio" in str(err.value)


def test_validation_reports_unknown_and_missing_fields() -> None:
    with pytest.raises(c.ParamError) as err:
        c.validate("sora2-video", {"prompt": "x", "colour": "red"})
    fields = {p.field for p in err.value.problems}
    assert fields == {"colour", "image_urls"}
    assert "remove_watermark" in str(err.value)


def test_validation_limits() -> None:
    with pytest.raises(c.ParamError, match="1 to 1000 characters"):
        c.validate("text-to-image", {"prompt": "x" * 1001})
    with pytest.raises(c.ParamError, match="seeds"):
        c.validate("veo31-video", {"prompt": "x", "seeds": 5})
    with pytest.raises(c.ParamError, match="zoom.mode"):
        c.validate("image-to-video", {"image_url": "u", "zoom": {"mode": "spin"}})


def test_string_enums_accept_numbers_and_send_strings() -> None:
    body = c.validate("sora2-text-to-video", {"prompt": "x", "n_frames": 15})
    assert body == {"prompt": "x", "n_frames": "15"}


def test_aliases_and_unknown_service() -> None:
    assert c.resolve_service("image").name == "text-to-image"
    assert c.resolve_service("music").name == "text-to-music"
    with pytest.raises(c.ParamError, match="text-to-image"):
        c.resolve_service("text-to-hologram")


def test_status_normalisation() -> None:
    assert c.normalize_status("COMPLETED") == "completed"
    assert c.is_terminal("FAILED") and c.is_terminal("cancelled")
    assert not c.is_terminal("QUEUED") and not c.is_terminal("some-new-value")
    svc = c.resolve_service("text-to-music")
    assert svc.statuses == ("PENDING", "QUEUED", "PROCESSING")
    assert c.resolve_service("seedream").charge_on == "completion"


def test_timeouts_follow_the_contract() -> None:
    assert c.resolve_service("text-to-image").timeout_seconds == 600
    assert c.resolve_service("veo31-video").timeout_seconds > 600


#: Every public name of the single-module catalog.py (before the package split): callers import them
#: from ``phaya_notebook.catalog`` and must keep finding them there.
OLD_PUBLIC_NAMES = (
    "ASPECT_5", "CHAT_MODELS", "CHAT_PARAMS", "DEFAULT_CHAT_MODEL", "EMBEDDING_DIMENSIONS",
    "EMBEDDING_LABEL", "EMBEDDING_MODELS", "GPT_IMAGE_ASPECTS", "KLING_MAX_SECONDS", "KLING_PER_SECOND",
    "MEDIA_JOBS", "SEEDANCE_PRICES", "SERVICES", "STATUS_FLOWS", "TERMINAL", "VOICES", "ZOOM_MODES",
    "ChatModel", "Estimate", "MediaKind", "Param", "ParamError", "ParamProblem", "ParamType", "PriceFn",
    "Rule", "SecondsFn", "Service", "StatusFamily", "chat_credits", "credits_text", "download_credits",
    "embedding_credits", "estimate", "get_service", "is_terminal", "kling_output_seconds",
    "normalize_status", "resolve_service", "service_names", "subtitle_credits", "tts_credits",
    "typical_seconds", "validate", "with_defaults",
)


def test_the_package_keeps_every_name_the_module_had() -> None:
    assert [n for n in OLD_PUBLIC_NAMES if not hasattr(c, n)] == []
    assert set(OLD_PUBLIC_NAMES) <= set(c.__all__)
    assert c.get_service is c.resolve_service
    # the tables and the functions that read them are the same objects through every path
    from phaya_notebook.catalog import chat, services, validation
    assert c.SERVICES is services.SERVICES and c.CHAT_MODELS is chat.CHAT_MODELS
    assert c.validate is validation.validate


def test_veo_frame_counts_follow_the_generation_type() -> None:
    """Veo 3.1: first-and-last-frames takes 1 or 2 images, reference at least 1; text takes none needed."""
    url = "https://example.com/a.png"
    base = {"prompt": "a cat"}
    assert c.validate("veo31-video", base)["prompt"] == "a cat"
    ok = [("FIRST_AND_LAST_FRAMES_2_VIDEO", 1), ("FIRST_AND_LAST_FRAMES_2_VIDEO", 2),
          ("REFERENCE_2_VIDEO", 1), ("REFERENCE_2_VIDEO", 3), ("TEXT_2_VIDEO", 0)]
    for gt, n in ok:
        c.validate("veo31-video", {**base, "generation_type": gt, "image_urls": [url] * n})
    bad = [("FIRST_AND_LAST_FRAMES_2_VIDEO", 0, "1 or 2 image URLs"),
           ("FIRST_AND_LAST_FRAMES_2_VIDEO", 3, "1 or 2 image URLs"),
           ("REFERENCE_2_VIDEO", 0, "1 to 3 image URLs")]
    for gt, n, allowed in bad:
        with pytest.raises(c.ParamError) as err:
            c.validate("veo31-video", {**base, "generation_type": gt, "image_urls": [url] * n})
        assert [(p.field, p.message, p.allowed) for p in err.value.problems] == [
            ("image_urls", f"has {n} items for {gt}", allowed)]
    # the rule reads the given body: no image_urls counts as none, and it is reported with other problems
    with pytest.raises(c.ParamError) as err:
        c.validate("veo31-video", {"generation_type": "REFERENCE_2_VIDEO", "seeds": 1})
    assert [p.field for p in err.value.problems] == ["seeds", "prompt", "image_urls"]
