"""The service tables, data only: every generation service and media utility, one row each.

Adding a service or changing a price is one entry here: the client validates and prices
from these rows, the widgets build their controls and the magics their flags from them,
and the sandbox routes and charges from them. Rows follow ``shared/phaya-api.md``; lines
marked [decision] there are decisions here too. Formulas live in ``pricing.py``; the chat
and embedding models in ``chat.py``.
"""

from __future__ import annotations

from .model import CountRule, MediaKind, Param, Rule, Service
from .pricing import (
    GPT_IMAGE_PRICE,
    by_param,
    download_price,
    fixed_seconds,
    flat,
    gpt_image_seconds,
    kling_price,
    nano_banana_seconds,
    seedance_price,
    seedance_seconds,
    subtitle_price,
    tts_price,
    veo_seconds,
)

__all__ = ["ASPECT_5", "GPT_IMAGE_ASPECTS", "MEDIA_JOBS", "SERVICES", "VOICES", "ZOOM_MODES"]

ASPECT_5 = ("1:1", "4:3", "3:4", "16:9", "9:16")
#: Gemini TTS voices: (name, character).
VOICES: tuple[tuple[str, str], ...] = (
    ("Zephyr", "Bright"), ("Algenib", "Gravelly"), ("Algieba", "Smooth"), ("Aoede", "Breezy"),
    ("Autonoe", "Bright"), ("Callirrhoe", "Easy-going"), ("Despina", "Smooth"),
    ("Erinome", "Clear"), ("Fenrir", "Excitable"), ("Iapetus", "Clear"), ("Kore", "Firm"),
    ("Laomedeia", "Upbeat"), ("Leda", "Youthful"), ("Orus", "Firm"), ("Sadaltager", "Knowledgeable"),
    ("Schedar", "Even"), ("Umbriel", "Easy-going"), ("Vindemiatrix", "Gentle"),
    ("Zubenelgenubi", "Casual"),
)
ZOOM_MODES = ("center", "top_left", "top_right", "bottom_left", "bottom_right",
              "pan_right", "pan_left", "pan_up", "pan_down", "none")


#: GPT Image 2 (the contract's live section): aspect ratios, resolutions and their rules.
GPT_IMAGE_ASPECTS = ("auto", "1:1", "5:4", "9:16", "21:9", "16:9", "4:3", "3:2", "4:5", "3:4", "2:3")
_GPT_IMAGE_PARAMS = (
    Param("aspect_ratio", choices=GPT_IMAGE_ASPECTS, default="1:1"),
    Param("resolution", choices=("1K", "2K", "4K"), default="1K"),
)
_GPT_IMAGE_RULES = (
    Rule("aspect_ratio", "auto", "resolution", only=("1K",)),
    Rule("aspect_ratio", "1:1", "resolution", never=("4K",)),
)


def _prompt(max_length: int, min_length: int = 1, required: bool = True) -> Param:
    return Param("prompt", "str", required=required, min_length=min_length if required else None,
                 max_length=max_length, help="What to make")


