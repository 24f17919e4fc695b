"""Image producers: z-image, Seedream, Nano Banana, GPT Image 2."""

from __future__ import annotations

from typing import Any

from PIL import Image

from .. import media
from .context import Context, aspect_of

IMAGE_LONG_SIDE = {"1K": 1024, "2K": 2048, "4K": 4096}


def text_to_image(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    img = media.picture(p["prompt"], media.dims(p.get("aspect_ratio") or "1:1", 1024), model="z-image")
    return {"image_url": ctx.image(img, "png", "z-image").url_path}


def seedream(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    long_side = 2048 if p.get("quality") == "high" else 1024
    size = media.dims(p.get("aspect_ratio") or "1:1", long_side)
    img = media.picture(p["prompt"], size, model="seedream")
    src = ctx.image_from((p.get("image_urls") or [None])[0])
    if src is not None:
        img = Image.blend(media.cover(src, size), img, 0.35)
        media.caption(img, p["prompt"], "bottom")
    return {"image_url": ctx.image(img, "png", "seedream").url_path}


def nano_banana(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    refs = p.get("image_input") or []
    first = ctx.image_from(refs[0]) if refs else None
    aspect = p.get("aspect_ratio") or "1:1"
    if aspect == "auto":
        aspect = aspect_of(first, "1:1")
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
        aspect = aspect_of(first, "1:1")
    size = media.dims(aspect, IMAGE_LONG_SIDE[p.get("resolution") or "1K"])
    img = media.picture(p["prompt"], size, model="gpt-image-2")
    if first is not None:
        img = Image.blend(media.cover(first, size), img, 0.4)
        media.caption(img, p["prompt"], "bottom")
    return {"image_url": ctx.image(img, "png", "gpt-image-2").url_path}
