"""Pictures and videos made locally: procedural from the prompt, with its words visible.

Images are drawn with Pillow (a gradient, shapes placed by a hash of the prompt, the
prompt's words on top), so two prompts look different and a viewer can tell which
prompt made which picture. Videos are frames drawn here and piped to the FFmpeg that
imageio-ffmpeg bundles: H.264, yuv420p, +faststart, so Chromium plays them.
"""

from __future__ import annotations

import functools
import hashlib
import io
import random
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

_FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
               "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf")
#: Phaya is a Thai service: Thai prompts and subtitles need a font with Thai glyphs
#: (Debian's fonts-thai-tlwg or fonts-noto-core); these also carry Latin letters.
_THAI_FONT_FILES = ("/usr/share/fonts/truetype/tlwg/Loma-Bold.ttf",
                    "/usr/share/fonts/truetype/tlwg/Garuda-Bold.ttf",
                    "/usr/share/fonts/truetype/noto/NotoSansThai-Bold.ttf")


@functools.lru_cache(maxsize=1)
def ffmpeg() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def has_thai(text: str) -> bool:
    return any("\u0e00" <= ch <= "\u0e7f" for ch in text)


@functools.lru_cache(maxsize=64)
def font(size: int, thai: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in (_THAI_FONT_FILES + _FONT_FILES) if thai else _FONT_FILES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def rng_for(text: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(text.encode("utf-8", "replace")).digest()[:8], "big"))


def dims(aspect: str, long_side: int, even: bool = False) -> tuple[int, int]:
    """Pixel size for an aspect ratio like ``"16:9"`` with the longer side ``long_side``."""
    try:
        a, b = (float(x) for x in aspect.split(":"))
    except ValueError:
        a, b = 1.0, 1.0
    if a >= b:
        w, h = long_side, max(2, round(long_side * b / a))
    else:
        w, h = max(2, round(long_side * a / b)), long_side
    if even:
        w, h = w - w % 2, h - h % 2
    return w, h


def _palette(r: random.Random) -> list[tuple[int, int, int]]:
    return [(r.randrange(30, 230), r.randrange(30, 230), r.randrange(30, 230)) for _ in range(4)]


