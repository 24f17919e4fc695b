"""Price and duration formulas: what a job costs before it runs and about how long it takes.

Each service row in ``services.py`` names one price function ``(params, facts) -> Estimate``
(``facts`` are what only the media can tell, e.g. ``media_seconds`` or ``size_mb``) and one
duration function ``params -> seconds``. The arithmetic behind them (``tts_credits``,
``subtitle_credits`` ...) is public so the sandbox charges with the very same numbers.
Lines marked [decision] are decisions in ``shared/phaya-api.md`` too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .model import Estimate, PriceFn, SecondsFn

__all__ = [
    "GPT_IMAGE_PRICE",
    "KLING_MAX_SECONDS",
    "KLING_PER_SECOND",
    "SEEDANCE_PRICES",
    "by_param",
    "credits_text",
    "download_credits",
    "download_price",
    "fixed_seconds",
    "flat",
    "gpt_image_seconds",
    "half_up",
    "kling_output_seconds",
    "kling_price",
    "nano_banana_seconds",
    "seedance_price",
    "seedance_seconds",
    "subtitle_credits",
    "subtitle_price",
    "tts_credits",
    "tts_price",
    "veo_seconds",
]


# ---------------------------------------------------------------- per job

def credits_text(amount: float | None) -> str:
    """"1 credit", "2 credits", "0.5 credits", "? credits": the one way every label says it."""
    if amount is None:
        return "? credits"
    value = float(amount)
    return f"{value:g} credit" + ("" if value == 1 else "s")


def flat(credits: float, basis: str = "") -> PriceFn:
    """The same price whatever the params (``basis`` says why, e.g. "charged on completion")."""
    def price(params: Mapping[str, Any], facts: Mapping[str, float]) -> Estimate:
        return Estimate(credits, True, basis or f"{credits_text(credits)} per job")

    return price


def by_param(name: str, table: Mapping[Any, float], default: Any) -> PriceFn:
    """A price looked up by one param's value (``default`` when the param is not given)."""
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


def seedance_price(params: Mapping[str, Any], facts: Mapping[str, float]) -> Estimate:
    res = params.get("resolution") or "720p"
    dur = str(params.get("duration") or "8")
    audio = bool(params.get("generate_audio"))
    credits = SEEDANCE_PRICES[(res, dur)][1 if audio else 0]
    return Estimate(credits, True, f"{res}, {dur} s, {'with' if audio else 'no'} audio")


KLING_PER_SECOND = {"720p": 1.21, "1080p": 1.82}
KLING_MAX_SECONDS = {"image": 10.0, "video": 30.0}


def kling_output_seconds(params: Mapping[str, Any], motion_seconds: float | None) -> float:
    """Seconds Kling renders and charges: the motion video's, rounded up, capped per orientation (the cap if unknown)."""
    cap = KLING_MAX_SECONDS[params.get("character_orientation") or "video"]
    return cap if motion_seconds is None else min(cap, max(1.0, math.ceil(motion_seconds)))


def kling_price(params: Mapping[str, Any], facts: Mapping[str, float]) -> Estimate:
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


def tts_price(params: Mapping[str, Any], facts: Mapping[str, float]) -> Estimate:
    n = len(params.get("prompt") or "")
    return Estimate(tts_credits(n), True, f"{n} characters at 0.01 per 100")


def subtitle_credits(seconds: float) -> float:
    """[decision] 0.17 per minute of media, prorated by the second, at least 0.07."""
    return round(max(0.07, 0.17 * seconds / 60.0), 2)


def subtitle_price(params: Mapping[str, Any], facts: Mapping[str, float]) -> Estimate:
    secs = facts.get("media_seconds")
    if secs is None:
        return Estimate(0.17, False, "0.17 per minute of media, at least 0.07 (assuming 1 minute)")
    return Estimate(subtitle_credits(secs), True, f"{secs:g} s of media at 0.17 per minute")


def download_credits(size_mb: float) -> float:
    """[decision] 0.5 per started 10 MB, at least 0.5."""
    return 0.5 * max(1, math.ceil(size_mb / 10.0))


def download_price(params: Mapping[str, Any], facts: Mapping[str, float]) -> Estimate:
    mb = facts.get("size_mb")
    if mb is None:
        return Estimate(0.5, False, "0.5 per started 10 MB (at least 0.5)")
    return Estimate(download_credits(mb), True, f"{mb:g} MB at 0.5 per started 10 MB")


# ---------------------------------------------------------------- durations

def fixed_seconds(base: float) -> SecondsFn:
    """About ``base`` seconds whatever the params."""
    return lambda params: base


def nano_banana_seconds(params: Mapping[str, Any]) -> float:
    return 20.0 * {"1K": 1.0, "2K": 1.5, "4K": 2.0}[params.get("resolution") or "1K"]


def seedance_seconds(params: Mapping[str, Any]) -> float:
    return {"480p": 60.0, "720p": 100.0, "1080p": 150.0}[params.get("resolution") or "720p"]


def veo_seconds(params: Mapping[str, Any]) -> float:
    return 300.0 if params.get("model") == "veo3" else 120.0


def gpt_image_seconds(params: Mapping[str, Any]) -> float:
    """Live: 5-15 s per image."""
    return {"1K": 8.0, "2K": 12.0, "4K": 16.0}[params.get("resolution") or "1K"]


#: GPT Image 2 [decision] 1K 1, 2K 2, 4K 4 (live: about 1 credit per image at 1K, 2 at 2K)
GPT_IMAGE_PRICE = by_param("resolution", {"1K": 1.0, "2K": 2.0, "4K": 4.0}, "1K")


# ---------------------------------------------------------------- tokens

def half_up(millionths: float, places: int) -> float:
    """Credits from millionths of a credit, rounded half up as the live API does (0.0004655 -> 0.000466)."""
    from decimal import ROUND_HALF_UP, Decimal

    d = Decimal(repr(round(millionths, 6))) / Decimal(1_000_000)
    return float(d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))
