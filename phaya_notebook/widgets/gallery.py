"""The history gallery: every past job of the log as a thumbnail with its cost, paged.

Why paged in SQL: a log grows to tens of thousands of jobs; a page is one ``LIMIT/OFFSET``
query on the ``created_at`` index plus one ``count(*)``, so the first page opens in the same
time at 100 or 100,000 rows (``tests/benchmarks/bench_gallery.py`` prints the figure).
Standard ipywidgets: one HTML widget per card (its thumbnail and caption) plus the 👍/👎
and Remix buttons on one row, layouts and styles shared (~6 widget models per card). Measured
(bench_gallery.py, the JupyterLab test): the page is built in ~90 ms and drawn by JupyterLab
in ~0.7 s on an idle machine, so no custom front end; anywidget (one model for the whole
grid) is the step to take if pages grow or the browser side must get faster.

Remix puts a past job's model, prompt and parameters into a studio (the one passed in,
or a new one shown under the gallery) to edit and run again.

CSS: ``phaya-history`` on the widget, ``phaya-history-card`` on each card, ``phaya-remix``
on its Remix button, ``phaya-page`` on the page label, ``phaya-rating`` on the 👍/👎.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import ipywidgets as w
from ipywidgets.widgets.widget_string import HTMLStyle

from ..catalog import credits_text
from ..display import cached_thumbnail, esc, relative_src, thumbnail_data_uri
from .rating import RateButtons, rater_of
from .tasks import TaskSet, has_running_loop

__all__ = ["Gallery"]

PAGE_SIZE = 24
THUMB_SIDE = 160
THUMB_MAX_B64 = 12_000
_ALL = "(all)"
RATING_FILTERS = [("all ratings", None), ("👍 kept", 1), ("👎 rejected", -1), ("not rated", "unrated")]
_ERR = "color:#b00"
PENDING = '<div class="phaya-thumb-pending" style="height:90px;color:#999">…</div>'
# Shared layouts: a page of 24 cards makes ~190 widget models instead of ~540.
_CARD_LAYOUT = w.Layout(width=f"{THUMB_SIDE + 60}px", border="1px solid #ddd", padding="4px")
_AUTO = w.Layout(width="auto")
_ROW = w.Layout()
_HTML_STYLE = HTMLStyle()
_BUTTON_STYLE = w.ButtonStyle()


def _ago(t: float | None) -> str:
    if not t:
        return ""
    secs = max(0.0, time.time() - float(t))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if secs >= size:
            return f"{secs // size:.0f} {unit} ago"
    return "just now"


def _net(row: dict[str, Any]) -> float | None:
    if row.get("charged") is None:
        return row.get("estimated")
    return round(float(row["charged"]) - float(row.get("refunded") or 0.0), 6)


def thumb_html(row: dict[str, Any], side: int = THUMB_SIDE, *, cache_dir: Path | None = None,
               cached_only: bool = False) -> str | None:
    """The card's picture: an embedded thumbnail for images, a player for video/audio.

    ``cached_only``: None instead of decoding an image whose thumbnail is not made yet.
    """
    paths = [Path(p) for p in (row.get("paths") or [])]
    path = next((p for p in paths if p.exists()), None)
    if row.get("output") and not path:
        return f'<blockquote style="margin:0;max-height:{side}px;overflow:hidden">{esc(row["output"][:300])}</blockquote>'
    if path is None:
        status = str(row.get("status") or "")
        color = _ERR if status in ("failed", "cancelled", "lost") else "color:#666"
        return f'<div style="height:{side // 2}px;{color}">{esc(status or "no file")}</div>'
    ext = path.suffix.lower()
    if ext in (".png", ".jpg", ".jpeg", ".webp", ".gif"):
        try:
            uri = cached_thumbnail(path, THUMB_MAX_B64, side, cache_dir)
            if uri is None and cached_only:
                return None
            uri = uri or thumbnail_data_uri(path, max_b64=THUMB_MAX_B64, max_side=side, cache_dir=cache_dir)
        except (OSError, ValueError) as exc:
            return f"<small>no preview: {esc(exc)}</small>"
        return f'<img src="{uri}" alt="result" style="max-width:{side}px;max-height:{side}px;border-radius:4px">'
    src = esc(relative_src(path))
    if ext in (".mp4", ".webm", ".mov"):
        return f'<video src="{src}" controls preload="metadata" muted style="max-width:{side}px"></video>'
    if ext in (".mp3", ".wav", ".ogg", ".m4a", ".aac", ".flac"):
        return f'<audio src="{src}" controls preload="none" style="width:{side}px"></audio>'
    return f'<a href="{src}" target="_blank">{esc(path.name)}</a>'


def caption_html(row: dict[str, Any]) -> str:
    status = str(row.get("status") or "")
    bits = [esc(row.get("model") or row.get("service") or ""), esc(credits_text(_net(row)))]
    if row.get("duration") is not None:
        bits.append(f"{float(row['duration']):.0f} s")
    bits.append(esc(_ago(row.get("created_at"))))
    state = "" if status == "completed" else f'<span style="{_ERR}">{esc(status)}</span> · '
    prompt = str(row.get("prompt") or "")
    short = prompt[:140] + ("…" if len(prompt) > 140 else "")
    tags = ", ".join(row.get("tags") or [])
    return (f'<div style="font-size:11px;line-height:1.3">{state}{" · ".join(b for b in bits if b)}'
            f'<div title="{esc(prompt)}" style="white-space:pre-wrap;color:#333">{esc(short)}</div>'
            + (f'<div style="color:#888">{esc(tags)}</div>' if tags else "") + "</div>")


def _close_tree(widgets: Any) -> None:
    """Close a page's card widgets (not the shared layouts and styles) so paging does not leak."""
    for widget in widgets:
        _close_tree(getattr(widget, "children", ()))
        widget.close()