def picture(prompt: str, size: tuple[int, int], label: str | None = None, model: str = "") -> Image.Image:
    """A procedural RGB picture for a prompt, with the prompt's words drawn on it.

    The colours come from the prompt and the shapes from prompt and model, so a compare grid
    shows one prompt's family resemblance and still tells the models apart.
    """
    w, h = size
    c1, c2, c3, c4 = _palette(rng_for(prompt))
    r = rng_for(f"{model}\0{prompt}" if model else prompt)
    small = Image.new("RGB", (2, 2))
    small.putdata([c1, c2, c3, c4])
    img = small.resize((w, h), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(img)
    unit = min(w, h)
    for _ in range(r.randrange(5, 11)):
        cx, cy, rad = r.uniform(0, w), r.uniform(0, h), r.uniform(0.05, 0.25) * unit
        color = (r.randrange(256), r.randrange(256), r.randrange(256))
        box = (cx - rad, cy - rad, cx + rad, cy + rad)
        if r.random() < 0.5:
            draw.ellipse(box, fill=color)
        else:
            draw.rectangle(box, fill=color)
    caption(img, label if label is not None else prompt)
    return img


def caption(img: Image.Image, text: str, where: str = "middle") -> None:
    """Draw text in a dark band so it reads on any background."""
    text = " ".join(text.split())
    if not text:
        return
    w, h = img.size
    size = max(10, min(w, h) // 12)
    f = font(size, has_thai(text))
    width = max(8, int(w / (size * 0.62)))
    lines = textwrap.wrap(text, width=width)[:4] or [text[:width]]
    line_h = int(size * 1.25)
    block = line_h * len(lines) + size // 2
    top = {"middle": (h - block) // 2, "bottom": h - block - h // 20, "top": h // 20}[where]
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, top, w, top + block), fill=(0, 0, 0))
    for i, line in enumerate(lines):
        tw = draw.textlength(line, font=f)
        draw.text(((w - tw) / 2, top + size // 4 + i * line_h), line, font=f, fill=(255, 255, 255))


def encode_image(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt in ("jpg", "jpeg"):
        img.save(buf, "JPEG", quality=88)
    else:
        img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def load_image(path: Path) -> Image.Image | None:
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except Exception:
        return None


# ---------------------------------------------------------------- video


def video_size(aspect: str, max_side: int) -> tuple[int, int]:
    return dims(aspect, max_side, even=True)


def ken_burns(base: Image.Image, size: tuple[int, int], seconds: float, fps: int,
              zoom: Mapping[str, Any] | None, overlay: str | None = None) -> Iterator[bytes]:
    """Frames panning/zooming over ``base`` (``zoom=None``: a still, as the contract says)."""
    w, h = size
    src = cover(base, (w * 3 // 2, h * 3 // 2) if zoom else (w, h))
    sw, sh = src.size
    n = max(1, round(seconds * fps))
    mode = (zoom or {}).get("mode", "center") if zoom else "none"
    speed = float((zoom or {}).get("speed", 0.0015))
    max_scale = float((zoom or {}).get("max_scale", 1.5))
    pan_speed = float((zoom or {}).get("pan_speed", 1.0))
    f = font(max(10, h // 18))
    for i in range(n):
        t = i / fps
        if mode == "none" or zoom is None:
            box = (0.0, 0.0, float(sw), float(sh))
        else:
            z = min(max_scale, 1.0 + speed * t * 25.0) if mode.startswith(("center", "top", "bottom")) else 1.2
            cw, ch = sw / z, sh / z
            p = min(1.0, t / max(seconds, 1e-6) * pan_speed)
            x0, y0 = {"center": ((sw - cw) / 2, (sh - ch) / 2), "top_left": (0, 0),
                      "top_right": (sw - cw, 0), "bottom_left": (0, sh - ch),
                      "bottom_right": (sw - cw, sh - ch), "pan_right": ((sw - cw) * p, (sh - ch) / 2),
                      "pan_left": ((sw - cw) * (1 - p), (sh - ch) / 2),
                      "pan_up": ((sw - cw) / 2, (sh - ch) * (1 - p)),
                      "pan_down": ((sw - cw) / 2, (sh - ch) * p)}.get(mode, (0, 0))
            box = (x0, y0, x0 + cw, y0 + ch)
        frame = src.resize((w, h), Image.Resampling.BILINEAR, box=box)
        if overlay is not None:
            ImageDraw.Draw(frame).text((6, 4), f"{overlay} {t:4.1f}s", font=f, fill=(255, 255, 0))
        yield frame.tobytes()


def scene(prompt: str, size: tuple[int, int], seconds: float, fps: int) -> Iterator[bytes]:
    """A text-to-video scene: a slow zoom over the prompt's picture plus a moving sun."""
    w, h = size
    base = picture(prompt, (w * 5 // 4 - (w * 5 // 4) % 2, h * 5 // 4 - (h * 5 // 4) % 2))
    r = rng_for(prompt + "#sun")
    color = (r.randrange(200, 256), r.randrange(150, 256), r.randrange(0, 120))
    n = max(1, round(seconds * fps))
    bw, bh = base.size
    f = font(max(10, h // 18))
    rad = min(w, h) // 10
    for i in range(n):
        p = i / max(1, n - 1)
        z = 1.0 + 0.2 * p
        cw, ch = bw / z, bh / z
        x0, y0 = (bw - cw) / 2, (bh - ch) / 2
        frame = base.resize((w, h), Image.Resampling.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
        d = ImageDraw.Draw(frame)
        cx, cy = rad + p * (w - 2 * rad), h * 0.2 + 0.1 * h * (1 - 4 * (p - 0.5) ** 2)
        d.ellipse((cx - rad, cy - rad, cx + rad, cy + rad), fill=color)
        d.text((6, 4), f"{i / fps:4.1f}s", font=f, fill=(255, 255, 255))
        yield frame.tobytes()


def encode_video(frames: Iterator[bytes], size: tuple[int, int], fps: int, out: Path,
                 audio: Path | None = None) -> None:
    """Pipe raw RGB frames to FFmpeg: H.264 yuv420p with the moov atom first."""
    w, h = size
    cmd = [ffmpeg(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", str(fps), "-i", "-"]
    if audio is not None:
        cmd += ["-i", str(audio)]
    cmd += ["-map", "0:v"] + (["-map", "1:a", "-c:a", "aac", "-b:a", "96k", "-shortest"] if audio else [])
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-r", str(fps),
            "-movflags", "+faststart", str(out)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        assert proc.stdin is not None
        try:
            for frame in frames:
                proc.stdin.write(frame)
        except BrokenPipeError:
            pass
        finally:
            proc.stdin.close()
        code = proc.wait()
        if code != 0:
            err.seek(0)
            raise RuntimeError(f"ffmpeg failed ({code}): {err.read().decode(errors='replace')[-400:]}")


def run_ffmpeg(args: list[str]) -> None:
    proc = subprocess.run([ffmpeg(), "-y", "-loglevel", "error", *args], capture_output=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.decode(errors='replace')[-400:]}")


def has_audio(path: Path) -> bool:
    proc = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, timeout=60)
    return "Audio:" in proc.stderr.decode(errors="replace")


def badge_gif(text: str, size: int = 96, frames: int = 12) -> bytes:
    """A small animated GIF: a coloured disc with a turning spoke, named after ``text``."""
    import math

    r = rng_for(text + "#gif")
    color = (r.randrange(60, 256), r.randrange(60, 256), r.randrange(60, 256))
    images = []
    for i in range(frames):
        img = Image.new("RGB", (size, size), (0, 0, 0))
        d = ImageDraw.Draw(img)
        d.ellipse((4, 4, size - 4, size - 4), fill=color)
        a = 2 * math.pi * i / frames
        c = size / 2
        d.line((c, c, c + (c - 10) * math.cos(a), c + (c - 10) * math.sin(a)), fill=(255, 255, 255), width=6)
        images.append(img)
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=80, loop=0)
    return buf.getvalue()


def probe(path: Path) -> dict[str, float]:
    """Seconds, width and height of a media file, read from FFmpeg's banner."""
    import re

    proc = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, timeout=60)
    text = proc.stderr.decode(errors="replace")
    facts: dict[str, float] = {}
    m = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", text)
    if m:
        facts["seconds"] = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    m = re.search(r"Video:.*?(\d{2,5})x(\d{2,5})", text)
    if m:
        facts["width"], facts["height"] = float(m.group(1)), float(m.group(2))
    return facts


def cover(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale and centre-crop ``img`` to fill ``size`` (also the base of image-to-image pictures)."""
    w, h = size
    iw, ih = img.size
    s = max(w / iw, h / ih)
    nw, nh = max(w, round(iw * s)), max(h, round(ih * s))
    scaled = img.resize((nw, nh), Image.Resampling.BILINEAR)
    x, y = (nw - w) // 2, (nh - h) // 2
    return scaled.crop((x, y, x + w, y + h))
