"""Client behaviour against odd servers, with httpx.MockTransport (no sockets)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from phaya_notebook.core.chat import parse_sse
from phaya_notebook.core.client import AsyncPhaya
from phaya_notebook.core.errors import (
    AmbiguousCreate,
    AuthenticationError,
    BudgetExceeded,
    ConfirmationRequired,
    InsufficientCredits,
    InvalidParams,
    NotFound,
    PhayaError,
    RateLimited,
    ServerError,
    ServerValidationError,
    TransportError,
)

KEY = "sk-mock-0123456789abcdefWXYZ"
BASE = "http://mock.test/api/v1"
_n = 0


def client(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> AsyncPhaya:
    global _n
    _n += 1  # a fresh base per test: budgets are per (base, key)
    kw.setdefault("time_scale", 200.0)
    kw.setdefault("download", False)
    return AsyncPhaya(KEY, f"http://mock{_n}.test/api/v1", transport=httpx.MockTransport(handler), **kw)


def ok(data: Any, code: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(code, json=data, headers=headers)


async def test_missing_key_and_base_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AuthenticationError, match="PHAYA_API_KEY"):
        AsyncPhaya(None, BASE)
    with pytest.raises(PhayaError, match="PHAYA_BASE"):
        AsyncPhaya(KEY, None)
    monkeypatch.setenv("PHAYA_API_KEY", KEY)
    monkeypatch.setenv("PHAYA_BASE", BASE)
    c = AsyncPhaya()
    assert c.base_url == BASE and KEY not in repr(c) and "WXYZ" in repr(c)


async def test_status_codes_map_to_the_error_tree() -> None:
    answers = {
        "/user/credits": ok({"detail": "Invalid API key"}, 401),
        "/user/profile": ok({"detail": "Not enough credits"}, 402),
        "/user/credits/history": ok({"detail": "nope"}, 404),
        "/phaya-gpt/models": ok({"detail": [{"loc": ["body", "prompt"], "msg": "field required",
                                             "type": "missing"}]}, 422),
    }
    c = client(lambda r: answers[r.url.path.removeprefix(r.url.path[:r.url.path.index("/api/v1") + 7])])
    with pytest.raises(AuthenticationError):
        await c.credits()
    from phaya_notebook.core.errors import InsufficientCredits as IC
    with pytest.raises(IC):
        await c.profile()
    with pytest.raises(NotFound):
        await c.credits_history()
    with pytest.raises(ServerValidationError, match="body.prompt: field required") as ei:
        await c.models()
    assert ei.value.detail[0]["type"] == "missing"
    await c.aclose()


async def test_get_retries_5xx_malformed_and_transport_then_succeeds() -> None:
    seq = [httpx.Response(503, text="busy"), httpx.Response(200, text="{not json"),
           "drop", httpx.Response(500, json={"detail": "x"}), ok({"credits_balance": 7.5})]
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        item = seq.pop(0)
        seen.append(req.headers["authorization"])
        if item == "drop":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        assert isinstance(item, httpx.Response)
        return item

    c = client(handler)
    assert await c.credits() == 7.5
    assert len(seen) == 5 and all(h == f"Bearer {KEY}" for h in seen)
    await c.aclose()


async def test_get_gives_up_with_server_error() -> None:
    c = client(lambda r: httpx.Response(500, json={"detail": "down"}), max_retries=2)
    with pytest.raises(ServerError, match="500"):
        await c.credits()
    await c.aclose()


async def test_429_pauses_the_budget_and_retries() -> None:
    calls = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req.url.path)
        if len(calls) < 3:
            return ok({"detail": "Rate limit exceeded"}, 429, **{"Retry-After": "0"})
        return ok({"credits_balance": 1})

    c = client(handler)
    assert await c.credits() == 1.0
    assert c.budget.rate_limited == 2 and c.stats["rate_limited"] == 2
    await c.aclose()


async def test_validation_sends_nothing() -> None:
    calls: list[str] = []
    c = client(lambda r: calls.append(str(r.url)) or ok({}))  # type: ignore[func-returns-value]
    with pytest.raises(InvalidParams) as ei:
        await c.submit("text-to-image", prompt="a cat", aspect_ratio="2:1")
    assert ei.value.field == "aspect_ratio" and "16:9" in str(ei.value)
    with pytest.raises(InvalidParams, match="prompt: is required"):
        await c.submit("sora2-text-to-video")
    with pytest.raises(InvalidParams, match="unknown service"):
        await c.submit("no-such-thing", prompt="x")
    with pytest.raises(ValueError):  # also a catalog.ParamError / ValueError
        await c.generate("nano-banana", prompt="x", resolution="8K")
    with pytest.raises(InvalidParams, match="messages"):
        await c.chat([])
    with pytest.raises(InvalidParams, match="temperature"):
        await c.chat("hi", temperature=5)
    assert calls == []
    await c.aclose()


async def test_confirm_budget_and_balance_checks() -> None:
    calls: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req.url.path)
        if req.url.path.endswith("/user/credits"):
            return ok({"credits_balance": 20.0})
        raise AssertionError("no create should be sent")

    c = client(handler, max_credits=10.0)
    with pytest.raises(ConfirmationRequired) as ei:
        await c.submit("veo31-video", prompt="a cat")
    assert ei.value.estimate is not None and ei.value.estimate.credits == 15.0
    with pytest.raises(BudgetExceeded, match="max_credits"):
        await c.submit("veo31-video", prompt="a cat", confirm=True)
    assert calls == []
    c2 = client(handler)
    with pytest.raises(InsufficientCredits, match="balance is 20"):
        await c2.submit("veo31-video", prompt="a cat", model="veo3", confirm=True)
    assert calls == ["/api/v1/user/credits"] and c2.committed_credits == 0
    await c.aclose()
    await c2.aclose()


async def test_create_is_retried_only_when_it_surely_did_not_arrive() -> None:
    state = {"n": 0}

    def handler(req: httpx.Request) -> httpx.Response:
        state["n"] += 1
        if state["n"] == 1:
            raise httpx.ConnectError("refused")
        if state["n"] == 2:
            return ok({"detail": "slow down"}, 429, **{"Retry-After": "0"})
        return ok({"success": True, "job_id": "j1", "status": "processing", "credits_charged": 0})

    c = client(handler)
    job = await c.submit("seedream", prompt="x")
    assert job.id == "j1" and state["n"] == 3
    await c.aclose()


async def test_ambiguous_create_without_lookup_raises_and_does_not_resend() -> None:
    posts: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.method == "POST":
            posts.append(req.url.path)
            raise httpx.ReadTimeout("timed out")
        raise AssertionError(req.url.path)

    c = client(handler)
    with pytest.raises(AmbiguousCreate, match="NOT sent again") as ei:
        await c.submit("seedream", prompt="x")
    assert "dashboard" in str(ei.value)
    assert posts == ["/api/v1/seedream/create"]
    assert c.committed_credits == 0
    await c.aclose()


async def test_ambiguous_create_reconciled_from_history() -> None:
    posts: list[dict[str, Any]] = []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.method == "POST":
            posts.append(json.loads(req.content))
            return httpx.Response(502, text="bad gateway")
        if req.url.path.endswith("/text-to-image/history"):
            return ok({"jobs": [
                {"job_id": "other", "prompt": "a dog", "status": "PENDING",
                 "created_at": "2099-01-01T00:00:00Z"},
                {"job_id": "mine", "prompt": "a cat", "aspect_ratio": "16:9", "status": "PENDING",
                 "created_at": "2099-01-01T00:00:00Z"}]})
        if "/status/" in req.url.path:
            return ok({"job_id": "mine", "status": "PROCESSING"})
        raise AssertionError(req.url.path)

    c = client(handler)
    job = await c.submit("text-to-image", prompt="a cat", aspect_ratio="16:9")
    assert job.id == "mine" and len(posts) == 1 and c.stats["reconciled"] == 1
    await c.aclose()


async def test_answered_5xx_with_nothing_created_is_sent_again() -> None:
    posts: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.method == "POST":
            posts.append(req.url.path)
            if len(posts) == 1:
                return httpx.Response(500, json={"detail": "boom"})
            return ok({"job_id": "j2", "status": "processing", "credits_charged": 8.0})
        if req.url.path.endswith("/user/credits/history"):
            return ok({"transactions": [{"id": "t", "amount": -8.0, "kind": "charge",
                                         "service": "sora2-text-to-video", "job_id": "old",
                                         "created_at": "2000-01-01T00:00:00Z"}]})
        return ok({"job_id": "j2", "status": "processing"})

    c = client(handler)
    job = await c.submit("sora2-text-to-video", prompt="x")
    assert job.id == "j2" and len(posts) == 2
    await c.aclose()


async def test_key_never_leaks_in_reprs_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path.endswith("/credits"):
            raise httpx.ConnectError(f"refused (headers were {req.headers!r})")
        return ok({"detail": f"bad key {KEY}"}, 401)

    c = client(handler, max_retries=1)
    texts = [repr(c), str(c), repr(c.budget), repr(c._key), str(c._key)]
    for call in (c.credits, c.profile):
        with pytest.raises(PhayaError) as ei:
            await call()
        texts += [str(ei.value), repr(ei.value)]
        if ei.value.__cause__ is not None:
            texts.append(str(ei.value.__cause__))
    texts.append(caplog.text)
    for t in texts:
        assert KEY not in t
    assert "WXYZ" in repr(c)
    await c.aclose()


async def test_rate_limited_error_carries_retry_after() -> None:
    c = client(lambda r: ok({"detail": "Rate limit exceeded"}, 429, **{"Retry-After": "0"}), max_retries=0)
    with pytest.raises(RateLimited) as ei:
        await c.credits()
    assert ei.value.retry_after == 0.0
    await c.aclose()


async def test_transport_error_after_retries() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    c = client(handler, max_retries=1)
    with pytest.raises(TransportError, match="could not connect"):
        await c.credits()
    await c.aclose()


async def test_sse_parser_is_tolerant() -> None:
    lines = [": keep-alive", "", "event: x", 'data: {"choices": [{"delta": {"content": "Hel"}}]}',
             "data: not json", 'data: {"choices": [{"delta": {}}]}',
             'data: {"choices": [{"delta": {"content": "lo"}}], "usage": {"total_tokens": 3, "cost": 0.002}}',
             "data: [DONE]"]

    async def gen() -> Any:
        for line in lines:
            yield line

    chunks = [c async for c in parse_sse(gen())]
    assert "".join(c.text for c in chunks) == "Hello"
    assert chunks[-1].done and chunks[-1].usage == {"total_tokens": 3, "cost": 0.002}
    assert chunks[-1].credits == 0.002

    async def broken() -> Any:
        yield 'data: {"choices": [{"delta": {"content": "Hi"}}]}'
        yield 'data: {"error": {"message": "upstream overloaded"}}'

    got = []
    with pytest.raises(ServerError, match="upstream overloaded"):
        async for ch in parse_sse(broken()):
            got.append(ch.text)
    assert got == ["Hi"]


async def test_create_that_timed_out_but_landed_is_found_not_resent() -> None:
    posts: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.method == "POST":
            posts.append(req.url.path)
            raise httpx.ReadTimeout("timed out")
        if req.url.path.endswith("/text-to-music/history"):
            return ok({"jobs": [{"job_id": "landed", "prompt": "a song", "status": "QUEUED",
                                 "created_at": "2099-01-01T00:00:00Z"}]})
        return ok({"job_id": "landed", "status": "PROCESSING"})

    c = client(handler)
    job = await c.submit("text-to-music", prompt="a song")
    assert job.id == "landed" and posts == ["/api/v1/text-to-music/generate"]
    assert c.committed_credits == 3.0
    await c.aclose()


async def test_a_burst_of_expensive_submits_reads_the_balance_once() -> None:
    gets: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.method == "GET" and req.url.path.endswith("/user/credits"):
            gets.append(req.url.path)
            return ok({"credits_balance": 20.0})
        if req.method == "POST":
            return ok({"job_id": f"v{len(gets)}-{req.url.path[-6:]}-{id(req)}", "status": "processing",
                       "credits_charged": 15.0})
        return ok({"status": "processing"})

    c = client(handler)
    await c.submit("veo31-video", prompt="first", confirm=True)
    with pytest.raises(InsufficientCredits, match="needs about 15 credits; the balance is 5") as ei:
        await c.submit("veo31-video", prompt="second", confirm=True)
    assert (ei.value.needed, ei.value.balance) == (15.0, 5.0) and gets == ["/api/v1/user/credits"]
    assert c.committed_credits == 15.0
    await c.aclose()
