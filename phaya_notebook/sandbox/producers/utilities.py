"""Media utility jobs: merge video or audio, extract the last frame, overlay a GIF, transcribe."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from .. import media
from ..files import HostedFile
from .context import Context


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
