"""Session: the notebook's client — a Phaya whose every job and credit lands in the job log.

``connect()`` is the front door: with a key (argument or ``PHAYA_API_KEY``) it talks to
the real Phaya; without one it starts the offline sandbox and says so in one line.

Why a subclass and a listener: jobs start from many layers (sync calls, widgets,
magics, compare runs) but all of them go through the one ``AsyncPhaya.submit`` path,
which announces each job's id before polling (``created``) and every later change.
The session subscribes once, so nothing paid for escapes the log. Chat calls reach
the same listeners as :class:`~phaya_notebook.core.chat.ChatEvent` (one per call, from
``AsyncPhaya.chat``/``chat_stream``): the session logs their tokens and credits.

Money: the confirm threshold, the ``max_credits`` reservation and the balance check
live in the core's submit path; the session exposes them (``estimate``,
``budget_left``) and reconciles what was charged against the server's credits
history (:meth:`Session.reconcile`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import catalog, progress
from .compare import Comparison, ModelSpec, check_money, plan, run
from .core.chat import ChatEvent
from .core.errors import FolderNotWritable, InvalidParams, JobFailed, JobTimeout, NotFound, PhayaError
from .core.jobs import Result
from .core.launch import embedded_info, is_embedded
from .core.media import default_cache_dir
from .core.sync import Phaya, SyncJob
from .joblog import JobLog, default_log_path, parse_time

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["Session", "connect"]

log = logging.getLogger("phaya_notebook.session")

#: Most transactions one reconcile asks the credits history for.
HISTORY_LIMIT = 1000
#: Waits before each new try of a failed media download (seconds; then resume() takes over).
DOWNLOAD_RETRY_SECONDS = (2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 120.0, 300.0)


class Session(Phaya):
    """A :class:`Phaya` with a job log, a pandas view of it, resume, budgets and compare runs.

    ``log_path`` defaults to ``./.phaya/jobs.sqlite3`` (``PHAYA_LOG`` overrides);
    ``max_credits`` caps what this session may commit (reserved before each create,
    released on refund); jobs above ``confirm_above`` credits need ``confirm=True``.
    """

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 log_path: str | os.PathLike[str] | None = None, joblog: JobLog | None = None,
                 **kw: Any):
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
        self._downloads: dict[str, asyncio.Task[bool]] = {}
        self.aio.add_listener(self._on_completed)

    def __repr__(self) -> str:
        return super().__repr__().rstrip(">") + f" log={str(self.log.path)!r}>"

    # ------------------------------------------------------------- ratings

    def rate(self, job_id: str | Any, rating: int) -> None:
        """Keep (1), reject (-1) or clear (0) a result: the ``rating`` column of ``jobs()``.

        ``job_id`` may also be a Result or Job. Stored in the log at once, so it survives a
        restart and counts in ``leaderboard()`` / ``comparison.summary()``.
        """
        from .joblog import check_rating

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
        except (sqlite3.Error, OSError) as exc:
            log.error("job log %s could not record a chat call: %s", self.log.path, exc)

    # ------------------------------------------------------------- downloads that failed

    def _on_completed(self, event: Any) -> None:
        """A paid result whose media did not download: retry in the background, with backoff."""
        result = getattr(getattr(event, "job", None), "result", None)
        if getattr(event, "kind", None) != "completed" or result is None or result.cached:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # resume() collects it
        if result.job_id not in self._downloads:
            self._downloads[result.job_id] = loop.create_task(self._redownload(result),
                                                              name=f"phaya-download-{result.job_id[:8]}")

    async def _redownload(self, result: Result) -> bool:
        """Try again after each delay (seconds, divided by the time scale) until the files are cached."""
        try:
            for delay in DOWNLOAD_RETRY_SECONDS:
                await asyncio.sleep(delay / self.aio.time_scale)
                if await self._download_now(result):
                    return True
            log.warning("media of job %s still not downloaded (%s); phaya.resume() will try again",
                        result.job_id, "; ".join(result.download_errors))
            return False
        finally:
            self._downloads.pop(result.job_id, None)

    async def _download_now(self, result: Result) -> bool:
        ok = await self.aio.fetch_media(result)
        if ok:
            self.log.record(result.job_id, paths=[str(p) for p in result.paths], download="cached", error=None)
        else:
            self.log.record(result.job_id, error="; ".join(result.download_errors), download="pending")
        return ok

    async def _collect(self, row: dict[str, Any]) -> Result:
        """A logged, completed job whose media is missing: download it now (the retry stops)."""
        task = self._downloads.pop(row["job_id"], None)
        if task is not None:
            with contextlib.suppress(RuntimeError):  # its loop may be gone
                task.cancel()
        job = self.aio._jobs.get((row["service"], row["job_id"]))
        if job is not None and job.result is not None:
            result = job.result
        else:
            svc = catalog.resolve_service(row["service"])
            result = Result(row["job_id"], svc.name, svc.media, list(row.get("urls") or []), [], {},
                            credits=float(row.get("charged") or 0.0), text=row.get("output"),
                            download_errors=["not downloaded yet"])
        await self._download_now(result)
        return result

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
        """Credits by service and/or by day: estimated, charged, refunded and net."""
        return self.log.spend(by, since=since, session=self.session_id if this_session else None)

    def leaderboard(self, by: str | Sequence[str] = "model", *, service: str | Sequence[str] | None = None,
                    since: Any = None, tag: str | None = None, this_session: bool = False) -> pd.DataFrame:
        """Which model (``by="prompt"``: which prompt) gives results you keep, at what price.

        Over every job in the log (filters as ``jobs()``): jobs, completed, kept (rated 1),
        rejected, keep_rate, credits (net of refunds), credits_per_kept, median_seconds;
        best value first. ``plot_leaderboard()`` draws it.
        """
        from .decide import summarize

        rows = self.jobs(service, None, since, tag, kind="job", this_session=this_session)
        rows = rows.assign(credits=rows["charged"].fillna(0.0) - rows["refunded"].fillna(0.0))
        return summarize(rows, by)

    def plot_leaderboard(self, by: str | Sequence[str] = "model", ax: Any = None, **filters: Any) -> Any:
        """Credits per kept result, keep rate on each bar (a matplotlib Axes)."""
        from .decide import plot

        return plot(self.leaderboard(by, **filters), ax=ax)

    # ------------------------------------------------------------- money

    def estimate(self, service: str | catalog.Service, **params: Any) -> catalog.Estimate:
        """The catalog's price for this job (validated; no request)."""
        return self.aio.estimate(service, **params)

    @property
    def budget_left(self) -> float | None:
        """Credits this session may still commit (None without ``max_credits``)."""
        if self.aio.max_credits is None:
            return None
        return max(0.0, self.aio.max_credits - self.aio.committed_credits)

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

    @staticmethod
    async def _follow(live: progress.LiveProgress, job: Any, on_progress: Any, timeout: float | None) -> Result:
        result = await live.watch(job.wait(on_progress=on_progress, timeout=timeout))
        live.replace(result)
        return result

    def submit(self, service: str | catalog.Service, *, confirm: bool = False, tags: tuple[str, ...] = (),
               watch: bool = False, **params: Any) -> SyncJob:
        """The job at once; its ``wait()`` shows live progress in a notebook."""
        return _LiveJob(super().submit(service, confirm=confirm, tags=tags, watch=watch, **params).aio, self)

    def job(self, service: str | catalog.Service, job_id: str) -> SyncJob:
        return _LiveJob(super().job(service, job_id).aio, self)

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
        mine = {jid for (_, jid) in self.aio._jobs}
        rows = [r for r in self.log.unreconciled(self.aio.base_url)
                if r["session"] == self.session_id or r["job_id"] in mine]
        if not rows:
            return {}
        limit = min(HISTORY_LIMIT, max(20, 3 * len(rows) + 20))
        history = await self.aio.credits_history(limit=limit)
        complete = len(history) < limit
        oldest = min((parse_time(t.get("created_at")) or 0.0 for t in history), default=0.0)
        by_job: dict[str, list[dict[str, Any]]] = {}
        for t in history:
            if t.get("job_id"):
                by_job.setdefault(str(t["job_id"]), []).append(t)
        # a history whose job charges carry no job id cannot prove a job was not charged
        anonymous = any(not t.get("job_id") and t.get("service") in catalog.SERVICES for t in history)
        verdicts: dict[str, str] = {}
        unnamed: list[dict[str, Any]] = []
        for row in rows:
            txs = by_job.get(row["job_id"], [])
            seen_all = complete or (row["created_at"] or 0.0) > oldest + 1.0
            if not txs and anonymous:
                unnamed.append(row)
                continue
            if not txs and not seen_all:
                continue  # older than the history we fetched: leave the status-answer amounts
            charged = sum(abs(float(t.get("amount") or 0)) for t in txs if t.get("kind", "charge") == "charge")
            refunded = sum(abs(float(t.get("amount") or 0)) for t in txs if t.get("kind") == "refund")
            verdicts[row["job_id"]] = self._settled(row, round(charged, 6), round(refunded, 6), "credits history")
        if unnamed:
            verdicts.update(await self._from_balance(unnamed))
        return verdicts

    def _settled(self, row: dict[str, Any], charged: float, refunded: float, source: str,
                 how: str | None = None) -> str:
        """Write the server's amounts, learn the price, and settle the session budget to them."""
        verdict = self.log.reconcile_row(row["job_id"], charged=charged, refunded=refunded, source=source, how=how)
        net = round(charged - refunded, 6)
        self.aio.timeline.known(row["job_id"], net)
        if row.get("status") == "completed" and row.get("service"):
            self.aio.observed.learn(str(row["service"]), row.get("params") or {}, net, source=source,
                                    at=row.get("finished_at") or time.time())
        if row.get("service"):
            self.aio.settle_charge(str(row["service"]), row["job_id"], net)
        return verdict

    async def _from_balance(self, rows: list[dict[str, Any]]) -> dict[str, str]:
        """Jobs the credits history does not name: the balance drop around each, if unambiguous."""
        timeline = self.aio.timeline
        if any(timeline.has(r["job_id"]) for r in rows):
            await self.aio.credits()  # the reading after them
        verdicts: dict[str, str] = {}
        left = sorted(rows, key=lambda r: r.get("created_at") or 0.0)
        progress = True
        while left and progress:  # an attributed job can make its neighbours' windows unambiguous
            progress = False
            for row in list(left):
                att = timeline.attribute(row["job_id"])
                if att.amount is None:
                    continue
                net = max(0.0, att.amount)
                verdicts[row["job_id"]] = self._settled(row, net, 0.0, "balance delta", att.note)
                left.remove(row)
                progress = True
        for row in left:
            why = timeline.attribute(row["job_id"]).note
            self.log.unattributed(row["job_id"], f"the credits history does not name this job and {why}")
            log.warning("phaya: cannot attribute the charge of %s job %s: %s", row.get("service"), row["job_id"], why)
            verdicts[row["job_id"]] = "unverified"
        return verdicts

    def prices(self) -> pd.DataFrame:
        """Catalog price vs what was really charged, per service and price-relevant parameters.

        From the job log (jobs whose charge the credits history or the balance confirmed, on
        this base URL): ``catalog``, ``last_charged``, ``estimate`` (the higher: what the
        confirm threshold and ``max_credits`` use), ``drift`` (last charged / catalog),
        ``jobs`` and ``source``. No request.
        """
        import pandas as pd

        from .core.observed import ObservedPrices

        seen = ObservedPrices()
        seen.load(self.log.observed_rows(self.aio.base_url))
        rows = [{"service": o.service, "parameters": o.basis, "catalog": o.catalog, "last_charged": o.charged,
                 "estimate": max(o.catalog, o.charged),
                 "drift": round(o.charged / o.catalog, 3) if o.catalog else None,
                 "jobs": o.jobs, "source": o.source,
                 "at": pd.Timestamp(o.at, unit="s", tz="UTC")} for o in seen.all()]
        cols = ["service", "parameters", "catalog", "last_charged", "estimate", "drift", "jobs", "source", "at"]
        return pd.DataFrame(rows, columns=cols)

    # ------------------------------------------------------------- resume

    def resume(self, *, timeout: float | None = None) -> list[Result]:
        """Re-attach every job this log saw start but not end (same base URL): poll it,
        download its media, complete its row. Returns the completed Results."""
        return self._run(self.aresume(timeout=timeout))

    async def aresume(self, *, timeout: float | None = None) -> list[Result]:
        rows, undownloaded, skipped = self._resumable()
        if not rows and not undownloaded:
            print("phaya: nothing to resume" + (f": {skipped}" if skipped else " (no unfinished job in this log)"))
            return []
        collected = [await self._collect(r) for r in undownloaded]
        fetched = [r for r in collected if r.cached]
        if undownloaded:
            print(f"phaya: downloaded the media of {len(fetched)} of {len(undownloaded)} completed job(s) "
                  "that were not cached yet" + ("" if len(fetched) == len(undownloaded) else
                                                 f" ({collected[0].download_errors[0]}; try again later)"))
        if not rows:
            if skipped:
                print(f"phaya: skipped {skipped}")
            return fetched

        live = progress.live("resume")
        lines = {r["job_id"]: live.add(f"{r['service']} {r['job_id'][:8]}", r.get("estimated"))
                 for r in rows} if live is not None else {}

        async def one(row: dict[str, Any]) -> Result | None:
            line = lines.get(row["job_id"])
            try:
                job = await self.aio.job(row["service"], row["job_id"])
            except NotFound:
                self.log.record(row["job_id"], status="lost", finished_at=time.time(),
                                error="the server no longer knows this job (404)")
                if line is not None:
                    line.note = "lost: the server no longer knows it (404)"
                return None
            except BaseException as exc:
                if line is not None:
                    line.note = f"could not re-attach ({exc})"
                raise
            if line is not None:
                line.job = job
            try:
                return await job.wait(timeout=timeout)
            except (JobFailed, JobTimeout):
                return None

        together = asyncio.gather(*(one(r) for r in rows), return_exceptions=True)
        outcomes = await (live.watch(together) if live is not None else together)
        results = [o for o in outcomes if isinstance(o, Result)]
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        try:
            await self.areconcile()
        except PhayaError as exc:
            log.warning("could not reconcile resumed jobs: %s", exc)
        print(f"phaya: resumed {len(rows)} unfinished job(s): {len(results)} completed"
              + (f", {len(errors)} could not be re-attached ({errors[0]})" if errors else "")
              + (f"; skipped {skipped}" if skipped else ""))
        return fetched + results

    def _resumable(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
        """Unfinished rows this client can re-attach, completed rows whose media is missing,
        and a sentence on the ones it cannot take.

        A row is this client's when it was made on this server (this base URL, or an earlier
        URL of the same persistent sandbox) with this key (rows older than the ``key_id``
        column are tried). The others are left as they are: another server or key may
        still finish them.
        """
        here = {self.aio.base_url.rstrip("/")}
        info = embedded_info() if is_embedded(self.aio.base_url) else None
        if info:
            here.update(str(u).rstrip("/") for u in info.get("former_urls") or [])
        mine: list[dict[str, Any]] = []
        servers: dict[str, int] = {}
        keys = 0
        for row in self.log.unfinished():
            url = str(row.get("base_url") or "").rstrip("/")
            if url not in here:
                servers[str(row.get("base_url"))] = servers.get(str(row.get("base_url")), 0) + 1
            elif url == self.aio.base_url.rstrip("/") and row.get("key_id") and row["key_id"] != self.aio.key_id:
                keys += 1
            else:
                mine.append(row)
        parts = [f"{n} job(s) of another server ({url})" for url, n in servers.items()]
        if keys:
            parts.append(f"{keys} job(s) of another key on this server")
        undownloaded = [r for r in self.log.pending_downloads()
                        if str(r.get("base_url") or "").rstrip("/") in here]
        return mine, undownloaded, ", ".join(parts)

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
        from .widgets import Studio

        return Studio(self)

    def compare_grid(self) -> Any:
        from .widgets import CompareGrid

        return CompareGrid(self)

    def gallery(self, **kw: Any) -> Any:
        """Past jobs of the log as thumbnails with cost: filter (service, tag, rating, text),
        page, rate, remix into the studio, ``.to_html(path)`` to share. See ``widgets.Gallery``."""
        from .widgets import Gallery

        return Gallery(self, **kw)

    def chat_box(self) -> Any:
        from .widgets import ChatBox

        return ChatBox(self)

    # ------------------------------------------------------------- closing

    def close(self) -> None:
        for task in list(self._downloads.values()):
            with contextlib.suppress(RuntimeError):  # resume() in a later session takes over
                task.cancel()
        self.aio.remove_listener(self._on_completed)
        self.aio.remove_listener(self._recorder)
        self.aio.remove_listener(self._on_chat)
        self.aio.remove_listener(self._give_rater)
        try:
            super().close()
        finally:
            self.log.close()


def _writable(path: Path, what: str, variable: str, argument: str) -> None:
    """Raise FolderNotWritable unless ``path`` (a folder, made on demand) can hold new files.

    Probed by creating (and removing) a file in the folder, or in its nearest existing
    parent: permission bits alone say nothing for root, a read-only mount or a parent
    that is a file. Nothing is left behind.
    """
    path = path.absolute()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    problem = ""
    if not probe.is_dir():
        problem = f"{probe} is a file, not a folder"
    else:
        try:
            fd, name = tempfile.mkstemp(dir=probe, prefix=".phaya-write-check-")
            os.close(fd)
            os.unlink(name)
        except OSError as exc:
            problem = f"{probe} cannot be written ({exc.strerror or exc})"
    if problem:
        raise FolderNotWritable(
            f"phaya: the {what} cannot be kept in {path}: {problem}. Set {variable} to a writable "
            f"place (or pass {argument}=...), or run the notebook from a folder you can write to.",
            path=str(path), variable=variable)


def check_folders(log_path: str | os.PathLike[str] | None = None,
                  cache_dir: str | os.PathLike[str] | None = None) -> None:
    """The job log's and the media cache's folders can be written (before anything starts).

    A log given as a URL (``postgresql://...``) is a server's business, not a folder's.
    """
    where = str(log_path if log_path is not None else os.environ.get("PHAYA_LOG") or "")
    if "://" in where:
        _writable(Path(cache_dir) if cache_dir is not None else default_cache_dir(), "media cache",
                  "PHAYA_CACHE_DIR", "cache_dir")
        return
    log_file = Path(log_path) if log_path is not None else default_log_path()
    if log_file.exists() and not log_file.is_dir() and not os.access(log_file, os.W_OK):
        raise FolderNotWritable(f"phaya: the job log {log_file} is read-only. Set PHAYA_LOG to a writable "
                                "file (or pass log_path=...).", path=str(log_file), variable="PHAYA_LOG")
    _writable(log_file.parent, "job log", "PHAYA_LOG", "log_path")
    _writable(Path(cache_dir) if cache_dir is not None else default_cache_dir(), "media cache",
              "PHAYA_CACHE_DIR", "cache_dir")


class _LiveJob(SyncJob):
    """A SyncJob whose blocking ``wait()`` shows a live progress line in a notebook."""

    def wait(self, *, on_progress: Any = None, timeout: float | None = None) -> Result:
        owner = self._owner
        if not progress.in_kernel() or not isinstance(owner, Session):
            return super().wait(on_progress=on_progress, timeout=timeout)

        async def follow() -> Result:
            job = self._job
            live = progress.LiveProgress()
            live.add(f"{job.service.label} ({job.service.name})", job.estimate.credits).job = job
            return await owner._follow(live, job, on_progress, timeout)

        return owner._run(follow())


def connect(api_key: str | None = None, base_url: str | None = None, *,
            log_path: str | os.PathLike[str] | None = None, max_credits: float | None = None,
            confirm_above: float = 10.0, **kw: Any) -> Session:
    """A Session on the real Phaya (key given or ``PHAYA_API_KEY``), else on the offline sandbox.

    The job log's and media cache's folders are checked first: an unwritable one is a
    :class:`FolderNotWritable` naming the variable to set, before any sandbox or request.
    """
    check_folders(log_path, kw.get("cache_dir"))
    key = api_key or os.environ.get("PHAYA_API_KEY")
    if not key and not base_url:
        from .core.launch import embedded_sandbox

        base_url, key = embedded_sandbox()
        print(f"phaya: no PHAYA_API_KEY — using the offline sandbox at {base_url} "
              "(play credits, synthetic media)")
    return Session(key, base_url, log_path=log_path, max_credits=max_credits, confirm_above=confirm_above, **kw)