SERVICES: dict[str, Service] = {s.name: s for s in (
    Service(
        "text-to-image", "Z-Image", "image", "generate",
        (_prompt(1000), Param("aspect_ratio", choices=ASPECT_5, default="1:1")),
        flat(1.0), fixed_seconds(10), ("image_url",), "upper5", history="/text-to-image/history",
        aliases=("image", "z-image"), summary="Fast text-to-image",
    ),
    Service(
        "seedream", "Seedream 5.0", "image", "create",
        (_prompt(2995),
         Param("image_urls", "list", max_items=1, media="image", help="One image for image-to-image"),
         Param("aspect_ratio", choices=ASPECT_5 + ("2:3", "3:2", "21:9"), default="1:1"),
         Param("quality", choices=("basic", "high"), default="basic")),
        flat(1.5, "1.5 credits, charged on completion"), fixed_seconds(15), ("image_url",), "lower",
        charge_on="completion", aliases=("seedream-5",), summary="Seedream 5.0 image / image-to-image",
    ),
    Service(
        "nano-banana", "Nano Banana 2", "image", "create",
        (_prompt(20000),
         Param("image_input", "list", max_items=14, media="image", help="Up to 14 reference images"),
         Param("aspect_ratio", choices=("1:1", "1:4", "1:8", "2:3", "3:2", "3:4", "4:1", "4:3", "4:5",
                                        "5:4", "8:1", "9:16", "16:9", "21:9", "auto"), default="1:1"),
         Param("google_search", "bool", default=False),
         Param("resolution", choices=("1K", "2K", "4K"), default="1K"),
         Param("output_format", choices=("jpg", "png"), default="jpg")),
        by_param("resolution", {"1K": 2.0, "2K": 3.0, "4K": 4.0}, "1K"), nano_banana_seconds,
        ("image_url", "image_urls"), "lower", aliases=("nano-banana-2",), summary="Gemini image model",
    ),
    Service(
        "gpt-image-2-text-to-image", "GPT Image 2", "image", "create",
        (_prompt(32000), *_GPT_IMAGE_PARAMS),
        GPT_IMAGE_PRICE, gpt_image_seconds, ("image_url",), "lower", rules=_GPT_IMAGE_RULES,
        aliases=("gpt-image-2", "gpt-image"), summary="OpenAI GPT Image 2 (live API)",
    ),
    Service(
        "gpt-image-2-image-to-image", "GPT Image 2 edit", "image", "create",
        (_prompt(32000),
         Param("input_urls", "list", required=True, min_items=1, max_items=5, media="image", http_only=True,
               help="1-5 images (JPEG/PNG/WEBP, at most 30 MB): public URLs or local files"),
         *_GPT_IMAGE_PARAMS),
        GPT_IMAGE_PRICE, gpt_image_seconds, ("image_url",), "lower", rules=_GPT_IMAGE_RULES,
        aliases=("gpt-image-2-edit", "gpt-image-2-i2i"), summary="GPT Image 2 from 1-5 images (live API)",
    ),
    Service(
        "image-to-video", "Ken Burns (FFmpeg)", "video", "create",
        (Param("image_url", required=True, media="image", min_length=1, help="The still to animate"),
         Param("music_url", media="audio"),
         Param("duration", "int", default=5, minimum=1, maximum=60),
         Param("image_format", choices=("auto", "jpeg", "png", "gif", "webp"), default="auto"),
         Param("zoom", "object", fields=(
             Param("mode", choices=ZOOM_MODES, default="center"),
             Param("speed", "float", default=0.0015, minimum=0.0, maximum=0.1),
             Param("max_scale", "float", default=1.5, minimum=1.0, maximum=4.0),
             Param("pan_speed", "float", default=1.0, minimum=0.0, maximum=10.0)),
             help="Omit for no effect")),
        flat(0.5), fixed_seconds(8), ("video_url",), "lower", aliases=("ken-burns",),
        summary="Animate one image (local FFmpeg)",
    ),
    Service(
        "sora2-video", "Sora 2 image-to-video", "video", "create",
        (_prompt(2000),
         Param("image_urls", "list", required=True, min_items=1, max_items=5, media="image"),
         Param("aspect_ratio", choices=("landscape", "portrait", "square"), default="landscape"),
         Param("n_frames", choices=("5", "10", "15", "20"), default="10", help="Seconds, as text"),
         Param("remove_watermark", "bool", default=True),
         Param("character_id_list", "list", max_items=5)),
        flat(8.0), fixed_seconds(180), ("video_url",), "lower", cancel=True, aliases=("sora2-i2v",),
        summary="Sora 2 from images",
    ),
    Service(
        "sora2-text-to-video", "Sora 2", "video", "create",
        (_prompt(2000),
         Param("aspect_ratio", choices=("landscape", "portrait"), default="landscape"),
         Param("n_frames", choices=("10", "15"), default="10", help="Seconds, as text"),
         Param("remove_watermark", "bool", default=True)),
        flat(8.0), fixed_seconds(180), ("video_url",), "lower", cancel=True, aliases=("video", "sora2"),
        summary="Sora 2 text-to-video",
    ),
    Service(
        "sora2-character", "Sora 2 character", "character", "create",
        (Param("character_file_url", required=True, min_length=1, media="video",
               help="mp4/mov/webm/m4v/avi, 1-4 s, at most 100 MB"),
         Param("character_prompt", max_length=5000),
         Param("safety_instruction", max_length=5000)),
        flat(0.5), fixed_seconds(30), ("character_id",), "lower", cancel=True,
        history="/sora2-character/list", aliases=("character",), summary="A reusable Sora character id",
    ),
    Service(
        "seedance-video", "Seedance 1.5 Pro", "video", "create",
        (_prompt(2500, min_length=3),
         Param("input_urls", "list", max_items=2, media="image", help="First frame, or first and last"),
         Param("aspect_ratio", choices=("1:1", "21:9", "4:3", "3:4", "16:9", "9:16"), default="16:9"),
         Param("resolution", choices=("480p", "720p", "1080p"), default="720p"),
         Param("duration", choices=("4", "8", "12"), default="8", help="Seconds, as text"),
         Param("fixed_lens", "bool", default=False),
         Param("generate_audio", "bool", default=False)),
        seedance_price, seedance_seconds, ("video_url", "audio_url"), "lower", cancel=True,
        aliases=("seedance",), summary="Seedance video, optional audio",
    ),
    Service(
        "kling-motion-control", "Kling 2.6 motion control", "video", "create",
        (_prompt(2500, required=False),
         Param("input_urls", "list", required=True, min_items=1, max_items=1, media="image"),
         Param("video_urls", "list", required=True, min_items=1, max_items=1, media="video",
               help="One motion video, at most 30 s"),
         Param("character_orientation", choices=("image", "video"), default="video"),
         Param("mode", choices=("720p", "1080p"), default="720p")),
        kling_price, fixed_seconds(90), ("video_url",), "lower", cancel=True, aliases=("kling",),
        summary="Move a character like a video",
    ),
    Service(
        "veo31-video", "Veo 3.1", "video", "create",
        (_prompt(2000),
         Param("model", choices=("veo3_fast", "veo3"), default="veo3_fast"),
         Param("image_urls", "list", max_items=3, media="image"),
         Param("generation_type", choices=("TEXT_2_VIDEO", "FIRST_AND_LAST_FRAMES_2_VIDEO",
                                           "REFERENCE_2_VIDEO"), default="TEXT_2_VIDEO"),
         Param("aspect_ratio", choices=("16:9", "9:16", "Auto"), default="16:9"),
         Param("seeds", "int", minimum=10000, maximum=99999),
         Param("enable_translation", "bool", default=False),
         Param("watermark", max_length=50)),
        by_param("model", {"veo3_fast": 15.0, "veo3": 50.0}, "veo3_fast"), veo_seconds,
        ("video_url", "origin_url", "resolution"), "lower", cancel=True, aliases=("veo", "veo3"),
        summary="Google Veo 3.1", count_rules=(
            CountRule("generation_type", "FIRST_AND_LAST_FRAMES_2_VIDEO", "image_urls", 1, 2, "1 or 2 image URLs"),
            CountRule("generation_type", "REFERENCE_2_VIDEO", "image_urls", 1, None, "1 to 3 image URLs")),
    ),
    Service(
        "text-to-music", "Suno", "audio", "generate",
        (_prompt(2000),
         Param("style", max_length=100), Param("title", max_length=200),
         Param("instrumental", "bool", default=False),
         Param("model", choices=("V3", "V3_5", "V4", "V5"), default="V4"),
         Param("negative_tags", max_length=500),
         Param("vocal_gender", choices=("m", "f")),
         Param("style_weight", "float", minimum=0, maximum=1),
         Param("weirdness_constraint", "float", minimum=0, maximum=1),
         Param("audio_weight", "float", minimum=0, maximum=1)),
        flat(3.0, "3 credits for two tracks"), fixed_seconds(90), ("audio_url", "audio_urls"), "upper5",
        history="/text-to-music/history", aliases=("music", "suno"), summary="Two song takes",
    ),
    Service(
        "text-to-speech", "Gemini TTS", "speech", "generate",
        (_prompt(500000),
         Param("voice", choices=tuple(v for v, _ in VOICES), default="Zephyr"),
         Param("slow", "bool", default=False),
         Param("language", choices=("en", "th", "ja", "zh-CN", "ko"), nullable=True)),
        tts_price, fixed_seconds(6), ("audio_url",), "upper4", history="/text-to-speech/history",
        extra_endpoints=("/text-to-speech/voices",), aliases=("speech", "tts"),
        summary="Speech from text",
    ),
    Service(
        "thai-subtitle", "Whisper + FFmpeg", "video", "generate",
        (Param("media_url", required=True, min_length=1, media="video", help="mp4/mov/webm"),
         Param("script", max_length=10000),
         Param("animation", choices=("none", "word_pop_fade"), default="none"),
         Param("timing_offset_ms", "int", default=0, minimum=-300, maximum=300)),
        subtitle_price, fixed_seconds(30), ("video_url",), "upper4", aliases=("subtitle", "subtitles"),
        summary="Burn Thai subtitles into a video",
    ),
    Service(
        "video-download", "yt-dlp", "download", "create",
        (Param("url", required=True, min_length=1, help="A page on a supported platform"),
         Param("format", choices=("mp4", "mp3", "best"), default="mp4"),
         Param("quality", choices=("best", "720p", "480p", "360p", "audio"), default="best")),
        download_price, fixed_seconds(15), ("download_url",), "lower",
        extra_endpoints=("/video-download/supported-platforms",), aliases=("download",),
        summary="Fetch a video or its audio",
    ),
)}


