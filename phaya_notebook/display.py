"""Render finished results inline, from the local cache.

Provider URLs expire and, on Binder, the browser cannot reach the kernel's localhost, so
everything here renders from the cached file: images as a small embedded preview linked
to the full file by a path relative to the notebook's working directory (Jupyter serves it
under ``/files/``), video and audio as HTML5 players whose ``src`` is that relative path,
with a ``data:`` fallback only for small files. Fifty images stay well under 5 MB of
notebook. Every piece of text is HTML-escaped.

Results are duck-typed (see docs/interfaces.md): ``media``, ``urls``, ``paths``, ``fields``,
``credits``, ``character_id``, ``mime_types``, ``job_id``, ``service``. Chat replies
(``text``, ``model``, ``usage``, ``credits``) render as Markdown.
"""

from __future__ import annotations

import base64
import html
import io
import mimetypes
import os
import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from .catalog import credits_text

__all__ = [
    "DATA_URI_MAX_BYTES",
    "PREVIEW_MAX_B64",
    "Rendered",
    "bundle_size",
    "cached_thumbnail",
    "chat_footer",
    "chat_markdown",
    "esc",
    "mark_shown",
    "markdown_to_html",
    "media_html",
    "relative_src",
    "render",
    "thumbnail_data_uri",
]

#: Largest base64 text of one image preview (keeps 50 images well under 5 MB).
PREVIEW_MAX_B64 = 60_000
#: Longest side of an image preview, in pixels (shrunk further if the bytes demand it).
PREVIEW_MAX_SIDE = 480
#: Files up to this size also get an embedded ``data:`` source as a fallback.
DATA_URI_MAX_BYTES = 2 * 1024 * 1024

_thumb_cache: OrderedDict[tuple[str, int, int, int, int], str] = OrderedDict()
_thumb_lock = threading.Lock()
_THUMB_CACHE_SIZE = 256


class Rendered:
    """A mimebundle holder: what ``IPython.display.display`` and widgets show."""

    def __init__(self, data: dict[str, str], metadata: dict[str, Any] | None = None):
        self.data = data
        self.metadata = metadata or {}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict[str, str], dict]:
        data = dict(self.data)
        if include:
            data = {k: v for k, v in data.items() if k in include}
        if exclude:
            data = {k: v for k, v in data.items() if k not in exclude}
        return data, dict(self.metadata)

    def _repr_html_(self) -> str | None:
        return self.data.get("text/html")

    def __repr__(self) -> str:
        return self.data.get("text/plain", "<Rendered>")

    def output(self) -> dict[str, Any]:
        """The nbformat display_data dict, for ``Output.outputs``."""
        return {"output_type": "display_data", "data": dict(self.data), "metadata": dict(self.metadata)}


def bundle_size(obj: Any) -> int:
    """Bytes the object's mimebundle adds to a notebook (UTF-8)."""
    data, _ = obj._repr_mimebundle_()
    return sum(len(v.encode("utf-8")) if isinstance(v, str) else len(str(v)) for v in data.values())


# ---------------------------------------------------------------- paths and sources


def relative_src(path: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None) -> str:
    """The path as a URL relative to the notebook's directory (POSIX separators, quoted)."""
    from urllib.parse import quote

    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(cwd or os.getcwd()))
    return quote(rel.replace(os.sep, "/"))