class Gallery(w.VBox):
    """Past jobs of ``client``'s job log, newest first, filtered and paged."""

    def __init__(self, client: Any, *, page_size: int = PAGE_SIZE, studio: Any = None,
                 service: str | None = None, tag: str | None = None, rating: Any = None, text: str | None = None):
        log = getattr(client, "log", None)
        if log is None:
            raise ValueError("gallery: this client keeps no job log (use phaya_notebook.connect())")
        self.client, self.joblog = client, log
        self.rate = rater_of(client)
        self.studio = studio
        self.page_size = max(1, int(page_size))
        self.page = 0
        self.total = 0
        self.rows: list[dict[str, Any]] = []
        self.tasks = TaskSet(on_error=self._show_error)
        cache = getattr(getattr(getattr(client, "aio", client), "cache", None), "root", None)
        self.thumb_dir: Path | None = Path(cache) / "thumbs" if cache is not None else None
        self._cards: list[tuple[w.HTML, dict[str, Any]]] = []
        self.error = w.HTML("")
        self.error.add_class("phaya-error")
        services = log.services()
        self.service = w.Dropdown(options=[_ALL, *services], value=service if service in services else _ALL,
                                  description="Service", layout=w.Layout(width="280px"))
        self.tag = w.Text(value=tag or "", placeholder="tag", description="Tag", continuous_update=False,
                          layout=w.Layout(width="200px"))
        self.rating = w.Dropdown(options=RATING_FILTERS, value=rating, description="Rating",
                                 layout=w.Layout(width="220px"))
        self.text = w.Text(value=text or "", placeholder="words in the prompt or model", description="Search",
                           continuous_update=False, layout=w.Layout(width="320px"))
        self.prev_button = w.Button(description="◀ Newer", layout=w.Layout(width="auto"))
        self.next_button = w.Button(description="Older ▶", layout=w.Layout(width="auto"))
        self.page_label = w.HTML("")
        self.page_label.add_class("phaya-page")
        self.grid = w.Box(layout=w.Layout(display="flex", flex_flow="row wrap", gap="8px"))
        self.grid.add_class("phaya-history-grid")
        self.remix_box = w.VBox()
        for control in (self.service, self.tag, self.rating, self.text):
            control.observe(lambda _: self.show_page(0), names="value")
        self.prev_button.on_click(lambda _: self.show_page(self.page - 1))
        self.next_button.on_click(lambda _: self.show_page(self.page + 1))
        super().__init__([w.HBox([self.service, self.rating]), w.HBox([self.tag, self.text]),
                          w.HBox([self.prev_button, self.page_label, self.next_button]), self.error,
                          self.grid, self.remix_box])
        self.add_class("phaya-history")
        self.show_page(0)

    # ------------------------------------------------------------ data
    def filters(self) -> dict[str, Any]:
        return {"service": None if self.service.value == _ALL else self.service.value,
                "tag": self.tag.value.strip() or None, "rating": self.rating.value,
                "text": self.text.value.strip() or None}

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    def show_page(self, page: int) -> None:
        """Query one page (SQL LIMIT/OFFSET) and show it."""
        f = self.filters()
        self.total = self.joblog.count(**f)
        self.page = max(0, min(int(page), self.pages - 1))
        self.rows = self.joblog.browse(**f, limit=self.page_size, offset=self.page * self.page_size)
        old = self.grid.children
        # In a kernel the page shows at once and thumbnails not made yet fill in from a task;
        # without a running loop (a script) they are made here.
        lazy = has_running_loop()
        self._cards = []
        self.grid.children = tuple(self._card(r, lazy) for r in self.rows)
        _close_tree(old)
        pending = [(h, r) for h, r in self._cards if h.value.startswith(PENDING)]
        if pending:
            self.tasks.spawn(self._fill(pending, self.page), name="phaya-gallery-thumbs")
        first = self.page * self.page_size + 1 if self.rows else 0
        self.page_label.value = (f"&nbsp;page {self.page + 1} of {self.pages} · jobs {first}–"
                                 f"{first + len(self.rows) - 1 if self.rows else 0} of {self.total:,}&nbsp;")
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.pages - 1

    async def _fill(self, pending: list[tuple[w.HTML, dict[str, Any]]], page: int) -> None:
        """Make the missing thumbnails one at a time off the loop (the kernel stays responsive)."""
        import asyncio

        loop = asyncio.get_running_loop()
        for box, row in pending:
            if page != self.page or box not in (h for h, _ in self._cards):
                return  # the user moved on: this page is gone
            thumb = await loop.run_in_executor(None, lambda r=row: thumb_html(r, cache_dir=self.thumb_dir))
            box.value = (thumb or "") + caption_html(row)

    async def wait(self, timeout: float | None = None) -> None:
        """Until every thumbnail of the page is shown (tests, benchmarks)."""
        await self.tasks.join(timeout)

    def _show_error(self, exc: BaseException) -> None:
        self.error.value = f'<span style="{_ERR}">{esc(type(exc).__name__)}: {esc(exc)}</span>'

    def _card(self, row: dict[str, Any], lazy: bool = False) -> w.Widget:
        thumb = thumb_html(row, cache_dir=self.thumb_dir, cached_only=lazy)
        box = w.HTML((thumb if thumb is not None else PENDING) + caption_html(row), layout=_ROW, style=_HTML_STYLE)
        self._cards.append((box, row))
        parts: list[w.Widget] = [box]
        row_widget: w.Widget
        remix = w.Button(description="Remix", icon="random", tooltip="Load this prompt and its parameters "
                         "into the studio", layout=_AUTO, style=_BUTTON_STYLE)
        remix.add_class("phaya-remix")
        remix.on_click(lambda _, r=row: self.remix(r))
        if self.rate is not None and row.get("status") == "completed":  # one row: 👍 👎 Remix
            row_widget = RateButtons(str(row["job_id"]), self.rate, value=row.get("rating"), extra=(remix,),
                                     on_error=lambda text: self._show_error(RuntimeError(text)))
        else:
            row_widget = w.HBox([remix], layout=_ROW)
        parts.append(row_widget)
        card = w.VBox(parts, layout=_CARD_LAYOUT)
        card.add_class("phaya-history-card")
        return card

    # ------------------------------------------------------------ remix
    def remix(self, row: dict[str, Any]) -> Any:
        """Put this job's model, prompt and parameters into the studio (made on first use)."""
        params = row.get("params")
        if isinstance(params, str):
            params = json.loads(params)
        params = dict(params or {})
        if row.get("prompt") and "prompt" not in params:
            params["prompt"] = row["prompt"]
        if self.studio is None:
            from .studio import Studio

            self.studio = Studio(self.client)
            self.remix_box.children = (w.HTML("<b>Remix</b>"), self.studio)
        self.studio.load(str(row["service"]), params)
        return self.studio

    # ------------------------------------------------------------ sharing
    def to_html(self, path: str | os.PathLike[str], *, limit: int = 500, title: str = "Phaya results",
                embed_max: int | None = None) -> Path:
        """The jobs of the current filter (newest first, at most ``limit``) as one self-contained
        HTML file: embedded thumbnails, video/audio embedded under ``embed_max`` bytes else linked."""
        from .. import report

        out = Path(path)
        base = out.resolve().parent
        cap = report.EMBED_MAX_BYTES if embed_max is None else embed_max
        f = self.filters()
        rows = self.joblog.browse(**f, limit=limit, offset=0)
        items = []
        for r in rows:
            media = str(r.get("service") or "")
            try:
                from ..catalog import resolve_service

                media = resolve_service(media).media
            except Exception:  # noqa: BLE001 - an unknown service: guess from the file
                pass
            items.append(report.card(
                media_html=report.media_item(r.get("paths") or [], r.get("urls") or [], media, r.get("output"),
                                             base=base, embed_max=cap),
                model=str(r.get("model") or r.get("service") or ""), status=str(r.get("status") or ""),
                credits=_net(r), seconds=r.get("duration"), rating=r.get("rating"), prompt=r.get("prompt"),
                error=r.get("error") if r.get("status") != "completed" else None, job_id=r.get("job_id")))
        shown = {k: v for k, v in f.items() if v is not None}
        sub = f"{len(rows)} of {self.total:,} jobs" + (f" ({', '.join(f'{k}={v}' for k, v in shown.items())})"
                                                      if shown else "")
        return report.write(out, report.document(title, report.cards(items), sub))
