"""AsyncPhaya: configuration and the public methods, wiring the collaborators that do the work.

A job's life is read from ``jobs.py`` down; this module only builds what a Job talks to
(``client.backend``): ``job_requests`` (``create.py``: create, reconcile, status, cancel),
``scheduler``, ``results`` (``results.py``: downloads into the media cache, uploads),
``ledger`` (``money.py``: every credit rule) and ``events`` (``events.py``: the listeners).
Every request goes through ``client.http``, the one :class:`~.http.RequestLoop` (its retry
policy: one docstring there); chat and embedding calls are ``client.calls`` (``calls.py``).
Public methods validate and price first (the catalog), ask the ledger, then send: a create
that may have reached the server is reconciled, never resent blindly.

The key lives in a :class:`~.secret.Secret`: the request loop sends it only in the
Authorization header to the API's own host; reprs, errors and logs show at most its last
four characters.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from .. import catalog
from .attribution import MoneyTimeline
from .budget import RequestBudget, budget_for, key_id
from .calls import ChatCalls
from .chat import (
    ChatChunk,
    ChatReply,
    Embeddings,
)
from .create import JobRequests
from .daily import DailyCap
from .errors import (
    AuthenticationError,
    InvalidParams,
    PhayaError,
)
from .events import ClientEvent, Events, Listener
from .forward import Forward
from .http import RequestLoop
from .jobs import Job, JobBackend, JobRegistry, Result
from .local_media import split_local, substitute
from .media import MediaCache
from .money import Ledger
from .observed import ObservedPrices
from .results import Results
from .scheduler import PollScheduler, scheduler_for
from .secret import Secret
from .wire import epoch
from .wire import field_of as _field
from .wire import listing as _listing

__all__ = ["AsyncPhaya", "ClientEvent", "Listener"]

log = logging.getLogger("phaya_notebook.core")

class AsyncPhaya:
    """Async client. ``api_key`` / ``base_url`` default to ``PHAYA_API_KEY`` / ``PHAYA_BASE``.

    ``time_scale`` (for a time-scaled sandbox) divides the rate window, the 5 s poll floor
    and expected durations; ``job_speed`` divides expected durations only (a sandbox's
    ``speed``). Both are picked up automatically for the embedded sandbox.
    """

    # settings kept by the collaborator that uses them (core/forward.py), read and written here
    time_scale = Forward[float]("http", "How much faster than real time the server runs (1 unless a sandbox).")
    max_retries = Forward[int]("http", "How often a failed request is retried (the policy: core/http.py).")
    http_timeout = Forward[float]("http", "Seconds to wait for an answer.", attr="timeout", read_only=True)
    max_credits = Forward[float | None]("ledger", "Credits this client's jobs and calls may commit (None: no limit).")
    confirm_above = Forward[float]("ledger", "A job (or a batch) priced above this many credits needs confirm=True.")
    daily_cap = Forward[DailyCap | None]("ledger", "The key's daily spend cap, shared by every process (a Session).")
    observed = Forward[ObservedPrices]("ledger", "Last real charges per service and price basis (observed.py).")
    timeline = Forward[MoneyTimeline]("ledger", "Balance readings and money spans (attribution.py).")

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 requests_per_minute: int = 60, cache_dir: str | os.PathLike[str] | None = None,
                 max_credits: float | None = None, confirm_above: float = 10.0, http_timeout: float = 30.0,
                 time_scale: float | None = None, job_speed: float | None = None, download: bool = True,
                 max_retries: int = 5, transport: httpx.AsyncBaseTransport | None = None):
        key = api_key or os.environ.get("PHAYA_API_KEY")
        base = base_url or os.environ.get("PHAYA_BASE")
        if not key:
            raise AuthenticationError(
                "no API key: pass api_key=... or set PHAYA_API_KEY "
                "(phaya_notebook.connect() without a key starts the offline sandbox)")
        if not base:
            raise PhayaError("no base URL: pass base_url=... or set PHAYA_BASE (e.g. https://host/api/v1)")
        self._key = Secret(key)
        self.base_url = base.rstrip("/")
        from .launch import settings_for

        embedded = settings_for(self.base_url) or {}
        scale = float(time_scale or embedded.get("time_scale") or 1.0)
        self.job_speed = float(job_speed or embedded.get("speed") or 1.0)
        self._speed_known = bool(embedded) or time_scale is not None or job_speed is not None
        #: a local sandbox of unknown speed: first polls come early until durations are learned
        self.speed_unknown = False
        self.is_sandbox = bool(embedded) or urlsplit(self.base_url).hostname in ("127.0.0.1", "localhost", "::1")
        self.budget: RequestBudget = budget_for(self.base_url, key, requests_per_minute, scale)
        self.stats = {"requests": 0, "retries": 0, "rate_limited": 0, "reconciled": 0}
        #: the one request loop (core/http.py): budget per attempt, retries, error mapping, the key
        self.http = RequestLoop(self.base_url, self._key, self.budget, timeout=http_timeout,
                                max_retries=max_retries, time_scale=scale, is_sandbox=self.is_sandbox,
                                transport=transport, stats=self.stats)
        self.scheduler: PollScheduler = scheduler_for(self.budget)
        self.cache = MediaCache(cache_dir)
        self.download = download
        #: every credit rule: confirm threshold, max_credits, daily cap, balance, observed prices
        self.ledger = Ledger(max_credits=max_credits, confirm_above=confirm_above, read_balance=self.credits,
                             reuse_for=lambda: 2.0 / self.time_scale)
        #: every job this client made or re-attached, by (service, id)
        self.registry = JobRegistry()
        # the collaborators a Job talks to (jobs.JobBackend), each a public attribute
        self.events = Events(on_job_end=lambda job: self.timeline.close(job.id))
        self.results = Results(self.http, self)
        self.job_requests = JobRequests(self.http, self.scheduler, self.registry, self, self.stats)
        self.backend = JobBackend(self.job_requests, self.scheduler, self.results, self.ledger,
                                  self.events, self)
        self.calls = ChatCalls(self.http, self.ledger, self.events)

    def __repr__(self) -> str:
        return (f"<AsyncPhaya {self.base_url} key={self._key!r} "
                f"requests left {self.budget.remaining}/{self.budget.limit}>")

    @property
    def api_key_masked(self) -> str:
        return repr(self._key)

    @property
    def key_id(self) -> str:
        """A stable, non-secret name for the key (the job log keeps it to tell keys apart)."""
        return "key-" + hashlib.sha256(self._key.get().encode()).hexdigest()[:10]

    @property
    def shared_id(self) -> str:
        """This key's name in the shared window and daily cap (a hash of base URL and key)."""
        return key_id(self.base_url, self._key.get())

    # ------------------------------------------------------------- account

    async def credits(self) -> float:
        sent = time.time()
        data = await self.http.get("/user/credits")
        balance = float(_field(data, "credits_balance", "credits", "balance"))
        self.timeline.reading(sent, time.time(), balance)
        return balance

    async def profile(self) -> dict[str, Any]:
        data = await self.http.get("/user/profile")
        return dict(data.get("data", data)) if isinstance(data, dict) else {"profile": data}

    async def credits_history(self, limit: int = 20) -> list[dict[str, Any]]:
        data = await self.http.get("/user/credits/history", params={"limit": limit})
        return _listing(data, "transactions", "history", "data")

    async def _learn_sandbox_speed(self) -> None:
        """A local sandbox we were not told about may say how fast it runs (``/_sandbox/health``).

        Only timing depends on it; without an answer the scheduler learns from durations.
        """
        if self._speed_known or not self.is_sandbox:
            return
        self._speed_known = True
        root = self.base_url.rsplit("/api/", 1)[0]
        try:
            resp = await self.http.client().get(f"{root}/_sandbox/health", timeout=2.0)
            data = resp.json() if resp.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        speed, scale = data.get("speed"), data.get("time_scale")
        self.speed_unknown = not isinstance(speed, (int, float))
        if isinstance(speed, (int, float)) and speed > 0:
            self.job_speed = float(speed)
        if isinstance(scale, (int, float)) and scale > 0 and float(scale) != self.time_scale:
            self.time_scale = float(scale)
            self.budget.rescale(self.time_scale)

    # ------------------------------------------------------------- validation and money

    def _service(self, service: str | catalog.Service) -> catalog.Service:
        if isinstance(service, catalog.Service):
            return service
        try:
            return catalog.resolve_service(service)
        except catalog.ParamError as err:
            raise InvalidParams.from_param_error(err) from None

    def _validate(self, svc: catalog.Service, params: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return catalog.validate(svc, params)
        except catalog.ParamError as err:
            raise InvalidParams.from_param_error(err) from None

    def estimate(self, service: str | catalog.Service, **params: Any) -> catalog.Estimate:
        """The price of a job, validated, without any request.

        The catalog's price, or — when this service was seen charging more for the same
        parameters — the higher observed one, with both in ``basis`` (``core/observed.py``).
        """
        svc = self._service(service)
        return self._price(svc, self._validate(svc, split_local(svc, params)[0]))

    def _price(self, svc: catalog.Service, body: Mapping[str, Any]) -> catalog.Estimate:
        return self.ledger.price(svc, catalog.estimate(svc, body))

    def settle_charge(self, service: str, job_id: str, net: float) -> None:
        """A job's real net charge became known (credits history or balance): its reservation
        against ``max_credits`` becomes exactly that, up or down (``Ledger.settle_charge``)."""
        job = self.registry.find(self._service(service).name, job_id)
        if job is not None:
            self.ledger.settle_charge(job, net)

    @property
    def committed_credits(self) -> float:
        """Estimated credits of jobs this client created (or is creating), minus refunds, plus chat calls."""
        return self.ledger.committed

    # ------------------------------------------------------------- jobs

    async def submit(self, service: str | catalog.Service, *, confirm: bool = False, tags: tuple[str, ...] = (),
                     watch: bool = False, **params: Any) -> Job:
        """Validate, price, guard the money, create (one request), start polling; returns the Job.

        A media param may be a local file (a ``pathlib.Path`` or a path string): it is checked
        with the rest before any request, and uploaded (``media/upload``) only once the
        money checks pass; the job is created with the uploaded URL.
        """
        svc = self._service(service)
        params, local = split_local(svc, params)
        body = self._validate(svc, params)
        est = self._price(svc, body)
        self.ledger.check_confirm(svc.name, est, confirm)
        await self._learn_sandbox_speed()
        held = self.ledger.reserve(est.credits)
        try:
            await self.ledger.check_balance(svc.name, est.credits)
            if local:
                body = substitute(body, await self.results.upload_all(local))
            await self.ledger.read_before_first_job()
            sent = time.time()
            job_id, data = await self.job_requests.create(svc, body)
        except BaseException:
            self.ledger.cancel(held)
            raise
        self.timeline.open(job_id, sent)
        charged = data.get("credits_used", data.get("credits_charged"))
        status = data.get("status") if isinstance(data.get("status"), str) else None
        if status is not None and catalog.is_terminal(status):
            # a job found by reconciling may have finished already: its result (and media)
            # still come from one status poll, so it must not start out as done
            status = None
        job = Job(self.backend, svc, job_id, body, est, tags=tuple(tags),
                  charged=float(charged) if isinstance(charged, (int, float)) else None, raw_status=status)
        self.ledger.attach(job, held)
        job.watched = watch
        self.registry.add(job)
        self.events.emit("created", job)
        job.start()
        return job

    async def generate(self, service: str | catalog.Service, *, confirm: bool = False,
                       on_progress: Callable[[Job], Any] | None = None, timeout: float | None = None,
                       tags: tuple[str, ...] = (), **params: Any) -> Result:
        """Submit and wait: the finished Result (JobFailed / JobTimeout otherwise)."""
        job = await self.submit(service, confirm=confirm, tags=tags, watch=True, **params)
        return await job.wait(on_progress=on_progress, timeout=timeout)

    async def job(self, service: str | catalog.Service, job_id: str) -> Job:
        """Re-attach to a job by id (resume after a timeout or a restart); polling restarts."""
        svc = self._service(service)
        await self._learn_sandbox_speed()
        job = self.registry.find(svc.name, job_id)
        if job is None:
            job = Job(self.backend, svc, job_id, {}, catalog.Estimate(svc.min_price, False, "resumed"))
            self.registry.add(job)
            await job.refresh()
            created = epoch(job.fields.get("created_at"))
            if created is not None:
                job.created_at = min(created, time.time())
        job.resume()
        return job

    @property
    def jobs(self) -> list[Job]:
        return list(self.registry.values())

    async def history(self, service: str | catalog.Service, limit: int = 20) -> list[dict[str, Any]]:
        svc = self._service(service)
        if not svc.history:
            raise PhayaError(f"{svc.name} has no history endpoint (services with one: "
                             + ", ".join(s.name for s in catalog.SERVICES.values() if s.history) + ")")
        data = await self.http.get(svc.history, params={"limit": limit})
        return _listing(data, "jobs", "characters", "history", "data")

    # ------------------------------------------------------------- results and media (core/results.py)

    async def fetch_media(self, result: Result) -> bool:
        """Download a result's files into the cache (again); True when every file is local.

        A paid result whose download failed keeps its URLs and ``download_errors``; calling
        this later (the session retries with backoff, ``resume()`` too) fills ``paths`` in
        URL order once every file came. GETs only: never a new create.
        """
        return await self.results.fetch_media(result)

    async def upload(self, path_or_bytes: str | os.PathLike[str] | bytes, filename: str | None = None) -> str:
        """Put a local file in Phaya storage (``media/upload``); returns its URL for *_url params."""
        return await self.results.upload(path_or_bytes, filename)

    # ------------------------------------------------------------- chat and lists

    async def chat(self, messages: str | list[dict[str, Any]], *, model: str | None = None,
                   **kw: Any) -> ChatReply:
        return await self.calls.chat(messages, model, kw)

    def chat_stream(self, messages: str | list[dict[str, Any]], *, model: str | None = None,
                    **kw: Any) -> AsyncGenerator[ChatChunk, None]:
        """Text deltas as they arrive, then one ``done`` chunk with usage and credits.

        An async generator holding an open response: consume it inside
        ``contextlib.aclosing(...)`` (as every layer here does) so that stopping early
        closes the connection at once instead of leaving it to the garbage collector.
        """
        return self.calls.stream(messages, model, kw)

    async def embed(self, input: str | list[str], *, model: str | None = None) -> Embeddings:
        return await self.calls.embed(input, model)

    async def voices(self) -> list[dict[str, Any]]:
        return _listing(await self.http.get("/text-to-speech/voices", auth=False), "voices")

    async def models(self) -> list[dict[str, Any]]:
        return _listing(await self.http.get("/phaya-gpt/models"), "models", "data")

    async def pricing(self) -> list[dict[str, Any]]:
        return _listing(await self.http.get("/phaya-gpt/pricing"), "pricing", "data")

    async def characters(self) -> list[dict[str, Any]]:
        return _listing(await self.http.get("/sora2-character/list"), "characters", "data")

    async def media_queue_stats(self) -> dict[str, Any]:
        """How many media utility jobs wait and run on the server (``GET /media/queue/stats``)."""
        data = await self.http.get("/media/queue/stats")
        return dict(data) if isinstance(data, dict) else {}

    async def supported_platforms(self) -> list[str]:
        return [str(p) for p in _listing(await self.http.get("/video-download/supported-platforms"),
                                         "platforms", "data")]

    # ------------------------------------------------------------- events and closing

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(event)`` for every JobEvent and every ChatEvent (``event.kind == "chat"``).

        Listeners run synchronously on the loop that made the event; one that raises is
        logged and skipped, never allowed to break the job or the chat call.
        """
        self.events.add(fn)

    def remove_listener(self, fn: Listener) -> None:
        self.events.remove(fn)

    async def aclose(self) -> None:
        """Stop polling on this loop (jobs stay resumable) and close its connections."""
        loop = asyncio.get_running_loop()
        self.registry.stop_polling(loop)
        await self.http.aclose()

    async def __aenter__(self) -> AsyncPhaya:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

