"""The studio: prompt, model, its controls, a live price, Generate, running jobs, gallery.

Everything that waits runs as tasks on the kernel's loop (``TaskSet``); the click
handlers only validate and start tasks, so a click returns at once and other cells run
while jobs progress. Validation and prices come from the catalog, never from here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ipywidgets as w

from .. import catalog
from ..catalog import Estimate, ParamError, Service
from ..core.errors import PhayaError
from ..display import esc as _e
from .confirm import ConfirmBar
from .controls import ParamControls, model_options
from .jobcard import JobCard
from .rating import rater_of
from .tasks import TaskSet, has_running_loop

__all__ = ["Studio", "budget_left", "daily_left"]

WARN = "color:#b35c00;font-weight:bold"
#: Least seconds between two balance requests after a burst of finished jobs.
BALANCE_EVERY = 1.0
ERR = "color:#b00"
#: Most takes (jobs) one Generate may start.
MAX_TAKES = 8


def aio_of(client: Any) -> Any:
    """The AsyncPhaya behind a Session/Phaya (``.aio``), or the client itself."""
    return getattr(client, "aio", client)


def budget_left(aio: Any) -> float | None:
    """Credits the session budget (``max_credits``) still allows, None when unlimited: the client's
    ``Ledger.budget_left`` (one place says what is left)."""
    ledger = getattr(aio, "ledger", None)
    return None if ledger is None else ledger.budget_left


def daily_left(aio: Any) -> float | None:
    """Credits left of the key's daily cap today (every process on the key), None without one."""
    cap = getattr(aio, "daily_cap", None)
    if cap is None:
        return None
    try:
        return float(cap.left)
    except Exception:  # the shared log is unreadable: say nothing rather than break the studio
        return None


def _chat_prices_html() -> str:
    """Chat and embedding prices per million tokens, as Phaya lists them (for the studio's footer)."""
    m = catalog.CHAT_MODELS[catalog.DEFAULT_CHAT_MODEL]
    emb = ", ".join(f"{v:.2f}" for v in catalog.EMBEDDING_MODELS.values())
    return (f"<small>Chat ({_e(m.name)}, <code>chat_box()</code>): {_e(m.price_text)} · "
            f"embeddings: {emb} per million tokens</small>")


