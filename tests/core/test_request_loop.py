"""The one request loop (core/http.py): a call, a download and a stream behave the same.

Against the time-scaled sandbox over real HTTP, with its fault queue (429 with
``Retry-After: 1``, 503, a dropped connection) and its per-path request counts; a port
nobody listens on for "connection refused"; httpx.MockTransport only for what the sandbox
cannot produce (a precise Retry-After, a budget of our own, a body cut off mid-stream, a
foreign storage host).
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from phaya_notebook.core.budget import RequestBudget
from phaya_notebook.core.chat import CHAT_PATH, chat_body
from phaya_notebook.core.errors import PhayaError, RateLimited, ServerError, TransportError
from phaya_notebook.core.http import Ambiguous, RequestLoop
from phaya_notebook.core.secret import Secret

KINDS = ["call", "download", "stream"]
KEY = "sk-loop-test-0123456789abcdefLOOP"


def _body() -> dict[str, Any]:
    return chat_body("say hello", None, True, {"max_tokens": 20})


async def _lines(http: RequestLoop, *, safe: bool) -> list[str]:
    async with http.stream("POST", CHAT_PATH, json=_body(), safe=safe, what="chat stream") as lines:
        return [line async for line in lines]


class Sandboxed:
    """One kind of request against the sandbox: how to send it, and the path it counts under."""

    def __init__(self, c: Any, kind: str, file_url: str):
        self.c, self.kind, self.file_url = c, kind, file_url
        self.path = {"call": "/api/v1/user/credits", "download": file_url.split("//", 1)[1].split("/", 1)[1],
                     "stream": "/api/v1" + CHAT_PATH}[kind]
        if kind == "download":
            self.path = "/" + self.path

    async def send(self, *, safe: bool = True) -> Any:
        http = self.c.http
        if self.kind == "call":
            return await http.call("GET", "/user/credits")
        if self.kind == "download":
            return await http.download(self.file_url)
        return await _lines(http, safe=safe)

    def ok(self, answer: Any) -> bool:
        if self.kind == "call":
            return isinstance(answer, dict) and "credits_balance" in answer
        if self.kind == "download":
            return answer[0] == b"\x89PNG loop test"
        return any("[DONE]" in line for line in answer)


def _count(admin: Any, path: str) -> int:
    return int(admin.stats()["by_path"].get(path, 0))


@pytest.fixture()
async def file_url(make_client: Any) -> AsyncIterator[str]:
    c = make_client()
    yield await c.upload(b"\x89PNG loop test", "loop.png")
    await c.aclose()


# ---------------------------------------------------------------- the sandbox: 429, 503, dropped


@pytest.mark.parametrize("fault", ["429", "503", "drop"])
@pytest.mark.parametrize("kind", KINDS)
async def test_a_safe_request_is_sent_again_after_429_503_and_a_dropped_connection(
        make_client: Any, admin: Any, file_url: str, kind: str, fault: str) -> None:
    c = make_client()
    r = Sandboxed(c, kind, file_url)
    before = _count(admin, r.path)
    granted = c.budget.granted
    admin.fault(fault, 1, paths=r.path)
    t0 = time.monotonic()
    assert r.ok(await r.send(safe=True))
    took = time.monotonic() - t0
    assert _count(admin, r.path) - before == 2  # the faulted attempt and one more, never a third
    assert c.stats["requests"] == 2
    if fault == "429":  # the sandbox says Retry-After: 1 (real seconds): honoured, not backed off
        assert took >= 0.95 and c.stats["rate_limited"] == 1 and c.stats["retries"] == 0
    else:  # backoff: 0.5-1 s divided by the time scale (10)
        assert took < 0.9 and c.stats["retries"] == 1 and c.stats["rate_limited"] == 0
    # every attempt of an API request takes a slot of the key's budget; storage downloads take none
    assert c.budget.granted - granted == (0 if kind == "download" else 2)
    await c.aclose()


@pytest.mark.parametrize("kind,fault,ambiguity", [
    ("call", "503", "answered"), ("call", "drop", "dropped"), ("call", "malformed", "answered"),
    ("stream", "503", "answered"), ("stream", "drop", "dropped"),
    # a stream's body is not parsed by the loop: the SSE parser skips what is not an event
])
async def test_an_unsafe_post_that_may_have_arrived_is_never_resent(make_client: Any, admin: Any, kind: str,
                                                                    fault: str, ambiguity: str) -> None:
    c = make_client()
    path = "/api/v1" + CHAT_PATH
    before = _count(admin, path)
    admin.fault(fault, 1, paths=CHAT_PATH)
    body = _body() | {"stream": kind == "stream"}
    with pytest.raises(Ambiguous) as ei:
        if kind == "call":
            await c.http.call("POST", CHAT_PATH, json=body, safe=False, what="chat")
        else:
            async with c.http.stream("POST", CHAT_PATH, json=body, what="chat stream") as lines:
                [line async for line in lines]
    assert _count(admin, path) - before == 1  # exactly one POST reached the server
    assert ei.value.kind == ambiguity and c.stats["retries"] == 0
    assert isinstance(ei.value.error, ServerError if ambiguity == "answered" else TransportError)
    await c.aclose()


@pytest.mark.parametrize("kind", ["call", "stream"])
async def test_an_unsafe_post_is_sent_again_after_a_429(make_client: Any, admin: Any, kind: str) -> None:
    c = make_client()
    path = "/api/v1" + CHAT_PATH
    before = _count(admin, path)
    admin.fault("429", 1, paths=CHAT_PATH)
    body = _body() | {"stream": kind == "stream"}
    if kind == "call":
        assert (await c.http.call("POST", CHAT_PATH, json=body, safe=False))["usage"]
    else:
        assert any("[DONE]" in line for line in await _lines(c.http, safe=False))
    assert _count(admin, path) - before == 2 and c.stats["rate_limited"] == 1  # the 429 was not acted on
    await c.aclose()


async def test_the_public_chat_calls_surface_a_dropped_post_as_its_error(make_client: Any, admin: Any) -> None:
    c = make_client()
    path = "/api/v1" + CHAT_PATH
    before = _count(admin, path)
    admin.fault("drop", 2, paths=CHAT_PATH)
    with pytest.raises(TransportError, match="connection dropped"):
        await c.chat("hello")
    with pytest.raises(TransportError, match="connection dropped"):
        async for _ in c.chat_stream("hello"):
            pass
    assert _count(admin, path) - before == 2 and c.committed_credits == 0
    await c.aclose()


# ---------------------------------------------------------------- connection refused


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("kind", KINDS)
async def test_connection_refused_is_retried_with_backoff_then_a_transport_error(kind: str) -> None:
    base = f"http://127.0.0.1:{_free_port()}/api/v1"
    http = RequestLoop(base, Secret(KEY), RequestBudget(60, time_scale=100.0), max_retries=2, time_scale=100.0)
    send: dict[str, Callable[[], Awaitable[Any]]] = {
        "call": lambda: http.call("POST", "/text-to-image/generate", json={}, safe=False),  # nothing was sent
        "download": lambda: http.download(base + "/files/abc/x.png"),
        "stream": lambda: _lines(http, safe=False),
    }
    with pytest.raises(TransportError, match="could not connect") as ei:
        await send[kind]()
    assert KEY not in str(ei.value) and isinstance(ei.value.__cause__, httpx.ConnectError)
    assert http.stats["requests"] == 3 and http.stats["retries"] == 2
    assert http.budget.granted == 3  # one slot per attempt
    await http.aclose()


# ---------------------------------------------------------------- shapes the sandbox cannot make


def _mock_loop(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> RequestLoop:
    kw.setdefault("time_scale", 100.0)
    return RequestLoop("http://api.test/api/v1", Secret(KEY), RequestBudget(60, time_scale=100.0),
                       transport=httpx.MockTransport(handler), **kw)


def _answer(kind: str) -> httpx.Response:
    if kind == "stream":
        return httpx.Response(200, text='data: {"choices": [{"delta": {"content": "hi"}}]}\n\ndata: [DONE]\n\n')
    if kind == "download":
        return httpx.Response(200, content=b"media", headers={"content-type": "image/png"})
    return httpx.Response(200, json={"ok": True})


async def _send(http: RequestLoop, kind: str, url: str = "http://api.test/api/v1/media/f.png") -> Any:
    if kind == "call":
        return await http.call("GET", "/user/credits")
    if kind == "download":
        return await http.download(url)
    return await _lines(http, safe=True)


@pytest.mark.parametrize("kind", KINDS)
async def test_retry_after_is_honoured_and_each_attempt_takes_a_slot(kind: str) -> None:
    seen: list[float] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(time.monotonic())
        if len(seen) == 1:
            return httpx.Response(429, json={"detail": "slow down"}, headers={"Retry-After": "0.4"})
        if len(seen) == 2:
            return httpx.Response(503, json={"detail": "busy"})
        return _answer(kind)

    http = _mock_loop(handler)
    await _send(http, kind)
    assert len(seen) == 3 and seen[1] - seen[0] >= 0.39  # the Retry-After, not the (scaled) backoff
    assert http.budget.granted == 3 and http.stats == {"requests": 3, "retries": 1, "rate_limited": 1}
    await http.aclose()


@pytest.mark.parametrize("kind", KINDS)
async def test_the_same_limits_for_every_kind(kind: str) -> None:
    calls = {"n": 0}

    def always(code: int) -> Callable[[httpx.Request], httpx.Response]:
        def handler(req: httpx.Request) -> httpx.Response:
            calls["n"] += 1
            return httpx.Response(code, json={"detail": "no"}, headers={"Retry-After": "0"})
        return handler

    http = _mock_loop(always(429), max_retries=1)
    with pytest.raises(RateLimited):
        await _send(http, kind)
    assert calls["n"] == 1 + 2 * 3  # 429s: 2 x max(retries, 3) more tries
    calls["n"] = 0
    http = _mock_loop(always(500), max_retries=2)
    with pytest.raises(ServerError, match="500"):
        await _send(http, kind)
    assert calls["n"] == 3  # 5xx: 1 + retries
    calls["n"] = 0
    http = _mock_loop(always(404))
    with pytest.raises(PhayaError, match="not found"):
        await _send(http, kind)
    assert calls["n"] == 1  # other 4xx: never retried
    await http.aclose()


async def test_a_download_is_tried_three_times_at_most() -> None:
    calls: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(str(req.url))
        return httpx.Response(500, json={"detail": "storage down"})

    http = _mock_loop(handler)  # max_retries=5: a download still stops after 3 retries
    with pytest.raises(ServerError, match="download"):
        await http.download("http://api.test/files/t/x.png")
    assert len(calls) == 4
    await http.aclose()


async def test_a_storage_hosts_429_waits_without_pausing_the_key() -> None:
    seen: list[float] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(time.monotonic())
        assert "authorization" not in req.headers
        if len(seen) == 1:
            return httpx.Response(429, headers={"Retry-After": "0.3"})
        return _answer("download")

    http = _mock_loop(handler)
    assert (await http.download("http://cdn.test/f.png"))[0] == b"media"
    assert seen[1] - seen[0] >= 0.29 and http.budget.paused_for == 0 and http.budget.granted == 0
    await http.aclose()


async def test_the_key_goes_only_to_the_apis_own_host() -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(req: httpx.Request) -> httpx.Response:
        auth = req.headers.get("authorization")
        seen.append((req.url.host, auth))
        if auth is None:
            return httpx.Response(401, json={"detail": f"no key (I would like {KEY})"})
        return _answer("download")

    http = _mock_loop(handler)
    with pytest.raises(PhayaError) as ei:
        await http.download("http://cdn.test/private.png")
    assert KEY not in str(ei.value)
    assert await http.download("http://api.test/files/t/private.png")  # its own host asked: sent once with it
    with pytest.raises(PhayaError):  # an absolute URL elsewhere: no key either, even for an API call
        await http.call("GET", "http://other.test/api/v1/x")
    assert seen == [("cdn.test", None), ("api.test", None), ("api.test", f"Bearer {KEY}"), ("other.test", None)]
    assert KEY not in repr(http)
    await http.aclose()


async def test_a_stream_is_not_retried_after_its_first_byte() -> None:
    calls = {"n": 0}

    async def body() -> AsyncIterator[bytes]:
        yield b'data: {"choices": [{"delta": {"content": "Hel"}}]}\n\n'
        raise httpx.ReadError("connection reset mid-answer")

    def handler(req: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(200, stream=_Stream(body()))

    http = _mock_loop(handler)
    got: list[str] = []
    with pytest.raises(TransportError, match="broke off"):
        async with http.stream("POST", CHAT_PATH, json=_body(), safe=True) as lines:
            async for line in lines:
                got.append(line)
    assert calls["n"] == 1 and any("Hel" in g for g in got)
    await http.aclose()


class _Stream(httpx.AsyncByteStream):
    def __init__(self, it: AsyncIterator[bytes]):
        self.it = it

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.it:
            yield chunk
