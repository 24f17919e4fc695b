"""The one source of truth for Phaya's services, parameters and prices.

Everything else reads this module: the client validates and prices from it, the
widgets build their controls from it, the magics build their flags from it and the
sandbox routes and charges from it. Adding a service or changing a price is one
entry here. Rows follow ``shared/phaya-api.md``; lines marked [decision] there are
decisions here too.

This module imports nothing from the rest of the package.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CHAT_MODELS",
    "DEFAULT_CHAT_MODEL",
    "EMBEDDING_MODELS",
    "MEDIA_JOBS",
    "SERVICES",
    "VOICES",
    "ChatModel",
    "Estimate",
    "Param",
    "ParamError",
    "ParamProblem",
    "Rule",
    "Service",
    "chat_credits",
    "credits_text",
    "embedding_credits",
    "estimate",
    "get_service",
    "is_terminal",
    "normalize_status",
    "resolve_service",
    "validate",
    "with_defaults",
]

ParamType = Literal["str", "int", "float", "bool", "list", "object"]
MediaKind = Literal["image", "video", "audio", "speech", "character", "download", "text", "file"]
StatusFamily = Literal["upper4", "upper5", "lower"]

#: Every status a job can report, by the casing family its service uses.
STATUS_FLOWS: dict[str, tuple[str, ...]] = {
    "upper5": ("PENDING", "QUEUED", "PROCESSING"),
    "upper4": ("PENDING", "PROCESSING"),
    "lower": ("processing",),
}
TERMINAL = ("completed", "failed", "cancelled")


def normalize_status(status: str | None) -> str:
    """Lower-case a server status; unknown values count as still running."""
    s = (status or "").strip().lower()
    if s in ("canceled",):
        return "cancelled"
    if s in ("succeeded", "success", "done"):
        return "completed"
    if s in ("error",):
        return "failed"
    return s or "pending"


def is_terminal(status: str | None) -> bool:
    return normalize_status(status) in TERMINAL


@dataclass(frozen=True)
class Param:
    """One body field of a service.

    ``media`` marks a field that takes a URL of an uploaded file of that kind, so
    the widgets can offer a file picker and the client can upload local paths.
    """

    name: str
    type: ParamType = "str"
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_items: int | None = None
    max_items: int | None = None
    nullable: bool = False
    media: MediaKind | None = None
    fields: tuple[Param, ...] = ()
    help: str = ""
    #: Only http(s) URLs (a local file is uploaded first; any other text is refused).
    http_only: bool = False

    def allowed(self) -> str:
        """Human text of what this field accepts, used in every error message."""
        if self.choices is not None:
            vals = ", ".join(repr(c) for c in self.choices)
            return f"one of {vals}" + (" or None" if self.nullable else "")
        if self.type == "bool":
            return "True or False"
        if self.type in ("int", "float"):
            kind = "an integer" if self.type == "int" else "a number"
            lo = "" if self.minimum is None else f"{self.minimum:g}"
            hi = "" if self.maximum is None else f"{self.maximum:g}"
            if lo and hi:
                return f"{kind} from {lo} to {hi}"
            if lo:
                return f"{kind} >= {lo}"
            if hi:
                return f"{kind} <= {hi}"
            return kind
        if self.type == "str":
            least, most = self.min_length or 0, self.max_length
            if most is not None:
                return f"text of {least} to {most} characters"
            return f"text of at least {max(least, 1)} character(s)" if self.required else "text"
        if self.type == "list":
            what = "URLs" if self.media else "strings"
            if self.max_items is not None:
                return f"a list of {self.min_items or 0} to {self.max_items} {what}"
            return f"a list of {what}"
        if self.type == "object":
            return "an object with fields " + ", ".join(f.name for f in self.fields)
        return self.type


@dataclass(frozen=True)
class Estimate:
    """A price before anything runs; ``exact`` is False when it depends on the media."""

    credits: float
    exact: bool = True
    basis: str = ""
    #: Set when a service was seen charging another amount for the same parameters:
    #: ``credits`` is then the higher of the two (see ``core/observed.py``).
    catalog: float | None = None
    observed: float | None = None

    def __float__(self) -> float:
        return self.credits


@dataclass(frozen=True)
class Rule:
    """A rule across two fields, as data: when ``field`` is ``value``, ``other`` must be one
    of ``only`` (or none of ``never``). Checked on the params with defaults filled in, so a
    default that clashes with a chosen value is refused too, naming both fields.
    """

    field: str
    value: Any
    other: str
    only: tuple[Any, ...] | None = None
    never: tuple[Any, ...] = ()

    def broken_by(self, params: Mapping[str, Any]) -> bool:
        if params.get(self.field) != self.value or self.other not in params:
            return False
        v = params[self.other]
        return (self.only is not None and v not in self.only) or v in self.never

    def text(self) -> str:
        if self.only is not None:
            return f"{self.field} {self.value!r} only with {self.other} " + " or ".join(map(repr, self.only))
        return f"{self.field} {self.value!r} not with {self.other} " + " or ".join(map(repr, self.never))


PriceFn = Callable[[Mapping[str, Any], Mapping[str, float]], Estimate]
SecondsFn = Callable[[Mapping[str, Any]], float]


@dataclass(frozen=True)
class Service:
    """One generation service, named as in the contract's paths."""

    name: str
    label: str
    media: MediaKind
    verb: Literal["create", "generate"]
    params: tuple[Param, ...]
    price: PriceFn
    typical_seconds: SecondsFn
    result_fields: tuple[str, ...]
    status_family: StatusFamily
    cancel: bool = False
    history: str | None = None
    charge_on: Literal["create", "completion"] = "create"
    status_path: str | None = None
    extra_endpoints: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    summary: str = ""
    rules: tuple[Rule, ...] = ()

    @property
    def create_path(self) -> str:
        """Media utilities are created at their own path; services at /<name>/<verb>."""
        return f"/{self.name}" if self.status_path else f"/{self.name}/{self.verb}"

    def status_url(self, job_id: str) -> str:
        base = self.status_path or f"/{self.name}/status"
        return f"{base}/{job_id}"

    def cancel_url(self, job_id: str) -> str:
        return f"/{self.name}/cancel/{job_id}"

    @property
    def statuses(self) -> tuple[str, ...]:
        """Non-terminal values in the order a job moves through them, server casing."""
        return STATUS_FLOWS[self.status_family]

    def server_status(self, status: str) -> str:
        """The casing this service's server uses for a normalised status."""
        return status.upper() if self.status_family != "lower" else status.lower()

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ParamError(self.name, [ParamProblem(name, "is not a parameter of this service", self.param_names())])

    def param_names(self) -> str:
        return ", ".join(p.name for p in self.params)

    @property
    def timeout_seconds(self) -> float:
        """How long to wait before a job counts as stuck: the contract's 10 min, 15+ for video."""
        return self.timeout_for({})

    def timeout_for(self, params: Mapping[str, Any]) -> float:
        try:
            typical = self.typical_seconds(params)
        except KeyError:
            typical = self.typical_seconds({})
        floor = 900.0 if self.media == "video" else 600.0
        return max(floor, 4.0 * typical)

    @property
    def min_price(self) -> float:
        return self.price({}, {}).credits


