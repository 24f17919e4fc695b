"""Session: the notebook's client — a Phaya whose every job and credit lands in the job log.

Why a subclass and a listener: jobs start from many layers (sync calls, widgets,
magics, compare runs) but all of them go through the one ``AsyncPhaya.submit`` path,
which announces each job's id before polling (``created``) and every later change.
The session subscribes once, so nothing paid for escapes the log. Chat calls reach
the same listeners as :class:`~phaya_notebook.core.chat.ChatEvent` (one per call, from
``AsyncPhaya.chat``/``chat_stream``): the session logs their tokens and credits.

Money: every credit rule (confirm threshold, ``max_credits`` reservations, daily cap,
balance check, whole-batch checks) lives in the client's ledger (``core/money.py``);
the session exposes it (``estimate``, ``budget_left``) and reconciles what was charged against the server's credits
history (:meth:`Session.reconcile`, ``reconcile.py``). Failed media downloads are
retried by ``downloads.py``, unfinished jobs re-attached by ``resume.py``.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import catalog, progress
from ..compare import Comparison, ModelSpec, check_money, plan, run
from ..core.chat import ChatEvent
from ..core.daily import DailyCap, check_cap, daily_cap_from_env
from ..core.errors import InvalidParams, PhayaError
from ..core.jobs import Result
from ..core.sync import Phaya, SyncJob
from ..joblog import JobLog
from .downloads import MediaRetry
from .reconcile import Reconciler
from .resume import resume
from .views import price_table, with_daily_cap

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["LiveJob", "Session", "daily_cap_setting"]

log = logging.getLogger("phaya_notebook.session")


class Session(Phaya):
    """A :class:`Phaya` with a job log, a pandas view of it, resume, budgets and compare runs.

    ``log_path`` defaults to ``./.phaya/jobs.sqlite3`` (``PHAYA_LOG`` overrides);
    ``max_credits`` caps what this session may commit (reserved before each create,
    released on refund); jobs above ``confirm_above`` credits need ``confirm=True``.
    ``daily_cap`` (default ``PHAYA_DAILY_CAP``) caps the key's credits per UTC day across
    every process using the key and this log (reserved in the log before each create).
    """

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 log_path: str | os.PathLike[str] | None = None, joblog: JobLog | None = None,
                 daily_cap: float | None = None, **kw: Any):
        cap, cap_source = daily_cap_setting(daily_cap)  # a bad value is refused before anything opens
        self.log = joblog if joblog is not None else JobLog(log_path)
        try:
            super().__init__(api_key, base_url, **kw)
        except BaseException:
            if joblog is None:
                self.log.close()
            raise
        self.session_id = uuid.uuid4().hex[:12]
        # prices learned by earlier sessions on this API; balance readings to attribute charges
        self.aio.observed.load(self.log.observed_rows(self.aio.base_url))
        self.aio.timeline.enabled = True
        self._recorder = self.log.attach(self.aio, session=self.session_id)
        self.aio.add_listener(self._on_chat)
        self.aio.add_listener(self._give_rater)
        self._media = MediaRetry(self.aio, self.log)
        self.aio.add_listener(self._media.on_completed)
        self._reconciler = Reconciler(self.aio, self.log, self.session_id)
        # every process using this key and log draws from one request window (joblog.shared)
        self._shared = self.log.shared(self.aio.shared_id)
        self.aio.budget.share(self._shared)
        if cap is not None:
            self.aio.daily_cap = DailyCap(cap, self._shared, source=cap_source)

    def __repr__(self) -> str:
        return super().__repr__().rstrip(">") + f" log={str(self.log.path)!r}>"

    # ------------------------------------------------------------- ratings

    def rate(self, job_id: str | Any, rating: int) -> None:
        """Keep (1), reject (-1) or clear (0) a result: the ``rating`` column of ``jobs()``.

        ``job_id`` may also be a Result or Job. Stored in the log at once, so it survives a
        restart and counts in ``leaderboard()`` / ``comparison.summary()``.
        """
        from ..joblog import check_rating

        job_id = str(getattr(job_id, "job_id", None) or getattr(job_id, "id", None) or job_id)
        try:
            check_rating(rating)
            self.log.rate(job_id, rating)
        except ValueError as exc:
            raise InvalidParams("rate", [catalog.ParamProblem(
                "rating", f"{rating!r} is not allowed", "1 (keep), -1 (reject), 0 (clear)")]) from exc
        except KeyError:
            raise InvalidParams("rate", [catalog.ParamProblem(
                "job_id", f"{job_id!r} is not in the job log {str(self.log.path)!r}",
                "an id from phaya.jobs()")]) from None

    def _give_rater(self, event: Any) -> None:
        """A finished Result can rate itself (``result.rate(1)``) through this session's log."""
        result = getattr(getattr(event, "job", None), "result", None)
        if getattr(event, "kind", None) == "completed" and result is not None:
            result.rater = self.rate

    # ------------------------------------------------------------- chat logging

    def _on_chat(self, event: Any) -> None:
        """The ChatEvent listener: one row per chat call the server answered (tokens, credits).

        A call that failed or was stopped before its usage arrived (nothing known to be
        charged) gets no row; one that was charged is always logged.
        """
        if not isinstance(event, ChatEvent) or (event.error is not None and not event.credits):
            return
        try:
            self.log.record_chat(model=event.model, prompt=event.prompt, tokens=event.tokens,
                                 credits=event.credits, session=self.session_id, base_url=self.aio.base_url,
                                 duration=event.duration)
        except self.log.errors as exc:
            log.error("job log %s could not record a chat call: %s", self.log.path, exc)

    # ------------------------------------------------------------- the pandas view

    def jobs(self, service: str | Sequence[str] | None = None, status: str | Sequence[str] | None = None,
             since: Any = None, tag: str | None = None, *, kind: str | None = None,
             this_session: bool = False) -> pd.DataFrame:
        """Every logged job (and chat call) as a DataFrame, oldest first; filters combine."""
        if service is not None:
            names = [service] if isinstance(service, str) else list(service)
            service = [n if n == "chat" else catalog.resolve_service(n).name for n in names]
        return self.log.to_dataframe(service, status, since, tag, kind=kind,
                                     session=self.session_id if this_session else None)

    def spend(self, by: str | Sequence[str] = "service", *, since: Any = None,
              this_session: bool = False) -> pd.DataFrame:
        """Credits by service and/or by day: estimated, charged, refunded and net.

        With a daily cap, the table says under it what is left of the cap today
        (``.attrs["daily_cap"]`` has the numbers).
        """
        df = self.log.spend(by, since=since, session=self.session_id if this_session else None)
        cap = self.aio.daily_cap
        return df if cap is None else with_daily_cap(df, cap)

    @property
    def daily_left(self) -> float | None:
        """Credits left of the key's daily cap today (UTC, every process); None without a cap."""
        return None if self.aio.daily_cap is None else self.aio.daily_cap.left

    def leaderboard(self, by: str | Sequence[str] = "model", *, service: str | Sequence[str] | None = None,
                    since: Any = None, tag: str | None = None, this_session: bool = False) -> pd.DataFrame:
        """Which model (``by="prompt"``: which prompt) gives results you keep, at what price.

        Over every job in the log (filters as ``jobs()``): jobs, completed, kept (rated 1),
        rejected, keep_rate, credits (net of refunds), credits_per_kept, median_seconds;
        best value first. ``plot_leaderboard()`` draws it.
        """
        from ..decide import summarize

        rows = self.jobs(service, None, since, tag, kind="job", this_session=this_session)
        rows = rows.assign(credits=rows["charged"].fillna(0.0) - rows["refunded"].fillna(0.0))
        return summarize(rows, by)

    def plot_leaderboard(self, by: str | Sequence[str] = "model", ax: Any = None, **filters: Any) -> Any:
        """Credits per kept result, keep rate on each bar (a matplotlib Axes)."""
        from ..decide import plot

        return plot(self.leaderboard(by, **filters), ax=ax)

    # ------------------------------------------------------------- money

    def estimate(self, service: str | catalog.Service, **params: Any) -> catalog.Estimate:
        """The catalog's price for this job (validated; no request)."""
        return self.aio.estimate(service, **params)

    @property
    def budget_left(self) -> float | None:
        """Credits this session may still commit (None without ``max_credits``): ``Ledger.budget_left``."""
        return self.aio.ledger.budget_left

    def generate(self, service: str | catalog.Service, *, confirm: bool = False, on_progress: Any = None,
                 timeout: float | None = None, tags: tuple[str, ...] = (), **params: Any) -> Result:
        """Submit, wait and reconcile the charge with the server (one history request).

        In a notebook a progress line (status, elapsed / expected seconds, credits) shows
        at once, updates in place and is replaced by the result.
        """
        try:
            if progress.in_kernel():
                return self._run(self._generate_live(service, confirm, on_progress, timeout, tags, params))
            return super().generate(service, confirm=confirm, on_progress=on_progress, timeout=timeout,
                                    tags=tags, **params)
        finally:
            self._quiet_reconcile()

    async def _generate_live(self, service: str | catalog.Service, confirm: bool, on_progress: Any,
                             timeout: float | None, tags: tuple[str, ...], params: dict[str, Any]) -> Result:
        est = self.aio.estimate(service, **params)  # a mistake is refused before anything shows
        svc = service if isinstance(service, catalog.Service) else catalog.resolve_service(service)
        live = progress.LiveProgress()
        row = live.add(f"{svc.label} ({svc.name})", est.credits)
        live.refresh()
        try:
            job = await live.watch(self.aio.submit(svc.name, confirm=confirm, tags=tags, watch=True, **params))
        except BaseException:
            live.clear()  # nothing started: the error says why
            raise
        row.job = job
        return await self._follow(live, job, on_progress, timeout)

    def wait_live(self, job: Any, *, on_progress: Any = None, timeout: float | None = None) -> Result:
        """Wait for ``job`` (an async Job of this session) with a live progress line in the
        notebook, replaced by the result (what ``submit(...).wait()`` does in a kernel)."""

        async def follow() -> Result:
            live = progress.LiveProgress()
            live.add(f"{job.service.label} ({job.service.name})", job.estimate.credits).job = job
            return await self._follow(live, job, on_progress, timeout)

        return self._run(follow())

    @staticmethod
    async def _follow(live: progress.LiveProgress, job: Any, on_progress: Any, timeout: float | None) -> Result:
        result = await live.watch(job.wait(on_progress=on_progress, timeout=timeout))
        live.replace(result)
        return result

    def submit(self, service: str | catalog.Service, *, confirm: bool = False, tags: tuple[str, ...] = (),
               watch: bool = False, **params: Any) -> SyncJob:
        """The job at once; its ``wait()`` shows live progress in a notebook."""
        return LiveJob(super().submit(service, confirm=confirm, tags=tags, watch=watch, **params).aio, self)

    def job(self, service: str | catalog.Service, job_id: str) -> SyncJob:
        return LiveJob(super().job(service, job_id).aio, self)

    def _quiet_reconcile(self) -> None:
        try:
            self.reconcile()
        except PhayaError as exc:
            log.warning("could not reconcile charges with the server: %s", exc)

    def reconcile(self) -> dict[str, str]:
        """Check finished jobs of this client against what the server really took; {job_id: verdict}.

        For each job: the credits history when it names the job (one request); otherwise
        the balance delta around the job when its window is unambiguous (one balance
        request); otherwise the row says plainly that its charge cannot be attributed
        (``charge_source = 'unattributed'``). Each row's ``charge_source`` says which.
        estimated − charged + refunded (for a completed job) must be 0, else ``mismatch``.
        What was really charged feeds the next estimates (``prices()``, ``core/observed.py``).
        """
        return self._run(self.areconcile())

    async def areconcile(self) -> dict[str, str]:
        return await self._reconciler.areconcile()

    def prices(self) -> pd.DataFrame:
        """Catalog price vs what was really charged, per service and price-relevant parameters.

        From the job log (jobs whose charge the credits history or the balance confirmed, on
        this base URL): ``catalog``, ``last_charged``, ``estimate`` (the higher: what the
        confirm threshold and ``max_credits`` use), ``drift`` (last charged / catalog),
        ``jobs`` and ``source``. No request.
        """
        return price_table(self.log, self.aio.base_url)

    # ------------------------------------------------------------- resume

    def resume(self, *, timeout: float | None = None) -> list[Result]:
        """Re-attach every job this log saw start but not end (same base URL): poll it,
        download its media, complete its row. Returns the completed Results."""
        return self._run(self.aresume(timeout=timeout))

    async def aresume(self, *, timeout: float | None = None) -> list[Result]:
        return await resume(self.aio, self.log, self._media, self.areconcile, timeout=timeout)

    # ------------------------------------------------------------- compare

    def compare(self, prompts: Sequence[str] | str, models: Sequence[ModelSpec] | ModelSpec, repeats: int = 1,
                confirm: bool = False, *, tags: Sequence[str] = (), timeout: float | None = None) -> Comparison:
        """Every prompt through every model (× repeats), priced and confirmed as a whole first."""
        return self._run(self.acompare(prompts, models, repeats, confirm, tags=tags, timeout=timeout))

    async def acompare(self, prompts: Sequence[str] | str, models: Sequence[ModelSpec] | ModelSpec,
                       repeats: int = 1, confirm: bool = False, *, tags: Sequence[str] = (),
                       timeout: float | None = None) -> Comparison:
        cells = plan(prompts, models, repeats)
        check_money(self.aio, cells, confirm)  # refused before any line shows
        live = progress.live("compare")
        if live is None:
            await run(self.aio, cells, confirm=confirm, tags=tags, timeout=timeout)
        else:
            many = repeats > 1
            rows = [live.add(f"{c.model} · {c.prompt[:40]}" + (f" #{c.repeat + 1}" if many else ""), c.estimate)
                    for c in cells]

            def sync() -> None:
                for c, r in zip(cells, rows, strict=True):
                    r.job = c.job
                    if c.job is None and c.status == "not started":
                        r.note = f"not started: {c.error}"

            await live.watch(run(self.aio, cells, confirm=confirm, tags=tags, timeout=timeout), sync=sync)
        try:
            await self.areconcile()
        except PhayaError as exc:
            log.warning("could not reconcile compare jobs: %s", exc)
        for c in cells:  # the reconciled amounts are the truth
            row = self.log.get(c.job_id) if c.job_id else None
            if row is not None and row.get("charged") is not None:
                c.credits = round(float(row["charged"]) - float(row.get("refunded") or 0.0), 6)
        return Comparison(cells, log=self.log)

    # ------------------------------------------------------------- widgets (built on demand)

    def studio(self) -> Any:
        from ..widgets import Studio

        return Studio(self)

    def compare_grid(self) -> Any:
        from ..widgets import CompareGrid

        return CompareGrid(self)

    def gallery(self, **kw: Any) -> Any:
        """Past jobs of the log as thumbnails with cost: filter (service, tag, rating, text),
        page, rate, remix into the studio, ``.to_html(path)`` to share. See ``widgets.Gallery``."""
        from ..widgets import Gallery

        return Gallery(self, **kw)

    def chat_box(self) -> Any:
        from ..widgets import ChatBox

        return ChatBox(self)

    # ------------------------------------------------------------- closing

    def close(self) -> None:
        self._media.cancel()
        self.aio.remove_listener(self._media.on_completed)
        self.aio.remove_listener(self._recorder)
        self.aio.remove_listener(self._on_chat)
        self.aio.remove_listener(self._give_rater)
        if self.aio.budget.shared is self._shared:
            self.aio.budget.share(None)
        try:
            super().close()
        finally:
            self.log.close()


def daily_cap_setting(value: float | None) -> tuple[float | None, str]:
    """(cap, the name to quote in refusals): the argument wins over ``PHAYA_DAILY_CAP``."""
    if value is not None:
        return check_cap(value, "daily_cap"), "daily_cap"
    return daily_cap_from_env(), "PHAYA_DAILY_CAP"


class LiveJob(SyncJob):
    """A SyncJob whose blocking ``wait()`` shows a live progress line in a notebook."""

    def wait(self, *, on_progress: Any = None, timeout: float | None = None) -> Result:
        owner = self._owner
        if not progress.in_kernel() or not isinstance(owner, Session):
            return super().wait(on_progress=on_progress, timeout=timeout)
        return owner.wait_live(self.aio, on_progress=on_progress, timeout=timeout)
