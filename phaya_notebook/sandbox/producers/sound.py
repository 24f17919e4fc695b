"""Sound producers: music (Suno-style takes) and speech."""

from __future__ import annotations

from typing import Any

from .. import audio
from .context import Context

MUSIC_SECONDS = 20.0


def text_to_music(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    label = " ".join(str(p.get(k) or "") for k in ("prompt", "style", "title"))
    urls = []
    for take in range(2):
        data = audio.to_mp3(audio.wav_bytes(audio.song(label, MUSIC_SECONDS, take)))
        urls.append(ctx.sound(data, f"suno-take{take + 1}.mp3", "audio/mpeg", MUSIC_SECONDS).url_path)
    return {"audio_url": urls[0], "audio_urls": urls}


def text_to_speech(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    data = audio.speech(p["prompt"], p.get("voice") or "Zephyr", bool(p.get("slow")), p.get("language"))
    # what was said travels with the file, so media/transcribe can give it back
    return {"audio_url": ctx.sound(data, "speech.wav", "audio/wav", 0.0, spoken=str(p["prompt"]),
                                   language=p.get("language")).url_path}