# ---------------------------------------------------------------- prices

def credits_text(amount: float | None) -> str:
    """"1 credit", "2 credits", "0.5 credits", "? credits": the one way every label says it."""
    if amount is None:
        return "? credits"
    value = float(amount)
    return f"{value:g} credit" + ("" if value == 1 else "s")


def _flat(credits: float, basis: str = "") -> PriceFn:
    def price(params: Mapping[str, Any], facts: Mapping[str, float]) -> Estimate:
        return Estimate(credits, True, basis or f"{credits_text(credits)} per job")

    return price


def _by_param(name: str, table: Mapping[Any, float], default: Any) -> PriceFn:
    def price(params: Mapping[str, Any], facts: Mapping[str, float]) -> Estimate:
        key = params.get(name) if params.get(name) is not None else default
        return Estimate(table[key], True, f"{credits_text(table[key])} at {name}={key}")

    return price


#: Seedance 1.5 Pro: (resolution, duration seconds) -> (no audio, with audio).
SEEDANCE_PRICES: dict[tuple[str, str], tuple[float, float]] = {
    ("480p", "4"): (2, 3), ("480p", "8"): (3, 6), ("480p", "12"): (4, 8),
    ("720p", "4"): (3, 6), ("720p", "8"): (6, 12), ("720p", "12"): (9, 18),
    ("1080p", "4"): (6, 12), ("1080p", "8"): (12, 23), ("1080p", "12"): (18, 35),
}


