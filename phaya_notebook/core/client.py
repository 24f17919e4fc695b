"""AsyncPhaya: the one client for the whole contract, and the one request path.

Every request goes through :meth:`AsyncPhaya._call`: it takes a slot from the key's
shared :class:`RequestBudget`, maps low-level failures to the :mod:`errors` tree in one
place, and retries what is safe to retry — GETs on transport errors, 429, 5xx and
malformed JSON. A create POST is retried only when it surely did not reach the server
(connection refused, 429). After an ambiguous create failure the job is reconciled (``create.py``)
(looked up in the service's history, or in the credits ledger) or the caller gets
:class:`AmbiguousCreate` — never a blind second charge.

The key lives in a :class:`_Secret` and is sent only in the Authorization header to
the API's own host; reprs, errors and our logs show at most its last four characters.

Money: every credit rule (confirm threshold, ``max_credits``, daily cap, balance check,
settle and refund, batch checks, observed prices) is the ledger's, ``client.ledger``
(``core/money.py``); the client asks it before each create and call.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import pathlib
import random
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import aclosing
from typing import Any
from urllib.parse import urlsplit

import httpx

from .. import catalog
from .attribution import MoneyTimeline
from .budget import RequestBudget, budget_for, key_id
from .chat import (
    ChatChunk,
    ChatEvent,
    ChatReply,
    Embeddings,
    chat_body,
    chat_ceiling,
    embedding_ceiling,
    embeddings_from,
    parse_sse,
    reply_from,
    stream_credits,
)
from .create import Ambiguous as _Ambiguous
from .create import create_job
from .daily import DailyCap
from .errors import (
    AuthenticationError,
    InvalidParams,
    PhayaError,
    RateLimited,
    ServerError,
    TransportError,
    mask_key,
    register_secret,
    retry_after_of,
)
from .jobs import Job, JobEvent, Result, _ts
from .local_media import split_local, substitute
from .media import MediaCache, guess_ext, guess_mime
from .money import Ledger, Reservation
from .observed import ObservedPrices
from .scheduler import PollScheduler, scheduler_for
from .wire import field_of as _field
from .wire import listing as _listing

__all__ = ["AsyncPhaya", "ClientEvent", "Listener"]

#: What a listener receives: a job's state change, or a finished chat call (``kind == "chat"``).
ClientEvent = JobEvent | ChatEvent
Listener = Callable[[ClientEvent], Any]

log = logging.getLogger("phaya_notebook.core")

class _Secret:
    """Holds the key; its repr and str show only the last four characters."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value
        register_secret(value)

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return mask_key(self._value)

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickled into a file by accident
        raise TypeError("the API key cannot be pickled")


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class AsyncPhaya:
    """Async client. ``api_key`` / ``base_url`` default to ``PHAYA_API_KEY`` / ``PHAYA_BASE``.

    ``time_scale`` (for a time-scaled sandbox) divides the rate window, the 5 s poll floor
    and expected durations; ``job_speed`` divides expected durations only (a sandbox's
    ``speed``). Both are picked up automatically for the embedded sandbox.
    """

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
        self._key = _Secret(key)
        self.base_url = base.rstrip("/")
        from .launch import settings_for

        embedded = settings_for(self.base_url) or {}
        self.time_scale = float(time_scale or embedded.get("time_scale") or 1.0)
        self.job_speed = float(job_speed or embedded.get("speed") or 1.0)
        self._speed_known = bool(embedded) or time_scale is not None or job_speed is not None
        #: a local sandbox of unknown speed: first polls come early until durations are learned
        self.speed_unknown = False
        self.is_sandbox = bool(embedded) or urlsplit(self.base_url).hostname in ("127.0.0.1", "localhost", "::1")
        self.budget: RequestBudget = budget_for(self.base_url, key, requests_per_minute, self.time_scale)
        self._scheduler: PollScheduler = scheduler_for(self.budget)
        self.cache = MediaCache(cache_dir)
        self.download = download
        #: every credit rule: confirm threshold, max_credits, daily cap, balance, observed prices
        self.ledger = Ledger(max_credits=max_credits, confirm_above=confirm_above, read_balance=self.credits,
                             reuse_for=lambda: 2.0 / self.time_scale)
        self.http_timeout = http_timeout
        self.max_retries = max_retries
        self._transport = transport
        self._host = urlsplit(self.base_url).netloc
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary())
        self._jobs: dict[tuple[str, str], Job] = {}
        self._listeners: list[Listener] = []
        self._inflight: dict[str, int] = {}
        self.stats = {"requests": 0, "retries": 0, "rate_limited": 0, "reconciled": 0}

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

    @property
    def scheduler(self) -> PollScheduler:
        return self._scheduler

    # ------------------------------------------------------------- plumbing

    def _http(self) -> httpx.AsyncClient:
        """One httpx client per event loop (connections belong to a loop)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(timeout=self.http_timeout, transport=self._transport,
                                       follow_redirects=True,
                                       limits=httpx.Limits(max_connections=50, max_keepalive_connections=20))
            self._clients[loop] = client
        return client

    def _url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key.get()}"}

    async def _backoff(self, attempt: int) -> None:
        self.stats["retries"] += 1
        delay = min(8.0, 0.5 * 2 ** attempt) * random.uniform(0.5, 1.0) / self.time_scale
        await asyncio.sleep(delay)

    async def _call(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
                    files: Any = None, safe: bool = True, auth: bool = True, priority: float | None = None,
                    background: bool = False, retries: int | None = None, what: str = "") -> Any:
        """The one request path: budget, error mapping, safe retries; returns parsed JSON."""
        url = self._url(path)
        what = what or f"{method} {path.split('?')[0]}"
        retries = self.max_retries if retries is None else retries
        attempt = 0
        limited = 0
        while True:
            cell = None
            if auth:
                cell = await self.budget.acquire(time.monotonic() if priority is None else priority,
                                                 background=background)
            self.stats["requests"] += 1
            try:
                resp = await self._http().request(method, url, json=json, params=params, files=files,
                                                  headers=self._auth() if auth else None)
            except _NOT_SENT as exc:
                self.budget.settle(cell)
                err: PhayaError = TransportError(f"{what}: could not connect to {self._host} "
                                                 f"({type(exc).__name__})")
                if attempt < retries:
                    attempt += 1
                    if self.is_sandbox and await self._revive_sandbox():
                        continue  # the persistent sandbox was down: started again (nothing was sent)
                    await self._backoff(attempt)
                    continue
                raise err from exc
            except httpx.TransportError as exc:
                self.budget.settle(cell)
                timed_out = isinstance(exc, httpx.TimeoutException)
                err = TransportError(f"{what}: {'no answer in time' if timed_out else 'connection dropped'} "
                                     f"({type(exc).__name__})")
                if not safe:
                    raise _Ambiguous(err, "timeout" if timed_out else "dropped",
                                     "no answer in time" if timed_out else "the connection was dropped") from exc
                if attempt < retries:
                    attempt += 1
                    await self._backoff(attempt)
                    continue
                raise err from exc
            self.budget.settle(cell)
            code = resp.status_code
            if code == 429:
                retry_after = retry_after_of(resp)
                self.stats["rate_limited"] += 1
                self.budget.pause(retry_after if retry_after is not None else
                                  self.budget.window / self.budget.limit * 2)
                limited += 1
                if limited <= max(retries, 3) * 2:
                    continue
                raise PhayaError.from_response(resp, what)
            if code >= 500:
                err = PhayaError.from_response(resp, what)
                if not safe:
                    raise _Ambiguous(err, "answered", f"the server answered {code}")
                if attempt < retries:
                    attempt += 1
                    await self._backoff(attempt)
                    continue
                raise err
            if code >= 400:
                raise PhayaError.from_response(resp, what)
            try:
                return resp.json()
            except ValueError:
                err = ServerError(f"{what}: the answer ({code}) is not valid JSON")
                if not safe:
                    raise _Ambiguous(err, "answered", "the answer was not valid JSON") from None
                if attempt < retries:
                    attempt += 1
                    await self._backoff(attempt)
                    continue
                raise err from None

    async def _revive_sandbox(self) -> bool:
        """The embedded sandbox stopped (killed, stopped, rebooted): start it again, same URL."""
        from .launch import is_embedded, revive

        return is_embedded(self.base_url) and await asyncio.to_thread(revive, self.base_url)

    async def _get(self, path: str, **kw: Any) -> Any:
        return await self._call("GET", path, **kw)

    # ------------------------------------------------------------- account

    async def credits(self) -> float:
        sent = time.time()
        data = await self._get("/user/credits")
        balance = float(_field(data, "credits_balance", "credits", "balance"))
        self.timeline.reading(sent, time.time(), balance)
        return balance

    async def profile(self) -> dict[str, Any]:
        data = await self._get("/user/profile")
        return dict(data.get("data", data)) if isinstance(data, dict) else {"profile": data}

    async def credits_history(self, limit: int = 20) -> list[dict[str, Any]]:
        data = await self._get("/user/credits/history", params={"limit": limit})
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
            resp = await self._http().get(f"{root}/_sandbox/health", timeout=2.0)
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

    # The money settings live in the ledger (core/money.py); these read and write through it.

    @property
    def max_credits(self) -> float | None:
        """Credits this client's jobs and calls may commit (None: no limit)."""
        return self.ledger.max_credits

    @max_credits.setter
    def max_credits(self, value: float | None) -> None:
        self.ledger.max_credits = value

    @property
    def confirm_above(self) -> float:
        """A job (or a batch) priced above this many credits needs ``confirm=True``."""
        return self.ledger.confirm_above

    @confirm_above.setter
    def confirm_above(self, value: float) -> None:
        self.ledger.confirm_above = value

    @property
    def daily_cap(self) -> DailyCap | None:
        """The key's daily spend cap, shared with every process using the key (a Session sets it)."""
        return self.ledger.daily_cap

    @daily_cap.setter
    def daily_cap(self, value: DailyCap | None) -> None:
        self.ledger.daily_cap = value

    @property
    def observed(self) -> ObservedPrices:
        """Last real charges per service and price basis: estimates use the higher (observed.py)."""
        return self.ledger.observed

    @observed.setter
    def observed(self, value: ObservedPrices) -> None:
        self.ledger.observed = value

    @property
    def timeline(self) -> MoneyTimeline:
        """Balance readings and money spans, to attribute charges nothing else names (attribution.py)."""
        return self.ledger.timeline

    @timeline.setter
    def timeline(self, value: MoneyTimeline) -> None:
        self.ledger.timeline = value

    def settle_charge(self, service: str, job_id: str, net: float) -> None:
        """A job's real net charge became known (credits history or balance): its reservation
        against ``max_credits`` becomes exactly that, up or down (``Ledger.settle_charge``)."""
        job = self._jobs.get((self._service(service).name, job_id))
        if job is not None:
            self.ledger.settle_charge(job, net)

    @property
    def committed_credits(self) -> float:
        """Estimated credits of jobs this client created (or is creating), minus refunds, plus chat calls."""
        return self.ledger.committed

    def _settle(self, job: Job) -> None:  # called by core/jobs.py (until Job talks to the ledger)
        self.ledger.settle(job)

    def _release(self, job: Job) -> None:  # called by core/jobs.py (until Job talks to the ledger)
        self.ledger.release(job)

    def _reserve_call(self, ceiling: float, what: str) -> Reservation:
        return self.ledger.reserve(ceiling, what)

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
                body = substitute(body, await self._upload_all(local))
            await self.ledger.read_before_first_job()
            sent = time.time()
            job_id, data = await self._create(svc, body)
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
        job = Job(self, svc, job_id, body, est, tags=tuple(tags),
                  charged=float(charged) if isinstance(charged, (int, float)) else None, raw_status=status)
        self.ledger.attach(job, held)
        job.watched = watch
        self._jobs[(svc.name, job_id)] = job
        self._emit("created", job)
        job._ensure_driver()
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
        job = self._jobs.get((svc.name, job_id))
        if job is None:
            job = Job(self, svc, job_id, {}, catalog.Estimate(svc.min_price, False, "resumed"))
            self._jobs[(svc.name, job_id)] = job
            await job.refresh()
            created = _ts(job.fields.get("created_at"))
            if created is not None:
                job.created_at = min(created, time.time())
        job._deadline_mono = time.monotonic() + svc.timeout_for(job.params) / self.time_scale
        job.timed_out = False
        if not job.done:
            job._ensure_driver()
        return job

    @property
    def jobs(self) -> list[Job]:
        return list(self._jobs.values())

    async def _poll(self, job: Job, due: float, interactive: bool = False) -> dict[str, Any]:
        data = await self._get(job.service.status_url(job.id), priority=due,
                               background=not (interactive or job.watched), retries=2,
                               what=f"status of {job.service.name} job {job.id}")
        if not isinstance(data, dict):
            raise ServerError(f"status of {job.id}: expected an object")
        return dict(data.get("data", data)) if "status" not in data and isinstance(data.get("data"), dict) \
            else data

    async def _cancel(self, job: Job) -> bool:
        # cancelling is safe to repeat: a second cancel of a cancelled job just says no
        data = await self._call("POST", job.service.cancel_url(job.id), safe=True, retries=2)
        return bool(isinstance(data, dict) and data.get("success"))

    async def history(self, service: str | catalog.Service, limit: int = 20) -> list[dict[str, Any]]:
        svc = self._service(service)
        if not svc.history:
            raise PhayaError(f"{svc.name} has no history endpoint (services with one: "
                             + ", ".join(s.name for s in catalog.SERVICES.values() if s.history) + ")")
        data = await self._get(svc.history, params={"limit": limit})
        return _listing(data, "jobs", "characters", "history", "data")

    # ------------------------------------------------------------- create (core/create.py)

    async def _create(self, svc: catalog.Service, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """One create request; reconciled, never blindly repeated, after an ambiguous failure."""
        return await create_job(self, svc, body)

    # ------------------------------------------------------------- results and media

    async def _make_result(self, job: Job) -> Result:
        data = job.fields
        urls: list[str] = []
        for name in job.service.result_fields:
            if name in ("origin_url",):
                continue
            value = data.get(name)
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, str) and v.startswith(("http://", "https://")) and v not in urls:
                    urls.append(v)
        char = data.get("character_id") if isinstance(data.get("character_id"), str) else None
        text = data.get("text") if isinstance(data.get("text"), str) else None
        result = Result(job.id, job.service.name, job.service.media, urls, [], data,
                        credits=float(job.charged or 0.0), character_id=char, text=text or char)
        if self.download:
            await self.fetch_media(result)
        return result

    async def fetch_media(self, result: Result) -> bool:
        """Download a result's files into the cache (again); True when every file is local.

        A paid result whose download failed keeps its URLs and ``download_errors``; calling
        this later (the session retries with backoff, ``resume()`` too) fills ``paths`` in
        URL order once every file came. GETs only: never a new create.
        """
        paths: list[pathlib.Path] = []
        mimes: list[str] = []
        sizes: list[int] = []
        errors: list[str] = []
        for url in result.urls:
            try:
                content, ctype = await self._fetch(url)
            except PhayaError as exc:
                errors.append(f"{url}: {exc}")
                continue
            path = await asyncio.to_thread(self.cache.store, content, guess_ext(url, ctype))
            paths.append(path)
            mimes.append(guess_mime(path, ctype))
            sizes.append(len(content))
        if errors and result.paths:  # keep what an earlier try already has
            return False
        result.paths[:], result.mime_types[:], result.sizes[:] = paths, mimes, sizes
        result.download_errors[:] = errors
        return not errors

    async def _fetch(self, url: str) -> tuple[bytes, str | None]:
        """Download a result file. The key goes only to the API's own host, and only if it asks."""
        same_host = urlsplit(url).netloc == self._host
        counted = url.startswith(self.base_url + "/")
        with_auth = counted
        attempt = limited = 0
        while True:
            cell = None
            if counted or with_auth:
                cell = await self.budget.acquire(time.monotonic(), background=True)
            try:
                resp = await self._http().get(url, headers=self._auth() if with_auth else None)
            except httpx.TransportError as exc:
                self.budget.settle(cell)
                if attempt < 3:
                    attempt += 1
                    await self._backoff(attempt)
                    continue
                raise TransportError(f"download of a result failed ({type(exc).__name__})") from exc
            self.budget.settle(cell)
            if resp.status_code in (401, 403) and same_host and not with_auth:
                with_auth = True
                continue
            if resp.status_code == 429 and limited < 10:
                limited += 1
                if with_auth or counted:
                    self.budget.pause(retry_after_of(resp) or 1.0)
                else:  # a storage host's own limit: wait, without stopping API traffic
                    await asyncio.sleep(min(retry_after_of(resp) or 1.0, 10.0) / self.time_scale)
                continue
            if resp.status_code >= 500 and attempt < 3:
                attempt += 1
                await self._backoff(attempt)
                continue
            if resp.status_code >= 400:
                raise PhayaError.from_response(resp, "download")
            return resp.content, resp.headers.get("content-type")

    async def _upload_all(self, files: Mapping[str, pathlib.Path]) -> dict[str, str]:
        """Upload local files at once; {placeholder: URL}."""
        keys = list(files)
        urls = await asyncio.gather(*(self.upload(files[k]) for k in keys))
        return dict(zip(keys, urls, strict=True))

    async def upload(self, path_or_bytes: str | os.PathLike[str] | bytes, filename: str | None = None) -> str:
        """Put a local file in Phaya storage (``media/upload``); returns its URL for *_url params."""
        if isinstance(path_or_bytes, (bytes, bytearray)):
            content, name = bytes(path_or_bytes), filename or "upload.bin"
        else:
            p = pathlib.Path(path_or_bytes)
            if not p.is_file():
                raise InvalidParams("upload", [catalog.ParamProblem("path_or_bytes", f"{str(p)!r} is not a file",
                                                                    "bytes or the path of an existing file")])
            content, name = p.read_bytes(), filename or p.name
        data = await self._call("POST", "/media/upload", files={"file": (name, content)}, safe=True,
                                what="upload")
        url = _field(data, "url", "file_url", "data") if isinstance(data, dict) else None
        if not isinstance(url, str):
            raise ServerError("upload: the answer has no url")
        return url

    # ------------------------------------------------------------- chat and lists

    async def chat(self, messages: str | list[dict[str, Any]], *, model: str | None = None,
                   **kw: Any) -> ChatReply:
        body = chat_body(messages, model, False, kw)
        started = time.monotonic()
        cap_res = self._reserve_call(chat_ceiling(body), "chat call")
        try:
            try:
                data = await self._call("POST", "/phaya-gpt/chat/completions", json=body, safe=False,
                                        what="chat")
            except _Ambiguous as amb:
                raise amb.error from None
            reply = reply_from(data if isinstance(data, dict) else {})
        except BaseException as exc:
            self._emit_chat(body, None, None, None, False, started, _why(exc), cap_res)
            raise
        self._emit_chat(body, reply.model, reply.usage, reply.credits, False, started, None, cap_res)
        return reply

    async def chat_stream(self, messages: str | list[dict[str, Any]], *, model: str | None = None,
                          **kw: Any) -> AsyncGenerator[ChatChunk, None]:
        """Text deltas as they arrive, then one ``done`` chunk with usage and credits.

        An async generator holding an open response: consume it inside
        ``contextlib.aclosing(...)`` (as every layer here does) so that stopping early
        closes the connection at once instead of leaving it to the garbage collector.
        """
        body = chat_body(messages, model, True, kw)
        started = time.monotonic()
        cap_res = self._reserve_call(chat_ceiling(body), "chat call")
        emitted = False
        seen_model: str | None = None
        try:
            for attempt in range(self.max_retries + 1):
                cell = await self.budget.acquire(time.monotonic())
                self.stats["requests"] += 1
                try:
                    async with self._http().stream("POST", self._url("/phaya-gpt/chat/completions"), json=body,
                                                   headers=self._auth()) as resp:
                        self.budget.settle(cell)
                        if resp.status_code == 429:
                            self.budget.pause(retry_after_of(resp) or 1.0)
                            continue
                        if resp.status_code >= 400:
                            await resp.aread()
                            raise PhayaError.from_response(resp, "chat stream")
                        lines = resp.aiter_lines()
                        try:
                            async with aclosing(parse_sse(lines)) as chunks:
                                async for chunk in chunks:
                                    seen_model = chunk.model or seen_model
                                    if chunk.done and not emitted:  # the call is complete: report it now
                                        emitted = True
                                        usage = chunk.usage or {}
                                        self._emit_chat(body, seen_model, usage,
                                                        stream_credits(seen_model or body.get("model"), usage,
                                                                       chunk.credits),
                                                        True, started, None, cap_res)
                                    yield chunk
                        finally:
                            await _finish_stream(resp, lines)
                        return
                except _NOT_SENT as exc:
                    if attempt < self.max_retries:
                        await self._backoff(attempt)
                        continue
                    raise TransportError(f"chat stream: could not connect ({type(exc).__name__})") from exc
                except httpx.TransportError as exc:
                    raise TransportError(f"chat stream broke off ({type(exc).__name__})") from exc
            raise RateLimited("chat stream: still rate limited after retries")
        except GeneratorExit:  # the consumer stopped before the final usage chunk
            if not emitted:
                self._emit_chat(body, seen_model, None, None, True, started, "closed early", cap_res)
            raise
        except BaseException as exc:
            if not emitted:
                self._emit_chat(body, seen_model, None, None, True, started, _why(exc), cap_res)
            raise

    async def embed(self, input: str | list[str], *, model: str | None = None) -> Embeddings:
        if not (isinstance(input, str) or (isinstance(input, list) and input
                                           and all(isinstance(x, str) for x in input))):
            raise InvalidParams("embedding", [catalog.ParamProblem("input", "is not text",
                                                                   "a string or a non-empty list of strings")])
        model = model or next(iter(catalog.EMBEDDING_MODELS))
        if model not in catalog.EMBEDDING_MODELS:
            raise InvalidParams("embedding", [catalog.ParamProblem(
                "model", f"{model!r} is not allowed", ", ".join(catalog.EMBEDDING_MODELS))])
        ceiling = embedding_ceiling(input, model)
        cap_res = self._reserve_call(ceiling, "embedding call")
        started = time.time()
        try:
            try:
                data = await self._call("POST", "/embedding/create", json={"input": input, "model": model},
                                        safe=False, what="embedding")
            except _Ambiguous as amb:
                raise amb.error from None
            emb = embeddings_from(data, model)  # the live shape (success, id, 4096-d) and the older one
        except BaseException:  # as for chat: a call that failed before answering keeps nothing
            self.ledger.cancel(cap_res)
            raise
        self.ledger.end_call(cap_res, emb.credits, reached=True)  # at the price, even above the ceiling
        self.timeline.call(started, time.time(), emb.credits, kind="embedding")
        return emb

    async def voices(self) -> list[dict[str, Any]]:
        return _listing(await self._get("/text-to-speech/voices", auth=False), "voices")

    async def models(self) -> list[dict[str, Any]]:
        return _listing(await self._get("/phaya-gpt/models"), "models", "data")

    async def pricing(self) -> list[dict[str, Any]]:
        return _listing(await self._get("/phaya-gpt/pricing"), "pricing", "data")

    async def characters(self) -> list[dict[str, Any]]:
        return _listing(await self._get("/sora2-character/list"), "characters", "data")

    async def media_queue_stats(self) -> dict[str, Any]:
        """How many media utility jobs wait and run on the server (``GET /media/queue/stats``)."""
        data = await self._get("/media/queue/stats")
        return dict(data) if isinstance(data, dict) else {}

    async def supported_platforms(self) -> list[str]:
        return [str(p) for p in _listing(await self._get("/video-download/supported-platforms"),
                                         "platforms", "data")]

    # ------------------------------------------------------------- events and closing

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(event)`` for every JobEvent and every ChatEvent (``event.kind == "chat"``).

        Listeners run synchronously on the loop that made the event; one that raises is
        logged and skipped, never allowed to break the job or the chat call.
        """
        self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _emit(self, kind: str, job: Job) -> None:
        if kind in ("completed", "failed", "cancelled"):
            self.timeline.close(job.id)
        self._deliver(JobEvent(kind, job))  # type: ignore[arg-type]

    def _emit_chat(self, body: dict[str, Any], model: str | None, usage: dict[str, Any] | None,
                   credits: float | None, streamed: bool, started: float, error: str | None,
                   cap_res: Reservation | None = None) -> None:
        """Report a finished chat call and turn its reservation into what it cost.

        A priced reply keeps its credits; a call that failed before any answer keeps
        nothing; one cut off mid-answer keeps its ceiling (the server may have charged).
        """
        now = time.time()
        if credits is not None or model is not None:  # it reached the server
            self.timeline.call(now - (time.monotonic() - started), now, credits)
        self.ledger.end_call(cap_res or Reservation(chat_ceiling(body)), credits,
                             reached=error is None or model is not None)
        self._deliver(ChatEvent(model or str(body.get("model") or catalog.DEFAULT_CHAT_MODEL),
                                list(body.get("messages") or []), dict(usage or {}),
                                None if credits is None else float(credits), streamed, error,
                                time.monotonic() - started))

    def _deliver(self, event: ClientEvent) -> None:
        for fn in list(self._listeners):
            try:
                fn(event)
            except Exception:
                log.exception("listener failed on a %s event", event.kind)

    async def aclose(self) -> None:
        """Stop polling on this loop (jobs stay resumable) and close its connections."""
        loop = asyncio.get_running_loop()
        for job in self._jobs.values():
            d = job._driver
            if d is not None and not d.done() and d.get_loop() is loop:
                d.cancel()
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    async def __aenter__(self) -> AsyncPhaya:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# ----------------------------------------------------------------- helpers


def _why(exc: BaseException) -> str:
    """A chat event's ``error``: the message, or the exception's name when it has none."""
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return str(exc) or type(exc).__name__


async def _finish_stream(resp: httpx.Response, lines: AsyncIterator[str]) -> None:
    """Close a streamed response and run its generator chain to the end, here and now.

    httpx reads a body through nested async generators (lines, text, bytes, down to
    httpcore's connection stream). Closing the outer one leaves the inner ones suspended
    for the garbage collector, which finalizes them later on whatever loop is left (or on
    none: "coroutine ... aclose was never awaited", "no running event loop"). So the
    response is closed first — the connection is dropped, nothing more is read from the
    server — and the chain is then pulled until it ends: what is left is only data
    already buffered, then an error from the closed connection, which unwinds every level.
    """
    await resp.aclose()
    # in this task (the chain's cancel scopes belong to it), bounded in time where asyncio can
    timeout: Any = getattr(asyncio, "timeout", None)
    try:
        async with timeout(2.0) if timeout is not None else contextlib.nullcontext():
            async for _ in lines:
                pass
    except Exception as exc:  # the expected end of a closed stream (ReadError, StreamClosed, ...)
        log.debug("chat stream closed: %s", type(exc).__name__)


