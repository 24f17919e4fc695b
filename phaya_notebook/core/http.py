"""The one request loop: API calls, media downloads and the chat stream all go through it.

Before this module the client retried in three places with three limits; now
:class:`RequestLoop` owns the httpx client, the base URL, the key, the per-key
:class:`~phaya_notebook.core.budget.RequestBudget`, and the one retry policy (its
docstring). Callers say *what* they send (``call``, ``get``, ``download``, ``stream``);
this module decides whether, when and how often it goes out again, and maps every
failure onto the :mod:`errors` tree in one place (``raise ... from exc``).

A POST that may have reached the server is never resent from here: it surfaces as
:class:`Ambiguous`, and the caller that knows how to look (``create.py``) reconciles.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from .budget import RequestBudget
from .errors import PhayaError, ServerError, TransportError, retry_after_of
from .secret import Secret

__all__ = ["Ambiguous", "LineStream", "RequestLoop"]

log = logging.getLogger("phaya_notebook.core")

#: transport failures that prove nothing was sent (safe to resend even a POST)
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class Ambiguous(Exception):
    """A non-idempotent request failed after it may have reached the server.

    ``kind``: "answered" (5xx or bad JSON: the server's handler is finished), "dropped"
    (connection cut without an answer) or "timeout" (the server may still be working).
    ``error`` is what the caller raises when it cannot reconcile.
    """

    def __init__(self, error: PhayaError, kind: str, what: str):
        super().__init__(str(error))
        self.error = error
        self.kind = kind
        self.what = what


@dataclass
class _Request:
    """One logical request (every attempt of it), as the loop needs to know it."""

    method: str
    url: str
    what: str
    safe: bool              # may be resent after it may have reached the server (GET, cancel, upload)
    auth: bool              # carries the key (only ever to the API's own host)
    counted: bool           # takes a slot of the key's budget per attempt
    retries: int
    priority: float | None = None
    background: bool = False
    reauth: bool = False    # a download from the API's host: on 401/403 try once with the key
    stream: bool = False
    json: Any = None
    params: Mapping[str, Any] | None = None
    files: Any = None


class RequestLoop:
    """Sends requests for one (base URL, key) and applies THE retry policy.

    **Every attempt** of every request that is counted (API calls, and downloads from the
    API's host or sent with the key) first takes one slot of the shared
    :class:`RequestBudget` (interactive before background, then by ``priority``); the slot
    counts from when the answer arrives. ``stats["requests"]`` counts every attempt.

    **Retried, with backoff** — up to ``retries`` times (``max_retries``, default 5, unless
    the caller passes fewer: a poll 2, since the next poll is its retry; a download 3,
    since a session retries a failed download later in the background):

    - connection refused / connect timeout / pool timeout (nothing was sent: a POST too);
      the embedded sandbox, if it stopped, is started again first (no backoff then);
    - for *safe* requests only (GETs, cancels, uploads): a dropped connection or timeout,
      a 5xx answer, and a 2xx whose body is not JSON.

    Backoff before retry *n* (1, 2, …): ``min(8, 0.5 × 2**n) × uniform(0.5, 1)`` seconds,
    divided by the time scale.

    **429** means the server did not act on the request, so any request (a POST too) is
    sent again, up to ``2 × max(retries, 3)`` times, after the ``Retry-After`` it names
    (real seconds; without one, two slots' worth of the window): for a counted request the
    whole key's budget pauses that long (every process sharing it too); a storage host's
    own 429 only makes this request wait (at most 10 s). Past the limit: :class:`RateLimited`.
    A 5xx's Retry-After is not read: 5xx retries use the backoff above.

    **Never retried**: 4xx other than 429 (mapped to the error tree by
    :meth:`PhayaError.from_response`; a download from the API's host sent without the key
    is tried once with it on 401/403), and — for an *unsafe* request (a create, a chat or
    embedding call) — anything after it may have reached the server: a dropped
    connection ("dropped"), a timeout ("timeout"), a 5xx or a non-JSON body ("answered")
    raise :class:`Ambiguous` carrying the mapped error, never a second send. A stream is
    retried only before its first byte; a break after that is a :class:`TransportError`.

    The key is sent only in the Authorization header and only to the API's own host
    (httpx drops it on a redirect to another host); reprs and errors show at most its
    last four characters.
    """

    def __init__(self, base_url: str, key: Secret, budget: RequestBudget, *, timeout: float = 30.0,
                 max_retries: int = 5, time_scale: float = 1.0, is_sandbox: bool = False,
                 transport: httpx.AsyncBaseTransport | None = None, stats: dict[str, int] | None = None):
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).netloc
        self._key = key
        self.budget = budget
        self.timeout = timeout
        self.max_retries = max_retries
        #: divides backoff and storage-host waits (a time-scaled sandbox); the client keeps it current
        self.time_scale = time_scale
        self.is_sandbox = is_sandbox
        self.stats = stats if stats is not None else {"requests": 0, "retries": 0, "rate_limited": 0}
        self._transport = transport
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary())

    def __repr__(self) -> str:
        return f"<RequestLoop {self.base_url} key={self._key!r}>"

    # ------------------------------------------------------------- public entry points

    async def call(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
                   files: Any = None, safe: bool = True, auth: bool = True, priority: float | None = None,
                   background: bool = False, retries: int | None = None, what: str = "") -> Any:
        """One API request under the policy; returns the parsed JSON answer."""
        req = _Request(method, self.url(path), what or f"{method} {path.split('?')[0]}", safe, auth, auth,
                       self.max_retries if retries is None else retries, priority, background,
                       json=json, params=params, files=files)
        return await self._run(req, _json_of)

    async def get(self, path: str, **kw: Any) -> Any:
        return await self.call("GET", path, **kw)

    async def download(self, url: str, *, retries: int = 3) -> tuple[bytes, str | None]:
        """A result file: ``(content, content type)``. The key goes only to the API's host, and
        only to an API URL or when that host asks for it (401/403)."""
        counted = url.startswith(self.base_url + "/")
        req = _Request("GET", url, "download", True, counted, counted, min(retries, self.max_retries),
                       background=True, reauth=urlsplit(url).netloc == self.host)
        return await self._run(req, lambda r: (r.content, r.headers.get("content-type")))

    def stream(self, method: str, path: str, *, json: Any = None, safe: bool = False,
               priority: float | None = None, retries: int | None = None, what: str = "") -> LineStream:
        """``async with loop.stream("POST", path, json=...) as lines: async for line in lines``.

        Retried (as :meth:`call`) only until the answer's headers arrive; leaving the block
        closes the connection at once, whether or not the body was read to the end.
        """
        req = _Request(method, self.url(path), what or f"{method} {path.split('?')[0]}", safe, True, True,
                       self.max_retries if retries is None else retries, priority, stream=True, json=json)
        return LineStream(self, req)

    def client(self) -> httpx.AsyncClient:
        """The httpx client of the running event loop (connections belong to a loop).

        For a probe outside the policy (the sandbox's unauthenticated health check).
        """
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(timeout=self.timeout, transport=self._transport, follow_redirects=True,
                                       limits=httpx.Limits(max_connections=50, max_keepalive_connections=20))
            self._clients[loop] = client
        return client

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    async def aclose(self) -> None:
        """Close the connections of the running loop (other loops keep theirs)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    # ------------------------------------------------------------- the loop

    async def _run(self, req: _Request, parse: Callable[[httpx.Response], Any]) -> Any:
        """Attempts until an answer ``parse`` accepts, or the policy says stop (see the class)."""
        failures = limited = 0
        while True:
            cell = None
            if req.counted or req.auth:
                cell = await self.budget.acquire(time.monotonic() if req.priority is None else req.priority,
                                                 background=req.background)
            self.stats["requests"] += 1
            try:
                resp = await self._send(req)
            except _NOT_SENT as exc:
                self.budget.settle(cell)
                err: PhayaError = TransportError(f"{req.what}: could not connect to {self.host} "
                                                 f"({type(exc).__name__})")
                if failures < req.retries:
                    failures += 1
                    if self.is_sandbox and await self._revive_sandbox():
                        continue  # the persistent sandbox was down: started again (nothing was sent)
                    await self._backoff(failures)
                    continue
                raise err from exc
            except httpx.TransportError as exc:
                self.budget.settle(cell)
                timed_out = isinstance(exc, httpx.TimeoutException)
                err = TransportError(f"{req.what}: {'no answer in time' if timed_out else 'connection dropped'} "
                                     f"({type(exc).__name__})")
                if not req.safe:
                    raise Ambiguous(err, "timeout" if timed_out else "dropped",
                                    "no answer in time" if timed_out else "the connection was dropped") from exc
                if failures < req.retries:
                    failures += 1
                    await self._backoff(failures)
                    continue
                raise err from exc
            self.budget.settle(cell)
            code = resp.status_code
            if req.stream and code >= 400:  # an error answer is short: read it for the message, then close
                with contextlib.suppress(httpx.HTTPError):
                    await resp.aread()
                await resp.aclose()
            if code in (401, 403) and req.reauth and not req.auth:
                req.auth = True
                continue
            if code == 429:
                self.stats["rate_limited"] += 1
                named = retry_after_of(resp)
                wait = named if named is not None else self.budget.window / self.budget.limit * 2
                if req.counted or req.auth:
                    self.budget.pause(wait)
                    if limited < 2 * max(req.retries, 3):
                        limited += 1
                        continue
                elif limited < 2 * max(req.retries, 3):  # a storage host's own limit: API traffic goes on
                    limited += 1
                    await asyncio.sleep(min(wait, 10.0))
                    continue
                raise PhayaError.from_response(resp, req.what)
            if code >= 500:
                err = PhayaError.from_response(resp, req.what)
                if not req.safe:
                    raise Ambiguous(err, "answered", f"the server answered {code}")
                if failures < req.retries:
                    failures += 1
                    await self._backoff(failures)
                    continue
                raise err
            if code >= 400:
                raise PhayaError.from_response(resp, req.what)
            try:
                return parse(resp)
            except ValueError:
                err = ServerError(f"{req.what}: the answer ({code}) is not valid JSON")
                if not req.safe:
                    raise Ambiguous(err, "answered", "the answer was not valid JSON") from None
                if failures < req.retries:
                    failures += 1
                    await self._backoff(failures)
                    continue
                raise err from None

    async def _send(self, req: _Request) -> httpx.Response:
        """One attempt; the Authorization header only when asked and only to the API's host."""
        headers = ({"Authorization": f"Bearer {self._key.get()}"}
                   if req.auth and urlsplit(req.url).netloc == self.host else None)
        client = self.client()
        request = client.build_request(req.method, req.url, json=req.json, params=req.params, files=req.files,
                                       headers=headers)
        return await client.send(request, stream=req.stream)

    async def _backoff(self, attempt: int) -> None:
        self.stats["retries"] += 1
        delay = min(8.0, 0.5 * 2 ** attempt) * random.uniform(0.5, 1.0) / self.time_scale
        await asyncio.sleep(delay)

    async def _revive_sandbox(self) -> bool:
        """The embedded sandbox stopped (killed, stopped, rebooted): start it again, same URL."""
        from .launch import is_embedded, revive

        return is_embedded(self.base_url) and await asyncio.to_thread(revive, self.base_url)


def _json_of(resp: httpx.Response) -> Any:
    return resp.json()  # ValueError when the body is not JSON: the loop decides


class LineStream:
    """An open streamed answer (:meth:`RequestLoop.stream`): its lines, then a deterministic close.

    No generator of its own: iterating awaits httpx's line iterator directly, and a
    transport failure mid-body becomes a :class:`TransportError` ("broke off").
    """

    def __init__(self, loop: RequestLoop, req: _Request):
        self._loop = loop
        self._req = req
        self._resp: httpx.Response | None = None
        self._lines: AsyncIterator[str] | None = None

    async def __aenter__(self) -> LineStream:
        self._resp = await self._loop._run(self._req, lambda r: r)
        self._lines = self._resp.aiter_lines()
        return self

    def __aiter__(self) -> LineStream:
        return self

    async def __anext__(self) -> str:
        assert self._lines is not None, "use `async with loop.stream(...) as lines`"
        try:
            return await self._lines.__anext__()
        except httpx.TransportError as exc:
            raise TransportError(f"{self._req.what} broke off ({type(exc).__name__})") from exc

    async def __aexit__(self, *exc: object) -> None:
        if self._resp is not None and self._lines is not None:
            await finish_stream(self._resp, self._lines)


async def finish_stream(resp: httpx.Response, lines: AsyncIterator[str]) -> None:
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
