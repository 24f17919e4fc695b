"""Compare runs: the same prompts through several models, as one priced grid.

Why a module of its own: a compare run is a plan (prompts × models × repeats, each
cell validated and priced from the catalog before anything is sent), a money check of
the whole grid by the client's ledger before its first job (:func:`check_money`, also
used by the compare grid widget and ``%phaya compare``), a run (every cell submitted
through the client's one submit path, so the session budget and the job log see each
job) and a result table (:class:`Comparison`: a DataFrame, an
HTML table with small thumbnails in which every piece of text is escaped, and
CSV / Parquet export).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import catalog
from .core.errors import InvalidParams, JobFailed, JobTimeout, PhayaError
from .core.money import Ledger, batch_line
from .display import esc as _esc
from .display import thumbnail_data_uri

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .core.client import AsyncPhaya

__all__ = ["Cell", "Comparison", "ModelSpec", "plan", "run"]

#: Longest side of a thumbnail in the HTML table, and its largest base64 size.
THUMB_SIDE = 160
THUMB_MAX_B64 = 16_000

ModelSpec = str | tuple[str, Mapping[str, Any]] | Mapping[str, Any]


@dataclass
class Cell:
    """One job of the grid: prompt × model × repeat, priced before anything runs."""

    prompt: str
    model: str
    service: str
    params: dict[str, Any]
    repeat: int
    estimate: float
    status: str = "planned"
    job_id: str | None = None
    credits: float | None = None
    refunded: bool = False
    duration: float | None = None
    url: str | None = None
    path: str | None = None
    media: str = ""
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The running Job once created (live progress reads its status; not part of the table).
    job: Any = field(default=None, repr=False, compare=False)


def _model_label(service: str, params: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"{service} ({shown})" if shown else service


def _normalize_model(spec: ModelSpec) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping):
        rest = dict(spec)
        service = rest.pop("service", None)
        if not isinstance(service, str):
            raise InvalidParams("compare", [catalog.ParamProblem(
                "models", f"{spec!r} has no 'service' key", "a service name, (service, params) or "
                "{'service': name, **params}")])
        return service, rest
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], str) \
            and isinstance(spec[1], Mapping):
        return spec[0], dict(spec[1])
    raise InvalidParams("compare", [catalog.ParamProblem(
        "models", f"{spec!r} is not a model", "a service name, (service, params) or {'service': name, **params}")])


def plan(prompts: Sequence[str] | str, models: Sequence[ModelSpec] | ModelSpec, repeats: int = 1) -> list[Cell]:
    """Validate and price every cell; raises InvalidParams naming the field before any request."""
    if isinstance(prompts, str):
        prompts = [prompts]
    if not isinstance(models, (list, tuple)) or (len(models) == 2 and isinstance(models[0], str)
                                                 and isinstance(models[1], Mapping)):
        models = [models]  # type: ignore[list-item]
    problems: list[catalog.ParamProblem] = []
    if not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
        problems.append(catalog.ParamProblem("prompts", "must be a non-empty list of non-empty texts",
                                             "a list of prompt strings"))
    if not models:
        problems.append(catalog.ParamProblem("models", "must not be empty",
                                             "service names or (service, params) pairs: "
                                             + ", ".join(catalog.SERVICES)))
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 20:
        problems.append(catalog.ParamProblem("repeats", f"{repeats!r} is not allowed", "an integer from 1 to 20"))
    if problems:
        raise InvalidParams("compare", problems)
    cells: list[Cell] = []
    labels: set[str] = set()
    for spec in models:
        name, params = _normalize_model(spec)
        try:
            svc = catalog.resolve_service(name)
        except catalog.ParamError as err:
            raise InvalidParams.from_param_error(err) from None
        if "prompt" not in {p.name for p in svc.params}:
            with_prompt = [s.name for s in catalog.SERVICES.values() if any(p.name == "prompt" for p in s.params)]
            raise InvalidParams("compare", [catalog.ParamProblem(
                "models", f"{svc.name} takes no prompt", ", ".join(with_prompt))])
        if "prompt" in params:
            raise InvalidParams("compare", [catalog.ParamProblem(
                "models", f"params of {svc.name} must not contain 'prompt' (the prompts come from prompts=)",
                "the other parameters: " + svc.param_names())])
        label = _model_label(svc.name, params)
        if label in labels:
            raise InvalidParams("compare", [catalog.ParamProblem("models", f"{label!r} is listed twice",
                                                                 "each model once (use repeats=)")])
        labels.add(label)
        for prompt in prompts:
            body = {**params, "prompt": prompt}
            try:
                est = catalog.estimate(svc, body)
            except catalog.ParamError as err:
                raise InvalidParams.from_param_error(err) from None
            for r in range(repeats):
                cells.append(Cell(prompt, label, svc.name, body, r, est.credits, media=svc.media))
    return cells


def total(cells: Iterable[Cell]) -> float:
    return round(sum(c.estimate for c in cells), 6)


def _what(cells: Sequence[Cell]) -> str:
    """"compare: 2 prompt(s) x 3 model(s) x 1": the grid's shape, as its price line names it."""
    prompts = len({c.prompt for c in cells})
    models = len({c.model for c in cells})
    repeats = max((c.repeat for c in cells), default=0) + 1
    return f"compare: {prompts} prompt(s) x {models} model(s) x {repeats}"