def _servable(path: Path, cwd: str | None = None) -> bool:
    """Jupyter serves only files below its root; a path that climbs out is not servable."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(cwd or os.getcwd()))
    return not rel.startswith("..") and not os.path.isabs(rel)


def _mime_of(path: Path | None, url: str | None, given: str | None, media: str) -> str:
    if given:
        return given
    for name in (str(path) if path else None, url):
        if name:
            guess, _ = mimetypes.guess_type(name.split("?")[0])
            if guess:
                return guess
    return {"image": "image/png", "video": "video/mp4", "audio": "audio/mpeg",
            "speech": "audio/wav"}.get(media, "application/octet-stream")


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def esc(text: Any) -> str:
    """THE HTML escape of this package (None is empty): every piece of text shown goes through it."""
    return "" if text is None else html.escape(str(text), quote=True)


_esc = esc


# ---------------------------------------------------------------- images


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
        return _data_uri(p, mime)  # already small: embed as is, no decoding
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


def _image_html(path: Path | None, url: str | None, alt: str) -> str:
    if path is not None and path.exists():
        try:
            preview = thumbnail_data_uri(path)
        except Exception as exc:  # not an image Pillow can read: show a link, say why
            return (f'<a href="{_esc(relative_src(path))}" target="_blank">{_esc(path.name)}</a> '
                    f"<small>(no preview: {_esc(exc)})</small>")
        href = relative_src(path) if _servable(path) else (url or "")
        img = (f'<img src="{preview}" alt="{_esc(alt)}" '
               'style="max-width:100%;height:auto;border-radius:4px"/>')
        if href:
            return f'<a href="{_esc(href)}" target="_blank" title="open the full image">{img}</a>'
        return img
    if url:
        return f'<a href="{_esc(url)}" target="_blank"><img src="{_esc(url)}" alt="{_esc(alt)}" style="max-width:100%"/></a>'
    return "<em>(image missing from the cache)</em>"


# ---------------------------------------------------------------- players


def _player_html(tag: str, path: Path | None, url: str | None, mime: str) -> str:
    """<video>/<audio> with the relative path first and, for small files, a data: fallback."""
    sources: list[str] = []
    if path is not None and path.exists():
        if _servable(path):
            sources.append(relative_src(path))
        if path.stat().st_size <= DATA_URI_MAX_BYTES:
            sources.append(_data_uri(path, mime))
        elif not _servable(path) and url:
            sources.append(url)
    elif url:
        sources.append(url)
    if not sources:
        return f"<em>({_esc(tag)} missing from the cache)</em>"
    style = 'style="max-width:100%;max-height:480px"' if tag == "video" else 'style="width:100%"'
    inner = "".join(f'<source src="{_esc(s)}" type="{_esc(mime)}"/>' for s in sources)
    link = ""
    if path is not None and path.exists() and _servable(path):
        link = f'<br/><a href="{_esc(relative_src(path))}" target="_blank" download>{_esc(path.name)}</a>'
    return f'<{tag} controls preload="metadata" {style}>{inner}Your browser cannot play this {tag}.</{tag}>{link}'


def media_html(result: Any) -> str:
    """The HTML body (no caption) of a result's media."""
    media = str(getattr(result, "media", "") or "")
    urls: list[str] = list(getattr(result, "urls", None) or [])
    paths: list[Path] = [Path(p) for p in (getattr(result, "paths", None) or [])]
    mimes: list[str] = list(getattr(result, "mime_types", None) or [])
    text = getattr(result, "text", None)
    if media == "text" and isinstance(text, str):
        return (f'<blockquote style="white-space:pre-wrap;margin:4px 0">{_esc(text)}</blockquote>')
    if media == "character" or (getattr(result, "character_id", None) and not paths):
        cid = getattr(result, "character_id", None) or (getattr(result, "fields", None) or {}).get("character_id")
        return f'<div>Sora character id: <code>{_esc(cid)}</code></div>'
    n = max(len(urls), len(paths))
    parts: list[str] = []
    for i in range(n):
        path = paths[i] if i < len(paths) else None
        url = urls[i] if i < len(urls) else None
        mime = _mime_of(path, url, mimes[i] if i < len(mimes) else None, media)
        kind = mime.split("/")[0]
        if kind == "image":
            parts.append(_image_html(path, url, f"{media} {i + 1}"))
        elif kind == "video":
            parts.append(_player_html("video", path, url, mime))
        elif kind == "audio":
            label = f"<div><small>track {i + 1}</small></div>" if n > 1 else ""
            parts.append(label + _player_html("audio", path, url, mime))
        elif path is not None and path.exists() and _servable(path):
            parts.append(f'<a href="{_esc(relative_src(path))}" target="_blank" download>{_esc(path.name)}</a>')
        elif url:
            parts.append(f'<a href="{_esc(url)}" target="_blank">{_esc(url)}</a>')
    if not parts:
        return "<em>(no media)</em>"
    return "".join(f"<div>{p}</div>" for p in parts)