def _seedance_price(params: Mapping[str, Any], facts: Mapping[str, float]) -> Estimate:
    res = params.get("resolution") or "720p"
    dur = str(params.get("duration") or "8")
    audio = bool(params.get("generate_audio"))
    credits = SEEDANCE_PRICES[(res, dur)][1 if audio else 0]
    return Estimate(credits, True, f"{res}, {dur} s, {'with' if audio else 'no'} audio")


KLING_PER_SECOND = {"720p": 1.21, "1080p": 1.82}
KLING_MAX_SECONDS = {"image": 10.0, "video": 30.0}


def kling_output_seconds(params: Mapping[str, Any], motion_seconds: float | None) -> float:
    cap = KLING_MAX_SECONDS[params.get("character_orientation") or "video"]
    return cap if motion_seconds is None else min(cap, max(1.0, math.ceil(motion_seconds)))


def _kling_price(params: Mapping[str, Any], facts: Mapping[str, float]) -> Estimate:
    mode = params.get("mode") or "720p"
    secs = facts.get("media_seconds")
    out = kling_output_seconds(params, secs)
    credits = round(KLING_PER_SECOND[mode] * out, 2)
    exact = secs is not None
    basis = f"{KLING_PER_SECOND[mode]:g}/s at {mode} x {out:g} s" + ("" if exact else " (at most)")
    return Estimate(credits, exact, basis)


def tts_credits(chars: int) -> float:
    """[decision] 0.01 credits per started 100 characters, at least 0.01."""
    return round(max(1, math.ceil(chars / 100)) * 0.01, 2)


def _tts_price(params: Mapping[str, Any], facts: Mapping[str, float]) -> Estimate:
    n = len(params.get("prompt") or "")
    return Estimate(tts_credits(n), True, f"{n} characters at 0.01 per 100")


def subtitle_credits(seconds: float) -> float:
    """[decision] 0.17 per minute of media, prorated by the second, at least 0.07."""
    return round(max(0.07, 0.17 * seconds / 60.0), 2)


def _subtitle_price(params: Mapping[str, Any], facts: Mapping[str, float]) -> Estimate:
    secs = facts.get("media_seconds")
    if secs is None:
        return Estimate(0.17, False, "0.17 per minute of media, at least 0.07 (assuming 1 minute)")
    return Estimate(subtitle_credits(secs), True, f"{secs:g} s of media at 0.17 per minute")


def download_credits(size_mb: float) -> float:
    """[decision] 0.5 per started 10 MB, at least 0.5."""
    return 0.5 * max(1, math.ceil(size_mb / 10.0))


def _download_price(params: Mapping[str, Any], facts: Mapping[str, float]) -> Estimate:
    mb = facts.get("size_mb")
    if mb is None:
        return Estimate(0.5, False, "0.5 per started 10 MB (at least 0.5)")
    return Estimate(download_credits(mb), True, f"{mb:g} MB at 0.5 per started 10 MB")


# ---------------------------------------------------------------- durations

def _secs(base: float) -> SecondsFn:
    return lambda params: base


def _nano_secs(params: Mapping[str, Any]) -> float:
    return 20.0 * {"1K": 1.0, "2K": 1.5, "4K": 2.0}[params.get("resolution") or "1K"]


