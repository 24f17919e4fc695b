"""Both shapes, old and live, read by the client (httpx.MockTransport: exact answers, no sockets)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from phaya_notebook.core.errors import AuthenticationError, ServerError

from .test_client_mock import client, ok

CREATED: dict[str, Any] = {}


@pytest.mark.parametrize("answer", [
    {"job_id": "j1", "task_id": "t1", "status": "processing", "message": "ok", "credits_used": 1.0},  # live
    {"success": True, "job_id": "j1", "status": "processing", "credits_charged": 1.0},  # the docs' decision
    {"data": {"job_id": "j1"}, "credits_used": 1.0},
])
async def test_create_answers_old_and_live(answer: dict[str, Any]) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.method == "POST":
            return ok(answer)
        return ok({"job_id": "j1", "status": "processing", "credits_used": 1.0})

    c = client(handler)
    job = await c.submit("gpt-image-2", prompt="x")
    assert job.id == "j1" and job.charged == 1.0
    await c.aclose()


async def test_embeddings_live_and_old_shapes() -> None:
    answers = iter([
        {"success": True, "id": "gen-1", "model": "Phaya Text Embedding", "usage": {"prompt_tokens": 6},
         "credits_used": 1.68e-05, "data": [{"embedding": [1.0, 0.0]}, {"embedding": [0.0, 1.0]}]},
        {"object": "list", "data": [{"embedding": [0.0, 1.0], "index": 1}, {"embedding": [1.0, 0.0], "index": 0}],
         "usage": {"prompt_tokens": 6}},  # older: index order, no success, no credits (priced from usage)
        {"success": False, "error": "upstream down"},
        {"success": True, "id": "gen-2"},
    ])

    c = client(lambda req: ok(next(answers)))
    live = await c.embed(["a", "b"])
    assert live.vectors == [[1.0, 0.0], [0.0, 1.0]] and live.id == "gen-1" and live.credits == 1.68e-05
    old = await c.embed(["a", "b"])
    assert old.vectors == [[1.0, 0.0], [0.0, 1.0]] and old.credits == pytest.approx(1.68e-05)
    with pytest.raises(ServerError, match="upstream down"):
        await c.embed("a")
    with pytest.raises(ServerError, match="no vectors"):
        await c.embed("a")
    assert c.committed_credits == pytest.approx(2 * 1.68e-05)  # the failed calls keep nothing
    await c.aclose()


@pytest.mark.parametrize("code", [401, 403])
async def test_401_and_403_are_authentication_errors(code: int) -> None:
    c = client(lambda req: ok({"detail": "Invalid API key"}, code))
    with pytest.raises(AuthenticationError):
        await c.credits()
    with pytest.raises(AuthenticationError):
        await c.profile()
    await c.aclose()


async def test_zero_credits_used_keeps_the_reservation() -> None:
    """Live: credits_used 0 on a priced media job is unknown, not free: max_credits keeps holding it."""
    def handler(req: httpx.Request) -> httpx.Response:
        if req.method == "POST":
            return ok({"job_id": "j1", "task_id": "t", "status": "processing", "message": "", "credits_used": 0})
        return ok({"job_id": "j1", "status": "completed", "credits_used": 0, "processing_time_ms": 4820,
                   "video_url": "http://files.test/v.mp4", "audio_url": None})

    c = client(handler, max_credits=10.0)
    job = await c.submit("seedance-video", prompt="waves")
    await job.wait()
    assert job.fields["processing_time_ms"] == 4820
    assert c.committed_credits == 6.0  # still reserved at the estimate
    c.settle_charge("seedance-video", "j1", 12.0)  # the credits history / balance said 12
    assert c.committed_credits == 12.0
    await c.aclose()