def _caption(result: Any) -> str:
    bits = [str(getattr(result, "service", "") or "")]
    credits = getattr(result, "credits", None)
    if credits is not None:
        bits.append(credits_text(credits))
    job_id = getattr(result, "job_id", None)
    if job_id:
        bits.append(f"job {job_id}")
    return " · ".join(b for b in bits if b)


# ---------------------------------------------------------------- chat


_markdown: Any = None


def markdown_to_html(text: str) -> str:
    """Markdown → HTML with raw HTML escaped (mistune when installed, else preformatted text)."""
    global _markdown
    if _markdown is None:
        try:
            import mistune
        except ImportError:  # pragma: no cover - mistune ships with nbconvert/jupyterlab
            _markdown = False
        else:
            _markdown = mistune.create_markdown(escape=True, plugins=["strikethrough", "table"])
    if _markdown is False:  # pragma: no cover
        return f'<div style="white-space:pre-wrap">{_esc(text)}</div>'
    return str(_markdown(text))


def _markdown_escape(text: str) -> str:
    """Markdown that renders the text, with any raw HTML neutralised."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def chat_footer(reply: Any) -> str:
    """"model · N tokens · X credits" of a chat reply (plain text)."""
    usage = getattr(reply, "usage", None) or {}
    tokens = usage.get("total_tokens")
    foot = [str(getattr(reply, "model", "") or "")]
    if tokens is not None:
        foot.append(f"{tokens} tokens")
    credits = getattr(reply, "credits", None)
    if credits is not None:
        foot.append(credits_text(credits))
    return " · ".join(f for f in foot if f)


def chat_markdown(reply: Any) -> str:
    tail = chat_footer(reply)
    return _markdown_escape(str(getattr(reply, "text", ""))) + (f"\n\n*{_markdown_escape(tail)}*" if tail else "")


# ---------------------------------------------------------------- entry point


def _execution_count() -> int | None:
    """The running cell's number (None outside IPython; IPython is never imported here)."""
    mod = sys.modules.get("IPython")
    shell = mod.get_ipython() if mod is not None else None
    return getattr(shell, "execution_count", None) if shell is not None else None


def mark_shown(result: Any) -> None:
    """The running cell already shows this result (a live progress line was replaced by it)."""
    try:
        result._phaya_shown_in = _execution_count()
    except AttributeError:  # pragma: no cover - a result type without a __dict__
        pass


def _shown_here(result: Any) -> bool:
    mark = getattr(result, "_phaya_shown_in", None)
    return mark is not None and mark == _execution_count()


def render(result: Any) -> Rendered:
    """A result (or chat reply) as a mimebundle holder, rendered from the local cache."""
    if not hasattr(result, "media") and hasattr(result, "text"):
        md = chat_markdown(result)
        return Rendered({
            "text/markdown": md,
            "text/html": markdown_to_html(str(result.text)) + f"<small>{_esc(chat_footer(result))}</small>",
            "text/plain": str(result.text),
        })
    caption = _caption(result)
    if _shown_here(result):  # the cell's Out[] after its progress line became the result: one line
        return Rendered({"text/plain": f"<{caption or 'result'} (shown above)>"})
    body = media_html(result)
    html_doc = (f'<div class="phaya-render" style="max-width:640px">{body}'
                f'<div><small>{_esc(caption)}</small></div></div>')
    plain_lines = [f"<{caption or 'result'}>"]
    cid = getattr(result, "character_id", None)
    if cid:
        plain_lines.append(f"character_id: {cid}")
    elif getattr(result, "media", None) == "text" and getattr(result, "text", None):
        plain_lines.append(str(result.text))
    for p in getattr(result, "paths", None) or []:
        plain_lines.append(str(p))
    return Rendered({"text/html": html_doc, "text/plain": "\n".join(plain_lines)})
