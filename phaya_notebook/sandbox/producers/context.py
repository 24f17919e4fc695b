"""What a producer may use (``Context``: the file store and video settings) and the shared video helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from .. import audio, media
from ..config import SandboxConfig
from ..files import FileStore, HostedFile

Producer = Callable[["Context", dict[str, Any]], dict[str, Any]]


class Context:
    """What a producer may use: the file store and the video settings."""

    def __init__(self, files: FileStore, config: SandboxConfig):
        self.files, self.config = files, config

    # -- inputs

    def hosted(self, url: Any) -> HostedFile | None:
        return self.files.from_url(url)

    def image_from(self, url: Any) -> Image.Image | None:
        rec = self.hosted(url)
        return media.load_image(rec.path) if rec is not None else None

    def seconds_of(self, url: Any) -> float | None:
        rec = self.hosted(url)
        if rec is None:
            return None
        if "seconds" not in rec.meta:
            rec.meta.update(media.probe(rec.path))
        secs = rec.meta.get("seconds")
        return float(secs) if secs else None

    # -- outputs

    def image(self, img: Image.Image, fmt: str, stem: str) -> HostedFile:
        ext = "jpg" if fmt in ("jpg", "jpeg") else "png"
        mime = "image/jpeg" if ext == "jpg" else "image/png"
        return self.files.add_bytes(media.encode_image(img, ext), f"{stem}.{ext}", mime,
                                    width=img.width, height=img.height)

    def video(self, frames_for: Callable[[tuple[int, int], int], Any], aspect: str, seconds: float,
              stem: str, soundtrack: Path | None = None) -> HostedFile:
        size = media.video_size(aspect, self.config.video_max_side)
        fps = self.config.video_fps
        token, path = self.files.reserve(f"{stem}.mp4")
        media.encode_video(frames_for(size, fps), size, fps, path, audio=soundtrack)
        return self.files.register(token, path, "video/mp4", seconds=float(seconds),
                                   width=size[0], height=size[1])

    def sound(self, data: bytes, name: str, mime: str, seconds: float, **meta: Any) -> HostedFile:
        return self.files.add_bytes(data, name, mime, seconds=seconds, **meta)

    def sound_from(self, url: Any, label: str, seconds: float = 4.0) -> HostedFile:
        """A hosted audio file, or (for a URL the sandbox never made) a short tune named after it."""
        rec = self.hosted(url)
        if rec is not None:
            return rec
        return self.sound(audio.to_mp3(audio.wav_bytes(audio.song(str(url), seconds))), f"{label}.mp3",
                          "audio/mpeg", seconds)


def aspect_of(img: Image.Image | None, default: str) -> str:
    return f"{img.width}:{img.height}" if img is not None else default


def scene_or_image(ctx: Context, prompt: str, image_url: Any, aspect: str | None, seconds: float,
                    stem: str, zoom: dict[str, Any] | None = None, soundtrack: Path | None = None) -> HostedFile:
    """A video of the given image (animated) when it is hosted here, else of the prompt."""
    img = ctx.image_from(image_url)
    if img is not None:
        z = zoom if zoom is not None else {"mode": "center", "speed": 0.004, "max_scale": 1.4}
        return ctx.video(lambda size, fps: media.ken_burns(img, size, seconds, fps, z, overlay=None),
                         aspect or aspect_of(img, "16:9"), seconds, stem, soundtrack)
    return ctx.video(lambda size, fps: media.scene(prompt, size, seconds, fps), aspect or "16:9", seconds, stem,
                     soundtrack)
