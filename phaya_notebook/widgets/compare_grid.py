"""Compare grid: prompts (one per line) × models → a grid whose cells fill in as jobs finish.

The total price is computed from the catalog (and the prices the client saw charged),
checked whole against the client's ledger — ``max_credits`` and the daily cap, the same
rule and words as ``Session.compare`` (``compare.check_money``) — and confirmed with the
budget left in view before anything is sent. Each cell is a :class:`JobCard`, so it
shows progress, then media, cost and time.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from .. import catalog
from ..catalog import ParamError, Service
from ..core.errors import PhayaError
from ..display import esc as _e
from .confirm import ConfirmBar
from .jobcard import JobCard
from .rating import rater_of
from .studio import aio_of
from .tasks import TaskSet

__all__ = ["CompareGrid"]

ERR = "color:#b00"


def _prompt_services() -> list[tuple[str, str]]:
    """Models a prompt alone can drive (a required prompt and no other required field)."""
    out = []
    for s in catalog.SERVICES.values():
        names = {p.name for p in s.params}
        others = [p for p in s.params if p.required and p.name != "prompt"]
        if "prompt" in names and not others:
            est = s.price({p.name: p.default for p in s.params if p.default is not None}, {})
            out.append((f"{s.media} · {s.label} ({s.name}) — {est.credits:g} cr", s.name))
    return out


class CompareGrid(w.VBox):
    """CSS: ``phaya-compare`` on the widget, ``phaya-compare-cell`` on each cell."""

    def __init__(self, client: Any, *, tick: float = 0.5):
        self.client = client
        self.aio = aio_of(client)
        self.tick = tick
        self.tasks = TaskSet(on_error=self.show_error)
        self.plan: list[tuple[str, Service]] = []
        self.prices: list[float] = []  # per job of the plan, as priced when the plan was made
        self.total: float | None = None
        self.cells: dict[tuple[int, int], w.Box] = {}
        self.cards: dict[tuple[int, int], JobCard] = {}

        self.prompts = w.Textarea(placeholder="One prompt per line", layout=w.Layout(width="100%", height="90px"))
        self.prompts.add_class("phaya-prompt")
        opts = _prompt_services()
        self.models = w.SelectMultiple(options=opts, value=(opts[0][1],) if opts else (), rows=min(8, len(opts)),
                                       description="Models", layout=w.Layout(width="560px"))
        self.models.add_class("phaya-model")
        self.cost = w.HTML("")
        self.cost.add_class("phaya-cost")
        self.start_button = w.Button(description="Compare…", icon="th", button_style="primary")
        self.start_button.add_class("phaya-generate")
        self.confirm_box = ConfirmBar()
        self.error = w.HTML("")
        self.error.add_class("phaya-error")
        self.grid = w.GridBox(layout=w.Layout(grid_gap="6px"))
        self.grid.add_class("phaya-compare-grid")

        self.prompts.observe(self._changed, names="value")
        self.models.observe(self._changed, names="value")
        self.start_button.on_click(self._on_start)
        self.confirm_box.on_confirm(self._on_confirm)
        self.confirm_box.on_cancel(lambda _: self._hide_confirm())
        super().__init__([self.prompts, self.models, w.HBox([self.start_button, self.cost]),
                          self.confirm_box, self.error, self.grid])
        self.add_class("phaya-compare")
        self._changed()

    # ------------------------------------------------------------ pricing
    def _lines(self) -> list[str]:
        return [ln.strip() for ln in self.prompts.value.splitlines() if ln.strip()]

    def _changed(self, change: Any = None) -> None:
        self._hide_confirm()
        prompts, models = self._lines(), [catalog.resolve_service(m) for m in self.models.value]
        self.plan, self.prices, self.total = [], [], None
        if not prompts or not models:
            self.cost.value = f'<span style="{ERR}">{"add at least one prompt" if not prompts else "pick a model"}</span>'
            self.start_button.disabled = True
            return
        for p in prompts:
            for svc in models:
                try:
                    price = self.aio.estimate(svc.name, prompt=p).credits  # observed prices too
                except ParamError as exc:
                    self.cost.value = f'<span style="{ERR}">{_e(exc)}</span>'
                    self.plan, self.prices = [], []
                    self.start_button.disabled = True
                    return
                self.plan.append((p, svc))
                self.prices.append(price)
        self.total = round(sum(self.prices), 6)
        self.cost.value = f"<b>{len(self.plan)} jobs · total {catalog.credits_text(self.total)}</b>"
        self.start_button.disabled = False

    # ------------------------------------------------------------ confirm, then run
    def _refused(self) -> bool:
        """Check the whole grid with the ledger before anything is sent; shows why when it does not fit."""
        from ..compare import Cell, check_money

        cells = [Cell(p, svc.name, svc.name, {"prompt": p}, 0, price)
                 for (p, svc), price in zip(self.plan, self.prices, strict=True)]
        try:  # the grid always asks before it runs: the confirm rule is its confirm bar
            check_money(self.aio, cells, confirm=True)
        except PhayaError as exc:
            self.show_error(exc)
            return True
        return False

    def _on_start(self, _: Any = None) -> None:
        if self.total is None:
            return
        self.error.value = ""
        if self._refused():
            return
        budget = self.aio.ledger.budget_text()
        self.confirm_box.show(f"Run {len(self.plan)} jobs for {catalog.credits_text(self.total)} in total?"
                              + (f" {_e(budget)}" if budget else ""))
        self.start_button.disabled = True

    def _hide_confirm(self) -> None:
        self.confirm_box.hide()
        self.start_button.disabled = self.total is None

    def _on_confirm(self, _: Any = None) -> None:
        self.confirm_box.hide()
        self.error.value = ""
        if self.total is None or self._refused():  # again: other jobs may have committed meanwhile
            self.start_button.disabled = self.total is None
            return
        prompts, models = self._lines(), list(self.models.value)
        header = [w.HTML("<b>prompt</b>")] + [w.HTML(f"<b>{_e(catalog.resolve_service(m).label)}</b>") for m in models]
        cells: list[w.Widget] = list(header)
        self.cells, self.cards = {}, {}
        for i, prompt in enumerate(prompts):
            cells.append(w.HTML(_e(prompt)))
            for j, name in enumerate(models):
                cell = w.VBox([w.HTML("<i>submitting…</i>")])
                cell.add_class("phaya-compare-cell")
                self.cells[(i, j)] = cell
                cells.append(cell)
                self.tasks.spawn(self._run_cell(i, j, prompt, catalog.resolve_service(name)))
        self.grid.layout.grid_template_columns = f"minmax(120px, 200px) repeat({len(models)}, minmax(220px, 1fr))"
        self.grid.children = tuple(cells)
        self.start_button.disabled = self.total is None

    async def _run_cell(self, i: int, j: int, prompt: str, svc: Service) -> None:
        cell = self.cells[(i, j)]
        try:
            job = await self.aio.submit(svc.name, confirm=True, tags=("compare",), prompt=prompt)
        except Exception as exc:
            cell.children = (w.HTML(f'<span style="{ERR}">{_e(type(exc).__name__)}: {_e(exc)}</span>'),)
            raise
        card = JobCard(job, spawn=self.tasks.spawn, title=f"{svc.label}", tick=self.tick,
                       rate=rater_of(self.client))
        self.cards[(i, j)] = card
        cell.children = (card,)
        await card.run()

    def comparison(self) -> Any:
        """The grid's jobs so far as a :class:`~phaya_notebook.compare.Comparison` (for
        ``summary()``, ``to_html(path)``, CSV...); ratings are read from the session's log."""
        from ..compare import Cell, Comparison

        cells = []
        for (_, _), card in sorted(self.cards.items()):
            job, res = card.job, card.result
            svc = job.service
            cells.append(Cell(
                prompt=str(job.params.get("prompt", "")), model=svc.name, service=svc.name, params=dict(job.params),
                repeat=0, estimate=job.estimate.credits, status=str(job.status), job_id=job.id,
                credits=0.0 if job.refunded else job.charged, refunded=bool(job.refunded),
                duration=job.elapsed if job.done else None, url=getattr(res, "url", None),
                path=str(res.path) if res is not None and res.path else None, media=svc.media, error=job.error))
        return Comparison(cells, log=getattr(self.client, "log", None))

    def show_error(self, exc: BaseException) -> None:
        self.error.value = f'<span style="{ERR}">{_e(type(exc).__name__)}: {_e(exc)}</span>'

    async def wait(self, timeout: float | None = None) -> None:
        await self.tasks.join(timeout)