def _seedance_secs(params: Mapping[str, Any]) -> float:
    return {"480p": 60.0, "720p": 100.0, "1080p": 150.0}[params.get("resolution") or "720p"]


def _veo_secs(params: Mapping[str, Any]) -> float:
    return 300.0 if params.get("model") == "veo3" else 120.0


# ---------------------------------------------------------------- services

ASPECT_5 = ("1:1", "4:3", "3:4", "16:9", "9:16")
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
#: [decision] 1K 1, 2K 2, 4K 4 (live: about 1 credit per image at 1K, 2 at 2K)
_GPT_IMAGE_PRICE = _by_param("resolution", {"1K": 1.0, "2K": 2.0, "4K": 4.0}, "1K")


def _gpt_image_secs(params: Mapping[str, Any]) -> float:
    """Live: 5-15 s per image."""
    return {"1K": 8.0, "2K": 12.0, "4K": 16.0}[params.get("resolution") or "1K"]


def _prompt(max_length: int, min_length: int = 1, required: bool = True) -> Param:
    return Param("prompt", "str", required=required, min_length=min_length if required else None,
                 max_length=max_length, help="What to make")


SERVICES: dict[str, Service] = {s.name: s for s in (
    Service(
        "text-to-image", "Z-Image", "image", "generate",
        (_prompt(1000), Param("aspect_ratio", choices=ASPECT_5, default="1:1")),
        _flat(1.0), _secs(10), ("image_url",), "upper5", history="/text-to-image/history",
        aliases=("image", "z-image"), summary="Fast text-to-image",
    ),
    Service(
        "seedream", "Seedream 5.0", "image", "create",
        (_prompt(2995),
         Param("image_urls", "list", max_items=1, media="image", help="One image for image-to-image"),
         Param("aspect_ratio", choices=ASPECT_5 + ("2:3", "3:2", "21:9"), default="1:1"),
         Param("quality", choices=("basic", "high"), default="basic")),
        _flat(1.5, "1.5 credits, charged on completion"), _secs(15), ("image_url",), "lower",
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
        _by_param("resolution", {"1K": 2.0, "2K": 3.0, "4K": 4.0}, "1K"), _nano_secs,
        ("image_url", "image_urls"), "lower", aliases=("nano-banana-2",), summary="Gemini image model",
    ),
    Service(
        "gpt-image-2-text-to-image", "GPT Image 2", "image", "create",
        (_prompt(32000), *_GPT_IMAGE_PARAMS),
        _GPT_IMAGE_PRICE, _gpt_image_secs, ("image_url",), "lower", rules=_GPT_IMAGE_RULES,
        aliases=("gpt-image-2", "gpt-image"), summary="OpenAI GPT Image 2 (live API)",
    ),
    Service(
        "gpt-image-2-image-to-image", "GPT Image 2 edit", "image", "create",
        (_prompt(32000),
         Param("input_urls", "list", required=True, min_items=1, max_items=5, media="image", http_only=True,
               help="1-5 images (JPEG/PNG/WEBP, at most 30 MB): public URLs or local files"),
         *_GPT_IMAGE_PARAMS),
        _GPT_IMAGE_PRICE, _gpt_image_secs, ("image_url",), "lower", rules=_GPT_IMAGE_RULES,
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
        _flat(0.5), _secs(8), ("video_url",), "lower", aliases=("ken-burns",),
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
        _flat(8.0), _secs(180), ("video_url",), "lower", cancel=True, aliases=("sora2-i2v",),
        summary="Sora 2 from images",
    ),
    Service(
        "sora2-text-to-video", "Sora 2", "video", "create",
        (_prompt(2000),
         Param("aspect_ratio", choices=("landscape", "portrait"), default="landscape"),
         Param("n_frames", choices=("10", "15"), default="10", help="Seconds, as text"),
         Param("remove_watermark", "bool", default=True)),
        _flat(8.0), _secs(180), ("video_url",), "lower", cancel=True, aliases=("video", "sora2"),
        summary="Sora 2 text-to-video",
    ),
    Service(
        "sora2-character", "Sora 2 character", "character", "create",
        (Param("character_file_url", required=True, min_length=1, media="video",
               help="mp4/mov/webm/m4v/avi, 1-4 s, at most 100 MB"),
         Param("character_prompt", max_length=5000),
         Param("safety_instruction", max_length=5000)),
        _flat(0.5), _secs(30), ("character_id",), "lower", cancel=True,
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
        _seedance_price, _seedance_secs, ("video_url", "audio_url"), "lower", cancel=True,
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
        _kling_price, _secs(90), ("video_url",), "lower", cancel=True, aliases=("kling",),
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
        _by_param("model", {"veo3_fast": 15.0, "veo3": 50.0}, "veo3_fast"), _veo_secs,
        ("video_url", "origin_url", "resolution"), "lower", cancel=True, aliases=("veo", "veo3"),
        summary="Google Veo 3.1",
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
        _flat(3.0, "3 credits for two tracks"), _secs(90), ("audio_url", "audio_urls"), "upper5",
        history="/text-to-music/history", aliases=("music", "suno"), summary="Two song takes",
    ),
    Service(
        "text-to-speech", "Gemini TTS", "speech", "generate",
        (_prompt(500000),
         Param("voice", choices=tuple(v for v, _ in VOICES), default="Zephyr"),
         Param("slow", "bool", default=False),
         Param("language", choices=("en", "th", "ja", "zh-CN", "ko"), nullable=True)),
        _tts_price, _secs(6), ("audio_url",), "upper4", history="/text-to-speech/history",
        extra_endpoints=("/text-to-speech/voices",), aliases=("speech", "tts"),
        summary="Speech from text",
    ),
    Service(
        "thai-subtitle", "Whisper + FFmpeg", "video", "generate",
        (Param("media_url", required=True, min_length=1, media="video", help="mp4/mov/webm"),
         Param("script", max_length=10000),
         Param("animation", choices=("none", "word_pop_fade"), default="none"),
         Param("timing_offset_ms", "int", default=0, minimum=-300, maximum=300)),
        _subtitle_price, _secs(30), ("video_url",), "upper4", aliases=("subtitle", "subtitles"),
        summary="Burn Thai subtitles into a video",
    ),
    Service(
        "video-download", "yt-dlp", "download", "create",
        (Param("url", required=True, min_length=1, help="A page on a supported platform"),
         Param("format", choices=("mp4", "mp3", "best"), default="mp4"),
         Param("quality", choices=("best", "720p", "480p", "360p", "audio"), default="best")),
        _download_price, _secs(15), ("download_url",), "lower",
        extra_endpoints=("/video-download/supported-platforms",), aliases=("download",),
        summary="Fetch a video or its audio",
    ),
)}

