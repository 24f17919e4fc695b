"""What each service makes: parameters in, hosted files (result fields) out.

Runs in a worker thread. Each producer returns the service's result fields, with URLs
as ``/files/...`` paths the app turns into absolute URLs for the asking host. When a
URL parameter points at a file this sandbox hosts, the producer uses that file (so
image-to-video animates the given picture); any other URL is turned into a picture of
its own text, since the sandbox never leaves the machine.

One module per kind: ``context`` (what a producer may use), ``images``, ``videos``,
``sound``, ``utilities``; this file holds the service -> producer table and ``price_facts``.
"""

from __future__ import annotations

from typing import Any

from .context import Context, Producer
from .images import IMAGE_LONG_SIDE, gpt_image, nano_banana, seedream, text_to_image
from .sound import MUSIC_SECONDS, text_to_music, text_to_speech
from .utilities import (
    extract_last_frame,
    merge_audio,
    merge_audio_video,
    merge_video,
    overlay_gif,
    transcribe,
)
from .videos import (
    VIDEO_ASPECT,
    image_to_video,
    kling,
    seedance,
    sora2_character,
    sora2_text_to_video,
    sora2_video,
    thai_subtitle,
    veo,
    video_download,
)

__all__ = ["IMAGE_LONG_SIDE", "MUSIC_SECONDS", "PRODUCERS", "VIDEO_ASPECT", "Context", "Producer", "price_facts"]

PRODUCERS: dict[str, Producer] = {
    "text-to-image": text_to_image, "seedream": seedream, "nano-banana": nano_banana,
    "gpt-image-2-text-to-image": gpt_image, "gpt-image-2-image-to-image": gpt_image,
    "image-to-video": image_to_video, "sora2-video": sora2_video, "sora2-text-to-video": sora2_text_to_video,
    "sora2-character": sora2_character, "seedance-video": seedance, "kling-motion-control": kling,
    "veo31-video": veo, "text-to-music": text_to_music, "text-to-speech": text_to_speech,
    "thai-subtitle": thai_subtitle, "video-download": video_download, "media/merge-video": merge_video,
    "media/extract-last-frame": extract_last_frame, "media/merge-audio-video": merge_audio_video,
    "media/merge-audio": merge_audio, "media/overlay-gif": overlay_gif, "media/transcribe": transcribe,
}


def price_facts(ctx: Context, service: str, p: dict[str, Any]) -> dict[str, float]:
    """Facts the catalog's price formulas need, read from hosted media when known."""
    facts: dict[str, float] = {}
    if service == "kling-motion-control":
        secs = ctx.seconds_of((p.get("video_urls") or [None])[0])
    elif service == "thai-subtitle":
        secs = ctx.seconds_of(p.get("media_url"))
    else:
        return facts
    if secs is not None:
        facts["media_seconds"] = secs
    return facts