class Studio(w.VBox):
    """Prompt exploration for one session. CSS class ``phaya-studio`` (see widgets/__init__)."""

    def __init__(self, client: Any, *, model: str = "text-to-image", tick: float = 0.5):
        self.client = client
        self.aio = aio_of(client)
        self.tick = tick
        self.tasks = TaskSet(on_error=self.show_error)
        self.balance: float | None = None
        self.cards: list[JobCard] = []
        self._pending: tuple[Service, dict[str, Any], Estimate] | None = None
        self._estimate: Estimate | None = None
        self._seq = 0
        self._balance_task: asyncio.Task[None] | None = None
        self._balance_again = False
        self._reconcile_task: asyncio.Task[None] | None = None
        self._reconcile_again = False

        self.prompt = w.Textarea(placeholder="Describe what to make…", layout=w.Layout(width="100%", height="80px"))
        self.prompt.add_class("phaya-prompt")
        self.model = w.Dropdown(options=model_options(), value=catalog.resolve_service(model).name,
                                description="Model", layout=w.Layout(width="560px"))
        self.model.add_class("phaya-model")
        self.controls_box = w.VBox()
        self.cost = w.HTML("")
        self.cost.add_class("phaya-cost")
        self.balance_label = w.HTML("balance: …")
        self.balance_label.add_class("phaya-balance")
        self.takes = w.BoundedIntText(value=1, min=1, max=MAX_TAKES, description="Takes",
                                      description_tooltip="Jobs per Generate (each one is charged); "
                                      "a set seed goes up by one per take",
                                      layout=w.Layout(width="150px"), style={"description_width": "50px"})
        self.takes.add_class("phaya-takes")
        self.generate = w.Button(description="Generate", icon="play", button_style="primary")
        self.generate.add_class("phaya-generate")
        self.reason = w.HTML("")
        self.reason.add_class("phaya-reason")
        self.confirm_box = ConfirmBar()
        self.error = w.HTML("")
        self.error.add_class("phaya-error")
        self.running_label = w.HTML("")
        self.jobs_box = w.VBox()
        self.jobs_box.add_class("phaya-jobs")
        self.gallery = w.VBox()
        self.gallery.add_class("phaya-gallery")
        self.controls: ParamControls | None = None
        self.chat_prices = w.HTML(_chat_prices_html())
        self.chat_prices.add_class("phaya-chat-prices")

        self.prompt.observe(self._changed, names="value")
        self.takes.observe(self._changed, names="value")
        self.model.observe(self._model_changed, names="value")
        self.generate.on_click(self._on_generate)
        self.confirm_box.on_confirm(self._on_confirm)
        self.confirm_box.on_cancel(self._on_cancel_confirm)
        super().__init__([
            self.prompt, self.model, self.controls_box,
            w.HBox([self.cost, w.HTML("&nbsp;·&nbsp;"), self.balance_label]),
            w.HBox([self.takes, self.generate, self.reason]), self.confirm_box, self.error,
            self.running_label, self.jobs_box, w.HTML("<b>Results</b> (newest first)"), self.gallery,
            self.chat_prices,
        ])
        self.add_class("phaya-studio")
        self._model_changed()
        self.refresh_balance()

    # ------------------------------------------------------------ state
    @property
    def service(self) -> Service:
        return catalog.resolve_service(self.model.value)

    def params(self) -> dict[str, Any]:
        """The request as the user has set it (prompt + the model's controls)."""
        svc = self.service
        params = self.controls.params() if self.controls is not None else {}
        if any(p.name == "prompt" for p in svc.params):
            required = svc.param("prompt").required
            if required or self.prompt.value.strip():
                params["prompt"] = self.prompt.value
        return params

    def _model_changed(self, change: Any = None) -> None:
        svc = self.service
        self.controls = ParamControls(svc, uploader=self._upload, spawn=self.tasks.spawn)
        self.controls.on_change(self._changed)
        self.controls_box.children = (self.controls,)
        has_prompt = any(p.name == "prompt" for p in svc.params)
        self.prompt.disabled = not has_prompt
        self.prompt.placeholder = "Describe what to make…" if has_prompt else f"({svc.label} takes no prompt)"
        self._changed()

    def _changed(self, change: Any = None) -> None:
        """Re-price on every change; enable Generate only for a valid request."""
        if self._pending is not None:  # the price being confirmed is no longer what is asked
            self._hide_confirm()
        svc = self.service
        try:
            est = self._price(svc, self.params())
        except ParamError as exc:
            self._estimate = None
            self.cost.value = f'cost: <span title="{_e(exc)}">—</span>'
            self.generate.disabled = True
            self.generate.tooltip = str(exc)
            self.reason.value = f'<span style="{ERR}">{_e("; ".join(str(p) for p in exc.problems))}</span>'
            return
        self._estimate = est
        self.generate.disabled = False
        n = self.n_takes
        self.generate.tooltip = (f"Run {svc.label} for {catalog.credits_text(est.credits)}"
                                 + (f" × {n} takes" if n > 1 else ""))
        self.reason.value = ""
        self.cost.value = self._cost_html(est)

    def _price(self, svc: Service, params: dict[str, Any]) -> Estimate:
        """The client's price (a higher observed charge shows as "catalog 6 · last charged 12")."""
        estimate = getattr(self.aio, "estimate", None)
        return estimate(svc.name, **params) if callable(estimate) else catalog.estimate(svc, params)

    @property
    def n_takes(self) -> int:
        return max(1, min(MAX_TAKES, int(self.takes.value or 1)))

    def _cost_html(self, est: Estimate) -> str:
        n = self.n_takes
        approx = '' if est.exact else '≤ ' if 'at most' in est.basis else '~'
        total = round(est.credits * n, 6)
        text = f"cost: {approx}{catalog.credits_text(est.credits)}"
        if n > 1:
            text = f"cost: {n} × {approx}{catalog.credits_text(est.credits)} = {catalog.credits_text(total)}"
        warn = []
        if self.balance is not None and total > self.balance:
            warn.append(f"exceeds your balance of {self.balance:g}")
        left = budget_left(self.aio)
        if left is not None and total > left:
            warn.append(f"exceeds the session budget ({left:g} left)")
        day_left = daily_left(self.aio)
        if day_left is not None and total > day_left:
            warn.append(f"exceeds the daily cap ({day_left:g} left today)")
        confirm_above = getattr(self.aio, "confirm_above", None)
        note = f" <small>({_e(est.basis)})</small>" if est.basis else ""
        if warn:
            self.cost.add_class("phaya-cost-warning")
            return f'<span style="{WARN}">⚠ {_e(text)} — {_e("; ".join(warn))}</span>{note}'
        self.cost.remove_class("phaya-cost-warning")
        if confirm_above is not None and total > confirm_above:
            note += f" <small>(above {confirm_above:g}: asks to confirm)</small>"
        return f"<b>{_e(text)}</b>{note}"

    # ------------------------------------------------------------ balance
    def refresh_balance(self) -> Any:
        """Fetch the balance in the background (the cell that shows the studio never waits).

        Calls coalesce: while a fetch runs, further requests make one more fetch afterwards,
        at most every ``BALANCE_EVERY`` seconds, so twenty jobs finishing together spend two
        or three requests of the shared budget, not twenty.
        """
        if not has_running_loop():
            return None
        if self._balance_task is not None and not self._balance_task.done():
            self._balance_again = True
            return self._balance_task
        self._balance_task = self.tasks.spawn(self._fetch_balance(), name="phaya-balance")
        return self._balance_task

    async def _fetch_balance(self) -> None:
        while True:
            self._balance_again = False
            self.balance = float(await self.aio.credits())
            left = budget_left(self.aio)
            extra = f" · session budget left: {left:g}" if left is not None else ""
            day_left = daily_left(self.aio)
            if day_left is not None:
                extra += f" · daily cap left: {day_left:g}"
            self.balance_label.value = f"balance: {catalog.credits_text(self.balance)}{_e(extra)}"
            self._changed()
            if not self._balance_again:
                return
            await asyncio.sleep(BALANCE_EVERY)

    # ------------------------------------------------------------ generate / confirm
    def _on_generate(self, _: Any = None) -> None:
        self.error.value = ""
        svc = self.service
        try:
            params = self.params()
            est = self._price(svc, params)
        except ParamError as exc:  # the button should have been disabled; say why anyway
            self.reason.value = f'<span style="{ERR}">{_e(exc)}</span>'
            return
        confirm_above = getattr(self.aio, "confirm_above", None)
        n = self.n_takes
        total = round(est.credits * n, 6)
        try:  # every take at once, before the first is sent: the ledger's batch rule
            self.aio.ledger.check_batch(total, jobs=n, confirmed=True,
                                        what=svc.name + (f" x{n}" if n > 1 else ""))
        except PhayaError as exc:
            self.show_error(exc)
            return
        if confirm_above is not None and total > confirm_above:
            self._pending = (svc, params, est)
            what = f"{n} takes of {_e(svc.label)} cost" if n > 1 else f"{_e(svc.label)} costs"
            self.confirm_box.show(f'<span style="{WARN}">{what} {_e(catalog.credits_text(total))} '
                                  f"(above {confirm_above:g}). Run it?</span>")
            self.generate.disabled = True
            return
        self.start(svc, params, confirm=False, takes=n)

    def _on_confirm(self, _: Any = None) -> None:
        if self._pending is None:
            return
        svc, params, _est = self._pending
        self._hide_confirm()
        self.start(svc, params, confirm=True, takes=self.n_takes)

    def _on_cancel_confirm(self, _: Any = None) -> None:
        self._hide_confirm()

    def _hide_confirm(self) -> None:
        self._pending = None
        self.confirm_box.hide(clear=True)
        self.generate.disabled = self._estimate is None

    def start(self, svc: Service, params: dict[str, Any], *, confirm: bool, takes: int = 1) -> Any:
        """Submit and follow ``takes`` jobs as tasks; returns the task at once (a list for several).

        A seed the user set goes up by one per take (within its range), so takes differ and
        each stays reproducible; without a seed the server picks one per job.
        """
        seed = self.controls.seed_param if self.controls is not None else None
        tasks = []
        for i in range(max(1, takes)):
            body = dict(params)
            if i and seed is not None and isinstance(body.get(seed.name), int):
                top = seed.maximum if seed.maximum is not None else body[seed.name] + i
                body[seed.name] = min(int(top), body[seed.name] + i)
            tasks.append(self.tasks.spawn(self._run(svc, body, confirm), name=f"phaya-studio-{svc.name}"))
        return tasks[0] if len(tasks) == 1 else tasks

    def load(self, service: str, params: dict[str, Any]) -> None:
        """Remix: put a past job's model, prompt and parameters back in, ready to edit and run."""
        self.model.value = catalog.resolve_service(service).name  # rebuilds the controls
        if self.controls is not None:
            self.controls.load({k: v for k, v in params.items() if k != "prompt"})
        self.prompt.value = str(params.get("prompt") or "")
        self._changed()

    async def _run(self, svc: Service, params: dict[str, Any], confirm: bool) -> None:
        self._seq += 1
        seq = self._seq
        job = await self.aio.submit(svc.name, confirm=confirm, **params)
        card = JobCard(job, spawn=self.tasks.spawn, tick=self.tick, rate=rater_of(self.client))
        card.seq = seq
        self.cards.append(card)
        self.jobs_box.children = (card, *self.jobs_box.children)
        self._set_running()
        try:
            await card.run()
        finally:
            self.jobs_box.children = tuple(c for c in self.jobs_box.children if c is not card)
            # newest request first (click order), wherever it finished in the race
            cards = sorted((card, *self.gallery.children), key=lambda c: -c.seq)
            self.gallery.children = tuple(cards)
            self._set_running()
            self.refresh_balance()
            self.reconcile_soon()

    def reconcile_soon(self) -> Any:
        """Check finished jobs against what the server took (a Session's ``areconcile``: the credits
        history, else the balance), coalesced like the balance, so observed prices reach the cost label."""
        areconcile = getattr(self.client, "areconcile", None)
        if areconcile is None or not has_running_loop():
            return None
        if self._reconcile_task is not None and not self._reconcile_task.done():
            self._reconcile_again = True
            return self._reconcile_task

        async def run() -> None:
            while True:
                self._reconcile_again = False
                await areconcile()
                self._changed()
                if not self._reconcile_again:
                    return
                await asyncio.sleep(BALANCE_EVERY)

        self._reconcile_task = self.tasks.spawn(run(), name="phaya-reconcile")
        return self._reconcile_task

    def _set_running(self) -> None:
        n = len(self.jobs_box.children)
        self.running_label.value = f"{n} job(s) running" if n else ""

    async def _upload(self, data: bytes, filename: str) -> str:
        return str(await self.aio.upload(data, filename=filename))

    # ------------------------------------------------------------ errors
    def show_error(self, exc: BaseException) -> None:
        """Any task's exception lands here, visible, never swallowed."""
        name = type(exc).__name__
        self.error.value = f'<span style="{ERR}">{_e(name)}: {_e(exc)}</span>'

    async def wait(self, timeout: float | None = None) -> None:
        """Wait until every job started from this studio has finished (tests, scripts)."""
        await self.tasks.join(timeout)