def _utility(name: str, label: str, media: MediaKind, params: tuple[Param, ...], seconds: float,
             result_fields: tuple[str, ...], alias: str, summary: str) -> Service:
    """A media utility: created at ``/media/<name>``, polled at ``/media/status/{id}``, free."""
    return Service(f"media/{name}", label, media, "create", params, _flat(0.0, "free"), _secs(seconds),
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

# ---------------------------------------------------------------- chat


@dataclass(frozen=True)
class ChatModel:
    """A chat model and its price in credits (THB) per million tokens, as Phaya lists it."""

    id: str
    name: str
    context_length: int
    prompt_per_million: float
    completion_per_million: float

    @property
    def prompt_per_1k(self) -> float:
        return self.prompt_per_million / 1000

    @property
    def completion_per_1k(self) -> float:
        return self.completion_per_million / 1000

    @property
    def price_text(self) -> str:
        return f"{self.prompt_per_million:.2f} / {self.completion_per_million:.2f} per million tokens (prompt / reply)"


#: Chat models and prices, credits per million tokens. phaya-gpt: the live price (contract,
#: "The live API": ฿10.50 / ฿87.50); the others are [decision] sandbox models.
CHAT_MODELS: dict[str, ChatModel] = {m.id: m for m in (
    ChatModel("phaya-gpt", "Phaya-GPT", 128000, 10.5, 87.5),
    ChatModel("openai/gpt-4o-mini", "GPT-4o mini", 128000, 0.6, 2.4),
    ChatModel("anthropic/claude-3.5-haiku", "Claude 3.5 Haiku", 200000, 3.0, 15.0),
    ChatModel("google/gemini-2.0-flash", "Gemini 2.0 Flash", 1000000, 0.4, 1.6),
)}
DEFAULT_CHAT_MODEL = "phaya-gpt"
#: Embedding models and credits per million input tokens (live: ฿2.80 per million).
EMBEDDING_MODELS: dict[str, float] = {"qwen/qwen3-embedding-8b": 2.8}
#: What the live API calls its embedding model in answers.
EMBEDDING_LABEL = "Phaya Text Embedding"
#: Live embeddings have 4096 dimensions, one vector per input.
EMBEDDING_DIMENSIONS = 4096
CHAT_PARAMS: tuple[Param, ...] = (
    Param("messages", "list", required=True, min_items=1),
    Param("model", nullable=True),
    Param("temperature", "float", default=0.7, minimum=0, maximum=2),
    Param("max_tokens", "int", minimum=1, maximum=32000, nullable=True),
    Param("stream", "bool", default=False),
    Param("web_search", "bool", default=False),
)


def _half_up(millionths: float, places: int) -> float:
    """Credits from millionths of a credit, rounded half up as the live API does (0.0004655 -> 0.000466)."""
    from decimal import ROUND_HALF_UP, Decimal

    d = Decimal(repr(round(millionths, 6))) / Decimal(1_000_000)
    return float(d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def chat_credits(model: str | None, prompt_tokens: int, completion_tokens: int) -> float:
    """A chat call's price: 11 + 4 tokens on phaya-gpt = 0.000466 credits (live)."""
    m = CHAT_MODELS.get(model or DEFAULT_CHAT_MODEL, CHAT_MODELS[DEFAULT_CHAT_MODEL])
    return _half_up(prompt_tokens * m.prompt_per_million + completion_tokens * m.completion_per_million, 6)


def embedding_credits(model: str | None, tokens: int) -> float:
    """An embedding call's price: 6 tokens = 1.68e-05 credits (live)."""
    per_million = EMBEDDING_MODELS.get(model or "", next(iter(EMBEDDING_MODELS.values())))
    return _half_up(tokens * per_million, 8)


# ---------------------------------------------------------------- lookup and validation


@dataclass(frozen=True)
class ParamProblem:
    field: str
    message: str
    allowed: str = ""

    def __str__(self) -> str:
        tail = f" (allowed: {self.allowed})" if self.allowed else ""
        return f"{self.field}: {self.message}{tail}"


class ParamError(ValueError):
    """Bad input caught before any request: names each field and what it accepts."""

    def __init__(self, service: str, problems: list[ParamProblem]):
        self.service = service
        self.problems = problems
        lines = "; ".join(str(p) for p in problems)
        super().__init__(f"{service}: {lines}")

    @property
    def field(self) -> str:
        return self.problems[0].field if self.problems else ""

    @property
    def allowed(self) -> str:
        return self.problems[0].allowed if self.problems else ""


_ALL: dict[str, Service] = {**SERVICES, **MEDIA_JOBS}
_ALIASES: dict[str, str] = {a: s.name for s in _ALL.values() for a in s.aliases}


def service_names() -> tuple[str, ...]:
    return tuple(SERVICES)


def resolve_service(name: str) -> Service:
    """A service by its path name or a friendly alias; a clear error otherwise."""
    key = (name or "").strip().strip("/").lower()
    if key in _ALL:
        return _ALL[key]
    if key in _ALIASES:
        return _ALL[_ALIASES[key]]
    raise ParamError("service", [ParamProblem(
        "service", f"unknown service {name!r}", ", ".join(list(SERVICES) + list(MEDIA_JOBS)))])


get_service = resolve_service


def _check(p: Param, value: Any, path: str, problems: list[ParamProblem]) -> Any:
    """Check one value; returns it coerced to the wire type (e.g. 10 -> "10" for a string enum)."""
    if value is None:
        if p.required:
            problems.append(ParamProblem(path, "is required", p.allowed()))
        elif not p.nullable and p.default is not None:
            problems.append(ParamProblem(path, "must not be None", p.allowed()))
        return value
    if p.choices is not None:
        choices = p.choices
        if value not in choices and isinstance(value, (int, float)) and not isinstance(value, bool):
            as_text = str(int(value)) if float(value).is_integer() else str(value)
            if as_text in choices:
                value = as_text
        if value not in choices and isinstance(value, str):
            folded = {str(c).lower(): c for c in choices}
            value = folded.get(value.lower(), value)
        if value not in choices:
            problems.append(ParamProblem(path, f"{value!r} is not allowed", p.allowed()))
        return value
    if p.type == "bool":
        if not isinstance(value, bool):
            problems.append(ParamProblem(path, f"{value!r} is not a boolean", p.allowed()))
        return value
    if p.type in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(ParamProblem(path, f"{value!r} is not a number", p.allowed()))
            return value
        if p.type == "int" and not float(value).is_integer():
            problems.append(ParamProblem(path, f"{value!r} is not an integer", p.allowed()))
            return value
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            problems.append(ParamProblem(path, f"{value!r} is not a finite number", p.allowed()))
            return value
        if (p.minimum is not None and value < p.minimum) or (p.maximum is not None and value > p.maximum):
            problems.append(ParamProblem(path, f"{value!r} is out of range", p.allowed()))
        return int(value) if p.type == "int" else float(value)
    if p.type == "str":
        if not isinstance(value, str):
            problems.append(ParamProblem(path, f"{type(value).__name__} is not text", p.allowed()))
            return value
        n = len(value)
        if p.required and not value.strip():
            problems.append(ParamProblem(path, "must not be empty", p.allowed()))
        elif (p.min_length is not None and n < p.min_length) or (p.max_length is not None and n > p.max_length):
            problems.append(ParamProblem(path, f"has {n} characters", p.allowed()))
        return value
    if p.type == "list":
        if isinstance(value, str):
            value = [value]
        is_list = isinstance(value, (list, tuple))
        if not is_list or (p.name != "messages" and not all(isinstance(v, str) for v in value)):
            problems.append(ParamProblem(path, "is not a list of strings", p.allowed()))
            return value
        n = len(value)
        if (p.min_items is not None and n < p.min_items) or (p.max_items is not None and n > p.max_items):
            problems.append(ParamProblem(path, f"has {n} items", p.allowed()))
        return list(value)
    if p.type == "object":
        if not isinstance(value, Mapping):
            problems.append(ParamProblem(path, f"{type(value).__name__} is not an object", p.allowed()))
            return value
        known = {f.name: f for f in p.fields}
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k not in known:
                problems.append(ParamProblem(f"{path}.{k}", "is not a field", ", ".join(known)))
                continue
            out[k] = _check(known[k], v, f"{path}.{k}", problems)
        return out
    return value


def validate(service: str | Service, params: Mapping[str, Any] | None = None, *,
             local_files: bool = True) -> dict[str, Any]:
    """Check params against the catalog and return the body to send.

    Only the fields the caller gave are sent (the server applies its defaults);
    values are coerced to the wire type. Raises ParamError listing every problem,
    each with the field name and the allowed values. ``local_files``: an ``http_only``
    field may name an existing local file (the client uploads it); a server says False.
    """
    svc = service if isinstance(service, Service) else resolve_service(service)
    params = dict(params or {})
    problems: list[ParamProblem] = []
    known = {p.name: p for p in svc.params}
    body: dict[str, Any] = {}
    for name, value in params.items():
        if name not in known:
            problems.append(ParamProblem(name, f"is not a parameter of {svc.name}", svc.param_names()))
            continue
        checked = _check(known[name], value, name, problems)
        if checked is not None or known[name].nullable:
            body[name] = checked
    for p in svc.params:
        if p.required and p.name not in params:
            problems.append(ParamProblem(p.name, "is required", p.allowed()))
    _cross_checks(svc, body, problems)
    _url_checks(svc, body, problems, local_files)
    if svc.rules and not problems:
        full = {p.name: p.default for p in svc.params if p.default is not None}
        full.update(body)
        for rule in svc.rules:
            if rule.broken_by(full):
                def how(f: str) -> str:
                    return f"{f}={full[f]!r}" + ("" if f in body else " (the default)")

                problems.append(ParamProblem(
                    rule.field, f"{how(rule.field)} is not allowed with {how(rule.other)}",
                    _rule_allowed(svc, rule, full)))
    if problems:
        raise ParamError(svc.name, problems)
    return body


def _url_checks(svc: Service, body: Mapping[str, Any], problems: list[ParamProblem], local_files: bool) -> None:
    """``http_only`` fields: public http(s) URLs (live: a file upload is not accepted), or local files."""
    import os

    for p in svc.params:
        values = body.get(p.name) if p.http_only else None
        for i, v in enumerate(values if isinstance(values, list) else []):
            if not isinstance(v, str) or v.startswith(("http://", "https://")):
                continue
            if local_files and os.path.isfile(os.path.expanduser(v)):
                continue
            problems.append(ParamProblem(f"{p.name}[{i}]", f"{v!r} is not an http(s) URL or an existing file",
                                         "public http(s) URLs" + (", or paths of local image files"
                                                                  if local_files else "")))


def _rule_allowed(svc: Service, rule: Rule, full: Mapping[str, Any]) -> str:
    """What would pass: the rule itself, and the values of ``field`` allowed at this ``other``."""
    other = full[rule.other]
    choices = svc.param(rule.field).choices or ()
    ok = [c for c in choices if not any(r.broken_by({**full, rule.field: c}) for r in svc.rules)]
    return f"{rule.text()}; with {rule.other}={other!r}, {rule.field} one of " + ", ".join(map(repr, ok))


def _cross_checks(svc: Service, body: dict[str, Any], problems: list[ParamProblem]) -> None:
    """Rules that span fields."""
    if svc.name == "veo31-video":
        gt = body.get("generation_type")
        urls = body.get("image_urls")
        n = len(urls) if isinstance(urls, list) else 0  # a non-list is already reported
        if gt == "FIRST_AND_LAST_FRAMES_2_VIDEO" and n not in (1, 2):
            problems.append(ParamProblem("image_urls", f"has {n} items for {gt}", "1 or 2 image URLs"))
        if gt == "REFERENCE_2_VIDEO" and n < 1:
            problems.append(ParamProblem("image_urls", f"has {n} items for {gt}", "1 to 3 image URLs"))


def with_defaults(service: str | Service, params: Mapping[str, Any] | None = None, *,
                  local_files: bool = True) -> dict[str, Any]:
    """The params as the server will see them: validated, with every default filled in."""
    svc = service if isinstance(service, Service) else resolve_service(service)
    body = validate(svc, params, local_files=local_files)
    full = {p.name: p.default for p in svc.params if p.default is not None}
    full.update(body)
    return full


def estimate(service: str | Service, params: Mapping[str, Any] | None = None,
             facts: Mapping[str, float] | None = None) -> Estimate:
    """The price of one job before it runs (validates first: a bad body has no price)."""
    svc = service if isinstance(service, Service) else resolve_service(service)
    return svc.price(with_defaults(svc, params), dict(facts or {}))


def typical_seconds(service: str | Service, params: Mapping[str, Any] | None = None) -> float:
    svc = service if isinstance(service, Service) else resolve_service(service)
    full = {p.name: p.default for p in svc.params if p.default is not None}
    full.update({k: v for k, v in (params or {}).items() if v is not None})
    try:
        return svc.typical_seconds(full)
    except KeyError:
        return svc.typical_seconds({})

