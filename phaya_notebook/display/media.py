"""Results as HTML: images as embedded previews linked to the file, video and audio as players.

Provider URLs expire and, on Binder, the browser cannot reach the kernel's localhost, so
everything here renders from the cached file: images as a small embedded preview linked
to the full file by a path relative to the notebook's working directory (Jupyter serves it
under ``/files/``), video and audio as HTML5 players whose ``src`` is that relative path,
with a ``data:`` fallback only for small files. Every piece of text is HTML-escaped.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Any

from ..catalog import credits_text
from ..core.escape import esc
from .thumbnails import data_uri, thumbnail_data_uri

__all__ = ["DATA_URI_MAX_BYTES", "caption", "media_html", "relative_src"]

#: Files up to this size also get an embedded ``data:`` source as a fallback.
DATA_URI_MAX_BYTES = 2 * 1024 * 1024


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


# ---------------------------------------------------------------- images


def _image_html(path: Path | None, url: str | None, alt: str) -> str:
    if path is not None and path.exists():
        try:
            preview = thumbnail_data_uri(path)
        except Exception as exc:  # not an image Pillow can read: show a link, say why
            return (f'<a href="{esc(relative_src(path))}" target="_blank">{esc(path.name)}</a> '
                    f"<small>(no preview: {esc(exc)})</small>")
        href = relative_src(path) if _servable(path) else (url or "")
        img = (f'<img src="{preview}" alt="{esc(alt)}" '
               'style="max-width:100%;height:auto;border-radius:4px"/>')
        if href:
            return f'<a href="{esc(href)}" target="_blank" title="open the full image">{img}</a>'
        return img
    if url:
        return f'<a href="{esc(url)}" target="_blank"><img src="{esc(url)}" alt="{esc(alt)}" style="max-width:100%"/></a>'
    return "<em>(image missing from the cache)</em>"


# ---------------------------------------------------------------- players


def _player_html(tag: str, path: Path | None, url: str | None, mime: str) -> str:
    """<video>/<audio> with the relative path first and, for small files, a data: fallback."""
    sources: list[str] = []
    if path is not None and path.exists():
        if _servable(path):
            sources.append(relative_src(path))
        if path.stat().st_size <= DATA_URI_MAX_BYTES:
            sources.append(data_uri(path, mime))
        elif not _servable(path) and url:
            sources.append(url)
    elif url:
        sources.append(url)
    if not sources:
        return f"<em>({esc(tag)} missing from the cache)</em>"
    style = 'style="max-width:100%;max-height:480px"' if tag == "video" else 'style="width:100%"'
    inner = "".join(f'<source src="{esc(s)}" type="{esc(mime)}"/>' for s in sources)
    link = ""
    if path is not None and path.exists() and _servable(path):
        link = f'<br/><a href="{esc(relative_src(path))}" target="_blank" download>{esc(path.name)}</a>'
    return f'<{tag} controls preload="metadata" {style}>{inner}Your browser cannot play this {tag}.</{tag}>{link}'


def media_html(result: Any) -> str:
    """The HTML body (no caption) of a result's media."""
    media = str(getattr(result, "media", "") or "")
    urls: list[str] = list(getattr(result, "urls", None) or [])
    paths: list[Path] = [Path(p) for p in (getattr(result, "paths", None) or [])]
    mimes: list[str] = list(getattr(result, "mime_types", None) or [])
    text = getattr(result, "text", None)
    if media == "text" and isinstance(text, str):
        return (f'<blockquote style="white-space:pre-wrap;margin:4px 0">{esc(text)}</blockquote>')
    if media == "character" or (getattr(result, "character_id", None) and not paths):
        cid = getattr(result, "character_id", None) or (getattr(result, "fields", None) or {}).get("character_id")
        return f'<div>Sora character id: <code>{esc(cid)}</code></div>'
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
            parts.append(f'<a href="{esc(relative_src(path))}" target="_blank" download>{esc(path.name)}</a>')
        elif url:
            parts.append(f'<a href="{esc(url)}" target="_blank">{esc(url)}</a>')
    if not parts:
        return "<em>(no media)</em>"
    return "".join(f"<div>{p}</div>" for p in parts)


def caption(result: Any) -> str:
    """"service · credits · job id" under a result (plain text)."""
    bits = [str(getattr(result, "service", "") or "")]
    credits = getattr(result, "credits", None)
    if credits is not None:
        bits.append(credits_text(credits))
    job_id = getattr(result, "job_id", None)
    if job_id:
        bits.append(f"job {job_id}")
    return " · ".join(b for b in bits if b)