def price_line(cells: Sequence[Cell]) -> str:
    """"compare: 2 prompt(s) x 3 model(s) x 1 = 6 jobs, 9 credits in total" (the ledger's batch text)."""
    return batch_line(_what(cells), len(cells), total(cells))


def check_money(client: AsyncPhaya | Ledger, cells: Sequence[Cell], confirm: bool, *,
                confirm_hint: str = "pass confirm=True to run it") -> None:
    """The whole grid against the client's ledger (max_credits, daily cap, confirm) before anything
    starts: ``Session.compare``, the compare grid widget and ``%phaya compare`` refuse in these words."""
    ledger = client if isinstance(client, Ledger) else client.ledger
    ledger.check_batch(total(cells), jobs=len(cells), confirmed=confirm, what=_what(cells),
                       confirm_hint=confirm_hint)


async def _run_cell(client: AsyncPhaya, cell: Cell, tags: tuple[str, ...], timeout: float | None) -> None:
    started = time.time()
    job = None
    try:
        # The total was confirmed (or is under the threshold), so each job is too.
        job = await client.submit(cell.service, confirm=True, tags=tags, **cell.params)
        cell.job_id, cell.status, cell.job = job.id, job.status, job
        result = await job.wait(timeout=timeout)
        cell.url = result.url
        cell.path = str(result.path) if result.path else None
        cell.media = result.media
    except JobFailed as exc:
        cell.error = exc.error or str(exc)
    except JobTimeout as exc:
        cell.error = str(exc)
    except PhayaError as exc:
        cell.error = str(exc)
        cell.status = "not started" if job is None else cell.status
    finally:
        if job is not None:
            cell.status = job.status
            cell.refunded = bool(job.refunded)
            cell.credits = 0.0 if job.refunded else job.charged
            cell.duration = job.elapsed if job.done else time.time() - started


async def run(client: AsyncPhaya, cells: list[Cell], *, confirm: bool = False, tags: Sequence[str] = (),
              timeout: float | None = None, announce: Callable[[str], Any] | None = print) -> list[Cell]:
    """Check the money for the whole grid, then run every cell concurrently; cells are filled in."""
    for c in cells:  # the client's price: the catalog's, or a higher one it saw charged
        c.estimate = client.estimate(c.service, **c.params).credits
    check_money(client, cells, confirm)
    if announce is not None:
        announce(price_line(cells))
    await asyncio.gather(*(_run_cell(client, c, ("compare", *tags), timeout) for c in cells))
    return cells


# ---------------------------------------------------------------- the result


def _thumbnail(path: Path) -> str | None:
    """A small data URI from display's one thumbnail helper; None for unreadable files."""
    try:
        return thumbnail_data_uri(path, max_b64=THUMB_MAX_B64, max_side=THUMB_SIDE)
    except (OSError, ValueError, ImportError):
        return None


def _rel(path: str, base: Path) -> str:
    """A relative URL to a cached file, so Jupyter serves it next to the notebook."""
    try:
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(base))
    except ValueError:  # another drive on Windows
        rel = path
    return quote(rel.replace(os.sep, "/"))


