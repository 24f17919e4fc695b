"""Video producers: image-to-video, Sora 2, Seedance, Kling, Veo, Thai subtitles, downloads."""

from __future__ import annotations

import uuid
from typing import Any

from PIL import Image

from .. import audio, media
from .context import Context, aspect_of, scene_or_image

VIDEO_ASPECT = {"landscape": "16:9", "portrait": "9:16", "square": "1:1", "Auto": "16:9"}


def image_to_video(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    seconds = float(p.get("duration") or 5)
    music = ctx.hosted(p.get("music_url"))
    img = ctx.image_from(p["image_url"]) or media.picture(str(p["image_url"]), (960, 540))
    zoom = p.get("zoom")
    rec = ctx.video(lambda size, fps: media.ken_burns(img, size, seconds, fps, zoom),
                    aspect_of(img, "16:9"), seconds, "ken-burns", music.path if music else None)
    return {"video_url": rec.url_path}


def sora2_video(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    seconds = float(p.get("n_frames") or 10)
    aspect = VIDEO_ASPECT[p.get("aspect_ratio") or "landscape"]
    image = (p.get("image_urls") or [None])[0]
    return {"video_url": scene_or_image(ctx, p["prompt"], image, aspect, seconds, "sora2").url_path}


def sora2_text_to_video(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    seconds = float(p.get("n_frames") or 10)
    aspect = VIDEO_ASPECT[p.get("aspect_ratio") or "landscape"]
    return {"video_url": scene_or_image(ctx, p["prompt"], None, aspect, seconds, "sora2").url_path}


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
    rec = scene_or_image(ctx, p["prompt"], first, p.get("aspect_ratio") or "16:9", seconds, "seedance",
                          soundtrack=soundtrack)
    out["video_url"] = rec.url_path
    return out


def kling(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    from phaya_notebook.catalog import kling_output_seconds

    seconds = kling_output_seconds(p, ctx.seconds_of((p.get("video_urls") or [None])[0]))
    image = (p.get("input_urls") or [None])[0]
    rec = scene_or_image(ctx, p.get("prompt") or "Kling motion control", image, None, seconds, "kling")
    return {"video_url": rec.url_path}


def veo(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    aspect = VIDEO_ASPECT.get(p.get("aspect_ratio") or "16:9", p.get("aspect_ratio") or "16:9")
    image = (p.get("image_urls") or [None])[0]
    rec = scene_or_image(ctx, p["prompt"], image, aspect, 8.0, "veo31")
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
