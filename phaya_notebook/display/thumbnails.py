"""THE thumbnail helper of the package, and the ``data:`` URIs everything embeds.

Results render from local files; a notebook stays small because images are embedded as
previews of bounded size (``thumbnail_data_uri``), made once and cached in memory and,
given a folder, on disk (the history gallery: a thumbnail is made once, not once per
kernel). Pillow is imported only when a preview must be decoded.
"""

from __future__ import annotations

import base64
import io
import mimetypes
import os
import threading
from collections import OrderedDict
from pathlib import Path

__all__ = ["PREVIEW_MAX_B64", "PREVIEW_MAX_SIDE", "cached_thumbnail", "data_uri", "thumbnail_data_uri"]

#: Largest base64 text of one image preview (keeps 50 images well under 5 MB).
PREVIEW_MAX_B64 = 60_000
#: Longest side of an image preview, in pixels (shrunk further if the bytes demand it).
PREVIEW_MAX_SIDE = 480

_thumb_cache: OrderedDict[tuple[str, int, int, int, int], str] = OrderedDict()
_thumb_lock = threading.Lock()
_THUMB_CACHE_SIZE = 256


def data_uri(path: Path, mime: str) -> str:
    """The whole file as a ``data:`` URI (base64): for small files only."""
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _thumb_key(p: Path, max_b64: int, max_side: int) -> tuple[str, int, int, int, int]:
    st = p.stat()
    return (str(p.resolve()), int(st.st_mtime_ns), st.st_size, max_b64, max_side)


def _disk_name(key: tuple[str, int, int, int, int]) -> str:
    import hashlib

    return hashlib.sha1(repr(key).encode()).hexdigest() + ".txt"


def cached_thumbnail(path: str | os.PathLike[str], max_b64: int = PREVIEW_MAX_B64,
                     max_side: int = PREVIEW_MAX_SIDE, cache_dir: str | os.PathLike[str] | None = None) -> str | None:
    """The preview if it is already made (memory, then ``cache_dir``), else None: never decodes."""
    key = _thumb_key(Path(path), max_b64, max_side)
    with _thumb_lock:
        if key in _thumb_cache:
            _thumb_cache.move_to_end(key)
            return _thumb_cache[key]
    if cache_dir is not None:
        try:
            uri = (Path(cache_dir) / _disk_name(key)).read_text("ascii")
        except (OSError, ValueError):
            return None
        if uri.startswith("data:image/"):
            _remember(key, uri)
            return uri
    return None


def _remember(key: tuple[str, int, int, int, int], uri: str) -> None:
    with _thumb_lock:
        _thumb_cache[key] = uri
        while len(_thumb_cache) > _THUMB_CACHE_SIZE:
            _thumb_cache.popitem(last=False)


def thumbnail_data_uri(path: str | os.PathLike[str], max_b64: int = PREVIEW_MAX_B64,
                       max_side: int = PREVIEW_MAX_SIDE, cache_dir: str | os.PathLike[str] | None = None) -> str:
    """A JPEG (or PNG with transparency) preview of at most ``max_b64`` base64 characters.

    THE thumbnail helper of the package. Shrinks quality, then size, until it fits; cached
    in memory by (path, mtime, size, limits) and, given ``cache_dir``, on disk as well (the
    history gallery: a thumbnail is made once, not once per kernel).
    """
    p = Path(path)
    key = _thumb_key(p, max_b64, max_side)
    hit = cached_thumbnail(p, max_b64, max_side, cache_dir)
    if hit is not None:
        return hit
    st = p.stat()
    mime = mimetypes.guess_type(p.name)[0] or ""
    if st.st_size * 4 // 3 + 4 <= max_b64 and mime in ("image/jpeg", "image/png", "image/gif", "image/webp"):
        return data_uri(p, mime)  # already small: embed as is, no decoding
    from PIL import Image
    with Image.open(p) as im:
        if im.format == "JPEG":  # decode at a fraction of the size: big camera-size JPEGs stay cheap
            im.draft("RGB", (max_side * 2, max_side * 2))
        im.load()
        alpha = im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info)
        im = im.convert("RGBA" if alpha else "RGB")
        side = max_side
        uri = ""
        while side >= 32:
            thumb = im.copy()
            thumb.thumbnail((side, side))
            attempts = [("PNG", None)] if alpha else [("JPEG", q) for q in (82, 70, 55, 40)]
            for fmt, quality in attempts:
                buf = io.BytesIO()
                if fmt == "JPEG":
                    thumb.save(buf, fmt, quality=quality, optimize=True)
                else:
                    thumb.save(buf, fmt, optimize=True)
                b64 = base64.b64encode(buf.getvalue()).decode("ascii")
                if len(b64) <= max_b64:
                    uri = f"data:image/{fmt.lower()};base64,{b64}"
                    break
            if uri:
                break
            side = int(side * 0.7)
    if not uri:
        raise ValueError(f"cannot make a preview of {p.name} within {max_b64} bytes")
    _remember(key, uri)
    if cache_dir is not None:
        try:
            folder = Path(cache_dir)
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{_disk_name(key)}.{os.getpid()}.tmp"
            tmp.write_text(uri, "ascii")
            os.replace(tmp, folder / _disk_name(key))
        except OSError:  # a read-only folder: the memory cache still holds it
            pass
    return uri