def _utility(name: str, label: str, media: MediaKind, params: tuple[Param, ...], seconds: float,
             result_fields: tuple[str, ...], alias: str, summary: str) -> Service:
    """A media utility: created at ``/media/<name>``, polled at ``/media/status/{id}``, free."""
    return Service(f"media/{name}", label, media, "create", params, flat(0.0, "free"), fixed_seconds(seconds),
                   result_fields, "lower", status_path="/media/status", aliases=(alias,), summary=summary)


#: Media utilities that run as jobs, polled at ``/media/status/{id}`` [decision: free].
MEDIA_JOBS: dict[str, Service] = {s.name: s for s in (
    _utility("merge-video", "FFmpeg merge", "video",
             (Param("video_urls", "list", required=True, min_items=2, max_items=10, media="video"),),
             5, ("video_url",), "merge-video", "Join videos end to end"),
    _utility("extract-last-frame", "FFmpeg last frame", "image",
             (Param("video_url", required=True, min_length=1, media="video"),),
             3, ("image_url",), "last-frame", "The last frame of a video as an image"),
    _utility("merge-audio-video", "FFmpeg soundtrack", "video",
             (Param("video_url", required=True, min_length=1, media="video"),
              Param("audio_url", required=True, min_length=1, media="audio", help="Music or speech to lay under it"),
              Param("audio_volume", "float", default=1.0, minimum=0.0, maximum=2.0),
              Param("keep_original_audio", "bool", default=False, help="Mix with the video's own sound")),
             4, ("video_url",), "add-audio", "Put a soundtrack on a video"),
    _utility("merge-audio", "FFmpeg audio join", "audio",
             (Param("audio_urls", "list", required=True, min_items=2, max_items=10, media="audio"),),
             3, ("audio_url",), "merge-audio", "Join audio clips end to end"),
    _utility("overlay-gif", "FFmpeg overlay", "video",
             (Param("video_url", required=True, min_length=1, media="video"),
              Param("gif_url", required=True, min_length=1, media="image", help="An animated GIF (or any image)"),
              Param("position", choices=("top_left", "top_right", "bottom_left", "bottom_right", "center"),
                    default="bottom_right"),
              Param("scale", "float", default=0.25, minimum=0.05, maximum=1.0, help="Overlay width / video width")),
             5, ("video_url",), "overlay-gif", "Lay a GIF or image over a video"),
    _utility("transcribe", "Transcribe", "text",
             (Param("media_url", required=True, min_length=1, media="audio", help="Speech, music or a video"),
              Param("language", choices=("en", "th", "ja", "zh-CN", "ko"), nullable=True)),
             4, ("text", "language", "duration"), "transcribe", "The words spoken in audio or video"),
)}