def _media_html(cell: Cell, base: Path) -> str:
    path, url, media = cell.path, cell.url, cell.media
    if path and os.path.exists(path):
        src = _esc(_rel(path, base))
        ext = Path(path).suffix.lower()
        if media == "image" or ext in (".png", ".jpg", ".jpeg", ".webp", ".gif"):
            thumb = _thumbnail(Path(path))
            if thumb:
                return f'<a href="{src}" target="_blank"><img src="{thumb}" alt="result" style="max-width:160px"></a>'
            return f'<a href="{src}" target="_blank">image</a>'
        if media == "video" or ext in (".mp4", ".webm", ".mov"):
            return f'<video src="{src}" controls preload="metadata" style="max-width:160px"></video>'
        if media in ("audio", "speech") or ext in (".mp3", ".wav", ".ogg", ".m4a"):
            return f'<audio src="{src}" controls preload="none" style="width:160px"></audio>'
        return f'<a href="{src}" target="_blank">{_esc(Path(path).name)}</a>'
    if url:
        return f'<a href="{_esc(url)}" target="_blank" rel="noopener">result</a>'
    return ""


class Comparison:
    """A finished compare run: ``.df`` (one row per prompt × model × repeat) and an HTML grid."""

    COLUMNS = ("prompt", "model", "repeat", "service", "status", "estimated", "credits", "refunded",
               "duration", "url", "path", "media", "error", "job_id")

    def __init__(self, cells: Sequence[Cell], *, base_dir: str | os.PathLike[str] | None = None,
                 log: Any = None):
        self.cells = list(cells)
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        #: The JobLog the jobs were recorded in (ratings are read from it); None: unrated.
        self.log = log
        self.df = self._frame()

    def _frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = [{"prompt": c.prompt, "model": c.model, "repeat": c.repeat, "service": c.service,
                 "status": c.status, "estimated": c.estimate, "credits": c.credits, "refunded": c.refunded,
                 "duration": c.duration, "url": c.url, "path": c.path, "media": c.media, "error": c.error,
                 "job_id": c.job_id} for c in self.cells]
        df = pd.DataFrame(rows, columns=list(self.COLUMNS))
        for col in ("estimated", "credits", "duration"):
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        df["repeat"] = df["repeat"].astype("int64")
        df["refunded"] = df["refunded"].astype(bool)
        df["prompt"] = pd.Categorical(df["prompt"], categories=list(dict.fromkeys(df["prompt"])))
        df["model"] = pd.Categorical(df["model"], categories=list(dict.fromkeys(df["model"])))
        df["status"] = df["status"].astype("category")
        return df

    @property
    def total_credits(self) -> float:
        return float(self.df["credits"].fillna(0.0).sum())

    @property
    def estimated_credits(self) -> float:
        return float(self.df["estimated"].sum())

    def pivot(self, value: str = "status") -> pd.DataFrame:
        """prompt × model table of one column (the first repeat's value, or a list for several)."""
        if value not in self.COLUMNS:
            raise ValueError(f"pivot: {value!r} is not a column (allowed: {', '.join(self.COLUMNS)})")
        agg: Any = "first" if int(self.df["repeat"].max() or 0) == 0 else list
        return self.df.pivot_table(index="prompt", columns="model", values=value, aggfunc=agg, observed=True)

    def __repr__(self) -> str:
        done = int((self.df["status"] == "completed").sum())
        return (f"<Comparison {len(self.df)} jobs ({done} completed), {self.total_credits:g} credits "
                f"of {self.estimated_credits:g} estimated>")

    def _repr_html_(self) -> str:
        models = list(dict.fromkeys(c.model for c in self.cells))
        prompts = list(dict.fromkeys(c.prompt for c in self.cells))
        by_key: dict[tuple[str, str], list[Cell]] = {}
        for c in self.cells:
            by_key.setdefault((c.prompt, c.model), []).append(c)
        head = "".join(f"<th>{_esc(m)}</th>" for m in models)
        body = []
        for p in prompts:
            tds = []
            for m in models:
                parts = []
                for c in by_key.get((p, m), []):
                    money = "refunded" if c.refunded else ("" if c.credits is None else f"{c.credits:g} cr")
                    secs = "" if c.duration is None else f"{c.duration:.1f} s"
                    meta = " · ".join(_esc(x) for x in (c.status, money, secs) if x)
                    err = f'<div style="color:#b00">{_esc(c.error)}</div>' if c.error else ""
                    parts.append(f'<div>{_media_html(c, self.base_dir)}<div style="font-size:smaller">'
                                 f'{meta}</div>{err}</div>')
                tds.append(f'<td style="vertical-align:top">{"".join(parts)}</td>')
            body.append(f'<tr><th style="text-align:left;max-width:240px">{_esc(p)}</th>{"".join(tds)}</tr>')
        caption = _esc(repr(self))
        return (f'<table class="phaya-compare"><caption>{caption}</caption>'
                f"<thead><tr><th>prompt</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")

    def ratings(self) -> dict[str, int]:
        """{job_id: 1 | -1} of the rated jobs of this run, read from the log now."""
        if self.log is None:
            return {}
        return dict(self.log.ratings(c.job_id for c in self.cells if c.job_id))

    def summary(self, by: str | Sequence[str] = "model") -> pd.DataFrame:
        """Per model (or ``by="prompt"``, or both): jobs, completed, kept, keep_rate, credits,
        credits_per_kept, median_seconds — kept means rated 1 (``phaya.rate`` or 👍)."""
        from .decide import summarize

        rated = self.ratings()
        rows = self.df.assign(rating=[rated.get(j) if j else None for j in self.df["job_id"]])
        return summarize(rows, by)

    def plot_summary(self, by: str | Sequence[str] = "model", ax: Any = None) -> Any:
        """Credits per kept result per model, keep rate on each bar (matplotlib Axes)."""
        from .decide import plot

        return plot(self.summary(by), ax=ax)

    def to_html(self, path: str | os.PathLike[str], *, title: str = "Comparison",
                embed_max: int | None = None) -> Path:
        """One self-contained HTML file (prompt × model grid, costs, ratings, the summary) to
        send to someone without a notebook. Images are embedded thumbnails; video and audio
        are embedded up to ``embed_max`` bytes (``report.EMBED_MAX_BYTES``), else linked."""
        from . import report

        out = Path(path)
        base = out.resolve().parent
        limit = report.EMBED_MAX_BYTES if embed_max is None else embed_max
        rated = self.ratings()
        models = list(dict.fromkeys(c.model for c in self.cells))
        prompts = list(dict.fromkeys(c.prompt for c in self.cells))
        by_key: dict[tuple[str, str], list[Cell]] = {}
        for c in self.cells:
            by_key.setdefault((c.prompt, c.model), []).append(c)
        rows = []
        for p in prompts:
            tds = []
            for m in models:
                items = [report.card(
                    media_html=report.media_item([c.path] if c.path else [], [c.url] if c.url else [], c.media,
                                                 base=base, embed_max=limit),
                    model=c.model, status=c.status, credits=0.0 if c.refunded else c.credits,
                    seconds=c.duration, rating=rated.get(c.job_id or ""), error=c.error, job_id=c.job_id)
                    for c in by_key.get((p, m), [])]
                tds.append(f"<td>{''.join(items)}</td>")
            rows.append(f'<tr><th class="prompt">{_esc(p)}</th>{"".join(tds)}</tr>')
        head = "".join(f"<th>{_esc(m)}</th>" for m in models)
        summary = ""
        if any(c.job_id for c in self.cells):
            summary = "<h2>Per model</h2>" + report.summary_table(self.summary())
        body = (f"{summary}<h2>Results</h2><table class=\"grid\"><thead><tr><th>prompt</th>{head}</tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>")
        return report.write(out, report.document(title, body, repr(self)))

    def to_csv(self, path: str | os.PathLike[str], **kw: Any) -> Path:
        self.df.to_csv(path, index=False, **kw)
        return Path(path)

    def to_parquet(self, path: str | os.PathLike[str], **kw: Any) -> Path:
        """Needs pyarrow (or fastparquet) installed; prompt/model stay categorical."""
        self.df.to_parquet(path, index=False, **kw)
        return Path(path)

    def to_json(self) -> str:
        return json.dumps(self.df.astype(object).where(self.df.notna(), None).to_dict("records"), default=str)
