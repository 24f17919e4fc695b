"""What each service makes: parameters in, hosted files (result fields) out.

Runs in a worker thread. Each producer returns the service's result fields, with URLs
as ``/files/...`` paths the app turns into absolute URLs for the asking host. When a
URL parameter points at a file this sandbox hosts, the producer uses that file (so
image-to-video animates the given picture); any other URL is turned into a picture of
its own text, since the sandbox never leaves the machine.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from . import audio, media
from .config import SandboxConfig
from .files import FileStore, HostedFile

IMAGE_LONG_SIDE = {"1K": 1024, "2K": 2048, "4K": 4096}
VIDEO_ASPECT = {"landscape": "16:9", "portrait": "9:16", "square": "1:1", "Auto": "16:9"}
MUSIC_SECONDS = 20.0
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


def _aspect_of(img: Image.Image | None, default: str) -> str:
    return f"{img.width}:{img.height}" if img is not None else default


def _scene_or_image(ctx: Context, prompt: str, image_url: Any, aspect: str | None, seconds: float,
                    stem: str, zoom: dict[str, Any] | None = None, soundtrack: Path | None = None) -> HostedFile:
    """A video of the given image (animated) when it is hosted here, else of the prompt."""
    img = ctx.image_from(image_url)
    if img is not None:
        z = zoom if zoom is not None else {"mode": "center", "speed": 0.004, "max_scale": 1.4}
        return ctx.video(lambda size, fps: media.ken_burns(img, size, seconds, fps, z, overlay=None),
                         aspect or _aspect_of(img, "16:9"), seconds, stem, soundtrack)
    return ctx.video(lambda size, fps: media.scene(prompt, size, seconds, fps), aspect or "16:9", seconds, stem,
                     soundtrack)


# ---------------------------------------------------------------- images


def text_to_image(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    img = media.picture(p["prompt"], media.dims(p.get("aspect_ratio") or "1:1", 1024), model="z-image")
    return {"image_url": ctx.image(img, "png", "z-image").url_path}


def seedream(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    long_side = 2048 if p.get("quality") == "high" else 1024
    size = media.dims(p.get("aspect_ratio") or "1:1", long_side)
    img = media.picture(p["prompt"], size, model="seedream")
    src = ctx.image_from((p.get("image_urls") or [None])[0])
    if src is not None:
        img = Image.blend(media._cover(src, size), img, 0.35)
        media.caption(img, p["prompt"], "bottom")
    return {"image_url": ctx.image(img, "png", "seedream").url_path}


def nano_banana(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    refs = p.get("image_input") or []
    first = ctx.image_from(refs[0]) if refs else None
    aspect = p.get("aspect_ratio") or "1:1"
    if aspect == "auto":
        aspect = _aspect_of(first, "1:1")
    img = media.picture(p["prompt"], media.dims(aspect, IMAGE_LONG_SIDE[p.get("resolution") or "1K"]),
                      model="nano-banana")
    rec = ctx.image(img, p.get("output_format") or "jpg", "nano-banana")
    return {"image_url": rec.url_path, "image_urls": [rec.url_path]}


def gpt_image(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    """GPT Image 2, text or images in: PNG at the asked resolution (an edit blends the first input)."""
    refs = p.get("input_urls") or []
    first = ctx.image_from(refs[0]) if refs else None
    aspect = p.get("aspect_ratio") or "1:1"
    if aspect == "auto":
        aspect = _aspect_of(first, "1:1")
    size = media.dims(aspect, IMAGE_LONG_SIDE[p.get("resolution") or "1K"])
    img = media.picture(p["prompt"], size, model="gpt-image-2")
    if first is not None:
        img = Image.blend(media._cover(first, size), img, 0.4)
        media.caption(img, p["prompt"], "bottom")
    return {"image_url": ctx.image(img, "png", "gpt-image-2").url_path}


# ---------------------------------------------------------------- videos


def image_to_video(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    seconds = float(p.get("duration") or 5)
    music = ctx.hosted(p.get("music_url"))
    img = ctx.image_from(p["image_url"]) or media.picture(str(p["image_url"]), (960, 540))
    zoom = p.get("zoom")
    rec = ctx.video(lambda size, fps: media.ken_burns(img, size, seconds, fps, zoom),
                    _aspect_of(img, "16:9"), seconds, "ken-burns", music.path if music else None)
    return {"video_url": rec.url_path}


def sora2_video(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    seconds = float(p.get("n_frames") or 10)
    aspect = VIDEO_ASPECT[p.get("aspect_ratio") or "landscape"]
    image = (p.get("image_urls") or [None])[0]
    return {"video_url": _scene_or_image(ctx, p["prompt"], image, aspect, seconds, "sora2").url_path}


def sora2_text_to_video(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    seconds = float(p.get("n_frames") or 10)
    aspect = VIDEO_ASPECT[p.get("aspect_ratio") or "landscape"]
    return {"video_url": _scene_or_image(ctx, p["prompt"], None, aspect, seconds, "sora2").url_path}


def sora2_character(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return {"character_id": "char_" + uuid.uuid4().hex[:16]}


def seedance(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    seconds = float(p.get("duration") or 8)
    first = (p.get("input_urls") or [None])[0]
    out: dict[str, Any] = {"audio_url": None}
    soundtrack = None
    if p.get("generate_audio"):
        track = ctx.sound(audio.to_mp3(audio.wav_bytes(audio.song(p["prompt"], seconds))), "seedance.mp3",
                          "audio/mpeg", seconds)
        out["audio_url"] = track.url_path
        soundtrack = track.path
    rec = _scene_or_image(ctx, p["prompt"], first, p.get("aspect_ratio") or "16:9", seconds, "seedance",
                          soundtrack=soundtrack)
    out["video_url"] = rec.url_path
    return out


def kling(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    from phaya_notebook.catalog import kling_output_seconds

    seconds = kling_output_seconds(p, ctx.seconds_of((p.get("video_urls") or [None])[0]))
    image = (p.get("input_urls") or [None])[0]
    rec = _scene_or_image(ctx, p.get("prompt") or "Kling motion control", image, None, seconds, "kling")
    return {"video_url": rec.url_path}


def veo(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    aspect = VIDEO_ASPECT.get(p.get("aspect_ratio") or "16:9", p.get("aspect_ratio") or "16:9")
    image = (p.get("image_urls") or [None])[0]
    rec = _scene_or_image(ctx, p["prompt"], image, aspect, 8.0, "veo31")
    return {"video_url": rec.url_path, "origin_url": rec.url_path,
            "resolution": "720p" if aspect != "9:16" else "720x1280"}


def thai_subtitle(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    src = ctx.hosted(p["media_url"])
    script = p.get("script") or "Subtitles made by the Phaya sandbox"
    words = script.split()
    if src is None:
        seconds = 6.0
        rec = ctx.video(lambda size, fps: media.scene(str(p["media_url"]), size, seconds, fps), "16:9", seconds,
                        "source")
        src_path = rec.path
    else:
        src_path = src.path
        seconds = ctx.seconds_of(p["media_url"]) or 6.0
    facts = media.probe(src_path)
    w, h = int(facts.get("width", 640)), int(facts.get("height", 360))
    token, out = ctx.files.reserve("subtitled.mp4")
    chunks = [" ".join(words[i:i + 6]) for i in range(0, len(words), 6)] or [script]
    chunks = chunks[:12]
    span = seconds / len(chunks)
    offset = float(p.get("timing_offset_ms") or 0) / 1000.0
    args = ["-i", str(src_path)]
    graph, last = [], "0:v"
    for i, text in enumerate(chunks):
        cap = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        band = Image.new("RGB", (w, h))
        media.caption(band, text, "bottom")
        mask = Image.eval(band.convert("L"), lambda v: 255 if v else 0)
        cap.paste(band, (0, 0), mask)
        png = out.with_name(f"cap{i}.png")
        cap.save(png)
        args += ["-i", str(png)]
        a, b = max(0.0, i * span + offset), (i + 1) * span + offset
        graph.append(f"[{last}][{i + 1}:v]overlay=0:0:enable='between(t,{a:.3f},{b:.3f})'[v{i}]")
        last = f"v{i}"
    args += ["-filter_complex", ";".join(graph), "-map", f"[{last}]", "-map", "0:a?", "-c:v", "libx264",
             "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "copy", "-movflags", "+faststart", str(out)]
    media.run_ffmpeg(args)
    for png in out.parent.glob("cap*.png"):
        png.unlink()
    rec = ctx.files.register(token, out, "video/mp4", seconds=seconds, width=w, height=h)
    return {"video_url": rec.url_path}


def video_download(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    url = str(p["url"])
    if p.get("format") == "mp3" or p.get("quality") == "audio":
        seconds = 15.0
        data = audio.to_mp3(audio.wav_bytes(audio.song(url, seconds)))
        rec = ctx.sound(data, "download.mp3", "audio/mpeg", seconds)
    else:
        rec = ctx.video(lambda size, fps: media.scene(url, size, 6.0, fps), "16:9", 6.0, "download")
    return {"download_url": rec.url_path}


# ---------------------------------------------------------------- sound


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


# ---------------------------------------------------------------- media utilities


def _scene_of(text: str, seconds: float) -> Callable[[tuple[int, int], int], Any]:
    return lambda size, fps: media.scene(text, size, seconds, fps)


def merge_video(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    inputs: list[Path] = []
    for url in p["video_urls"]:
        rec = ctx.hosted(url)
        if rec is None:
            rec = ctx.video(_scene_of(str(url), 2.0), "16:9", 2.0, "part")
        inputs.append(rec.path)
    facts = media.probe(inputs[0])
    w, h = int(facts.get("width", 640)), int(facts.get("height", 360))
    fps = ctx.config.video_fps
    args: list[str] = []
    for path in inputs:
        args += ["-i", str(path)]
    parts = "".join(f"[{i}:v]scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,"
                    f"setsar=1,fps={fps}[p{i}];" for i in range(len(inputs)))
    joined = "".join(f"[p{i}]" for i in range(len(inputs)))
    token, out = ctx.files.reserve("merged.mp4")
    args += ["-filter_complex", f"{parts}{joined}concat=n={len(inputs)}:v=1:a=0[v]", "-map", "[v]",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(out)]
    media.run_ffmpeg(args)
    seconds = media.probe(out).get("seconds", 0.0)
    return {"video_url": ctx.files.register(token, out, "video/mp4", seconds=seconds, width=w, height=h).url_path}


def extract_last_frame(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    rec = ctx.hosted(p["video_url"])
    if rec is None:
        img = media.picture(str(p["video_url"]), (640, 360))
        return {"image_url": ctx.image(img, "png", "last-frame").url_path}
    token, out = ctx.files.reserve("last-frame.png")
    media.run_ffmpeg(["-sseof", "-1", "-i", str(rec.path), "-update", "1", "-frames:v", "1000", str(out)])
    with Image.open(out) as im:
        size = im.size
    return {"image_url": ctx.files.register(token, out, "image/png", width=size[0], height=size[1]).url_path}


def _spoken(*recs: HostedFile) -> str | None:
    words = [str(r.meta["spoken"]) for r in recs if r.meta.get("spoken")]
    return " ".join(words) or None


def merge_audio_video(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    video = ctx.hosted(p["video_url"]) or ctx.video(_scene_of(str(p["video_url"]), 4.0), "16:9", 4.0, "source")
    sound = ctx.sound_from(p["audio_url"], "soundtrack")
    facts = media.probe(video.path)
    volume = float(p.get("audio_volume", 1.0))
    token, out = ctx.files.reserve("with-audio.mp4")
    args = ["-i", str(video.path), "-i", str(sound.path)]
    if p.get("keep_original_audio") and media.has_audio(video.path):
        args += ["-filter_complex", f"[1:a]volume={volume:g}[s];[0:a][s]amix=inputs=2:duration=first[a]",
                 "-map", "0:v", "-map", "[a]"]
    else:
        args += ["-filter_complex", f"[1:a]volume={volume:g},apad[a]", "-map", "0:v", "-map", "[a]", "-shortest"]
    args += ["-c:v", "copy", "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", str(out)]
    media.run_ffmpeg(args)
    rec = ctx.files.register(token, out, "video/mp4", seconds=facts.get("seconds", 0.0),
                             width=facts.get("width"), height=facts.get("height"), spoken=_spoken(sound))
    return {"video_url": rec.url_path}


def merge_audio(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    parts = [ctx.sound_from(url, f"part{i}", 2.0) for i, url in enumerate(p["audio_urls"])]
    args: list[str] = []
    for rec in parts:
        args += ["-i", str(rec.path)]
    chain = "".join(f"[{i}:a]aresample=44100,aformat=channel_layouts=stereo[a{i}];" for i in range(len(parts)))
    joined = "".join(f"[a{i}]" for i in range(len(parts)))
    token, out = ctx.files.reserve("merged.mp3")
    args += ["-filter_complex", f"{chain}{joined}concat=n={len(parts)}:v=0:a=1[a]", "-map", "[a]",
             "-c:a", "libmp3lame", "-b:a", "96k", str(out)]
    media.run_ffmpeg(args)
    seconds = media.probe(out).get("seconds", 0.0)
    return {"audio_url": ctx.files.register(token, out, "audio/mpeg", seconds=seconds,
                                            spoken=_spoken(*parts)).url_path}


def overlay_gif(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    video = ctx.hosted(p["video_url"]) or ctx.video(_scene_of(str(p["video_url"]), 4.0), "16:9", 4.0, "source")
    gif = ctx.hosted(p["gif_url"])
    if gif is None:  # a URL the sandbox never made: a little spinning badge named after it
        gif = ctx.files.add_bytes(media.badge_gif(str(p["gif_url"])), "overlay.gif", "image/gif")
    facts = media.probe(video.path)
    w, h = int(facts.get("width", 640)), int(facts.get("height", 360))
    ow = max(2, int(w * float(p.get("scale", 0.25))) // 2 * 2)
    margin = max(4, w // 40)
    x, y = {"top_left": (f"{margin}", f"{margin}"), "top_right": (f"W-w-{margin}", f"{margin}"),
            "bottom_left": (f"{margin}", f"H-h-{margin}"), "bottom_right": (f"W-w-{margin}", f"H-h-{margin}"),
            "center": ("(W-w)/2", "(H-h)/2")}[str(p.get("position") or "bottom_right")]
    token, out = ctx.files.reserve("overlaid.mp4")
    animated = gif.path.read_bytes()[:4] == b"GIF8"
    loop = ["-ignore_loop", "0"] if animated else ["-loop", "1"]  # a GIF replays; a still stays up
    media.run_ffmpeg(["-i", str(video.path), *loop, "-i", str(gif.path), "-filter_complex",
                      f"[1:v]scale={ow}:-2[g];[0:v][g]overlay={x}:{y}:shortest=1[v]", "-map", "[v]",
                      "-map", "0:a?", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                      "-c:a", "copy", "-movflags", "+faststart", str(out)])
    rec = ctx.files.register(token, out, "video/mp4", seconds=facts.get("seconds", 0.0), width=w, height=h,
                             spoken=video.meta.get("spoken"))
    return {"video_url": rec.url_path}


def transcribe(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    """The sandbox cannot hear: it gives back the words of speech it made itself."""
    rec = ctx.hosted(p["media_url"])
    seconds = (ctx.seconds_of(p["media_url"]) or 0.0) if rec is not None else 0.0
    spoken = rec.meta.get("spoken") if rec is not None else None
    text = str(spoken) if spoken else f"[sandbox: {seconds:.1f} s of audio with no words it made itself]"
    language = p.get("language") or (rec.meta.get("language") if rec is not None else None) or \
        ("th" if media.has_thai(text) else "en")
    return {"text": text, "language": language, "duration": round(seconds, 3)}


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
