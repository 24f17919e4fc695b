"""Shareable reports: one self-contained HTML file for someone without a notebook.

Why its own module: ``comparison.to_html(path)`` and ``gallery.to_html(path)`` write the
same kind of page — result cards with what each cost and how it was rated — so the page
frame, the card and the media embedding live once, here. Images are embedded as small
``data:`` thumbnails (display's one thumbnail helper); video and audio are embedded up to
``embed_max`` bytes, else linked (relative to the report, or the provider URL). Every
piece of text goes through display's one escape helper; the page has no script.
"""

from __future__ import annotations

import mimetypes
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .catalog import credits_text
from .display import data_uri, esc, thumbnail_data_uri

__all__ = ["EMBED_MAX_BYTES", "card", "document", "media_item", "write"]

#: Video / audio files up to this size are embedded; larger ones are linked.
EMBED_MAX_BYTES = 8 * 1024 * 1024
#: Report thumbnails: longest side and base64 size.
THUMB_SIDE = 360
THUMB_MAX_B64 = 40_000
RATING_MARK = {1: "👍 kept", -1: "👎 rejected"}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:20px;margin:0 0 4px} .sub{color:#666;font-size:13px;margin-bottom:16px}
table.grid{border-collapse:collapse} table.grid td,table.grid th{border:1px solid #ddd;padding:6px;vertical-align:top}
table.grid th.prompt{text-align:left;max-width:260px;font-weight:normal;white-space:pre-wrap}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #ddd;border-radius:6px;padding:6px;width:250px;font-size:12px}
.card img,.card video{max-width:100%;height:auto;border-radius:4px;display:block}
.card audio{width:100%} .meta{color:#555;margin-top:4px} .prompt{white-space:pre-wrap;margin-top:4px}
.kept{color:#180} .rejected{color:#b00} .err{color:#b00}
table.summary{border-collapse:collapse;margin-bottom:18px;font-size:13px}
table.summary td,table.summary th{border:1px solid #ddd;padding:3px 8px;text-align:right}
"""


def _rel(path: Path, base: Path) -> str:
    try:
        rel = os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive
        rel = str(path.resolve())
    return quote(rel.replace(os.sep, "/"))


def _kind(path: Path | None, url: str | None, media: str) -> str:
    name = str(path) if path is not None else (url or "")
    mime = mimetypes.guess_type(name.split("?")[0])[0] or ""
    if mime:
        return mime.split("/")[0]
    return {"speech": "audio", "music": "audio"}.get(media, media)


def media_item(paths: Sequence[Any], urls: Sequence[str], media: str, text: str | None = None, *,
               base: Path, embed_max: int = EMBED_MAX_BYTES) -> str:
    """The first result file of a job as self-contained HTML (embedded, or linked when too big)."""
    if media == "text" and text:
        return f'<blockquote class="prompt">{esc(text[:2000])}</blockquote>'
    if media == "character" and text:
        return f"<div>Sora character id: <code>{esc(text)}</code></div>"
    path = Path(paths[0]) if paths else None
    url = urls[0] if urls else None
    have = path is not None and path.exists()
    kind = _kind(path, url, media)
    if kind == "image":
        if have:
            try:
                return f'<img src="{thumbnail_data_uri(path, max_b64=THUMB_MAX_B64, max_side=THUMB_SIDE)}" alt="result">'
            except (OSError, ValueError, ImportError) as exc:
                return f'<div class="err">no preview ({esc(exc)})</div>'
        return f'<a href="{esc(url)}" rel="noopener">image (link)</a>' if url else "<em>(no file)</em>"
    if kind in ("video", "audio"):
        if have and path is not None and path.stat().st_size <= embed_max:
            mime = mimetypes.guess_type(path.name)[0] or ("video/mp4" if kind == "video" else "audio/mpeg")
            return f'<{kind} controls preload="metadata" src="{esc(data_uri(path, mime))}"></{kind}>'
        href = _rel(path, base) if have and path is not None else url
        size = f" ({path.stat().st_size / 1e6:.1f} MB)" if have and path is not None else ""
        if href:
            return (f'<{kind} controls preload="none" src="{esc(href)}"></{kind}>'
                    f'<div><a href="{esc(href)}">{kind} file{esc(size)}</a></div>')
        return "<em>(no file)</em>"
    if have and path is not None:
        return f'<a href="{esc(_rel(path, base))}">{esc(path.name)}</a>'
    return f'<a href="{esc(url)}" rel="noopener">{esc(url)}</a>' if url else "<em>(no file)</em>"


def card(*, media_html: str, model: str, status: str, credits: float | None, seconds: float | None,
         rating: int | None, prompt: str | None = None, error: str | None = None, job_id: str | None = None) -> str:
    """One result: media, then model · status · cost · time · rating, then the prompt (escaped)."""
    bits = [esc(model), esc(status), esc(credits_text(credits) if credits is not None else "")]
    if seconds is not None and seconds == seconds:
        bits.append(f"{seconds:.1f} s")
    mark = RATING_MARK.get(rating or 0)
    rated = f' · <span class="{"kept" if rating == 1 else "rejected"}">{esc(mark)}</span>' if mark else ""
    meta = " · ".join(b for b in bits if b) + rated
    err = f'<div class="err">{esc(error)}</div>' if error else ""
    said = f'<div class="prompt">{esc(prompt)}</div>' if prompt else ""
    jid = f' data-job="{esc(job_id)}"' if job_id else ""
    return f'<div class="card"{jid}>{media_html}<div class="meta">{meta}</div>{err}{said}</div>'


def document(title: str, body: str, subtitle: str = "") -> str:
    """A whole page: no script, no external resource."""
    stamp = time.strftime("%Y-%m-%d %H:%M")
    sub = f"{esc(subtitle)} · " if subtitle else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
            f'<h1>{esc(title)}</h1><div class="sub">{sub}made with phaya-notebook, {esc(stamp)}</div>'
            f"{body}</body></html>\n")


def summary_table(df: Any) -> str:
    """A summary DataFrame as an escaped HTML table (pandas escapes every cell and label)."""
    return str(df.to_html(classes="summary", escape=True, float_format=lambda x: f"{x:.3g}", na_rep="–"))


def write(path: str | os.PathLike[str], html_text: str) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html_text, encoding="utf-8")
    return out


def cards(items: Iterable[str]) -> str:
    return f'<div class="cards">{"".join(items)}</div>'
