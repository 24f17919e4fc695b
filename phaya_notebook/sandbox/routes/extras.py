"""Voices, characters, platforms, chat, embeddings, uploads, queue stats, and the OpenAI proxy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import StreamingResponse

from phaya_notebook import catalog

from .. import chat
from ..instance import Sandbox
from ..problems import HTTPProblem, problems_detail
from ..state import Account, NotEnoughCredits
from ..uploads import save_upload

PLATFORMS = ["youtube", "tiktok", "instagram", "facebook", "x", "vimeo", "dailymotion", "soundcloud"]


def extra_routes(api: APIRouter, sb: Sandbox, auth: Any) -> None:
    @api.get("/text-to-speech/voices")
    async def voices() -> dict[str, Any]:
        return {"voices": [{"name": n, "description": d} for n, d in catalog.VOICES]}

    @api.get("/sora2-character/list")
    async def characters(acct: Account = auth) -> dict[str, Any]:
        with sb.state.lock:
            items = list(reversed(acct.characters))
        return {"success": True, "characters": items}

    @api.get("/video-download/supported-platforms")
    async def platforms(acct: Account = auth) -> dict[str, Any]:
        return {"success": True, "platforms": PLATFORMS}

    @api.post("/phaya-gpt/chat/completions")
    async def chat_completions(request: Request) -> Any:
        return await _chat(sb, request, chat.flat_answer)

    @api.get("/phaya-gpt/models")
    async def models(acct: Account = auth) -> dict[str, Any]:
        return {"success": True, "models": [{"id": m.id, "name": m.name, "context_length": m.context_length}
                                            for m in catalog.CHAT_MODELS.values()]}

    @api.get("/phaya-gpt/pricing")
    async def pricing(acct: Account = auth) -> dict[str, Any]:
        return {"success": True, "pricing": [
            {"model": m.id, "prompt_per_1k": m.prompt_per_1k, "completion_per_1k": m.completion_per_1k,
             "prompt_per_million": m.prompt_per_million, "completion_per_million": m.completion_per_million}
            for m in catalog.CHAT_MODELS.values()]}

    @api.get("/embedding/pricing")
    async def embedding_pricing(acct: Account = auth) -> dict[str, Any]:
        """[decision] shape; named by the live docs."""
        return {"success": True, "pricing": [{"model": k, "name": catalog.EMBEDDING_LABEL, "per_million": v}
                                             for k, v in catalog.EMBEDDING_MODELS.items()]}

    @api.post("/embedding/create")
    async def embedding(request: Request) -> Any:
        return await _embedding(sb, request)

    @api.post("/media/upload")
    async def upload(request: Request) -> Any:
        await sb.account(request)
        rec = await save_upload(request, sb.files, sb.config.max_upload_mb, HTTPProblem)
        return {"success": True, "url": sb.host(request) + rec.url_path, "filename": rec.name,
                "size": rec.size, "content_type": rec.mime}

    @api.get("/media/queue/stats")
    async def queue_stats(acct: Account = auth) -> dict[str, Any]:
        with sb.state.lock:
            running = [j for j in sb.state.jobs.values() if j.service.name in catalog.MEDIA_JOBS and not j.terminal]
        return {"success": True, "queued": 0, "processing": len(running)}


async def _chat(sb: Sandbox, request: Request, shape: Callable[[chat.Reply], dict[str, Any]]) -> Any:
    """One chat request (auth, checks, charge), answered flat or OpenAI-style by ``shape``."""
    acct = await sb.account(request)
    body = await sb.json_object(request)
    try:
        clean = chat.check_chat(body)
    except catalog.ParamError as exc:
        raise HTTPProblem(422, problems_detail(exc)) from exc
    r = chat.reply(clean)
    if not r.fail_midway:
        try:
            sb.state.charge(acct, r.credits, "phaya-gpt", None)
        except NotEnoughCredits as exc:
            raise HTTPProblem(402, str(exc)) from exc
    if clean.get("stream"):
        return StreamingResponse(chat.sse(r, 0.01), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    if r.fail_midway:
        raise HTTPProblem(502, "Upstream provider error (sandbox [stream-error])")
    return shape(r)


async def _embedding(sb: Sandbox, request: Request) -> Any:
    acct = await sb.account(request)
    body = await sb.json_object(request)
    try:
        texts, model = chat.check_embedding(body)
    except catalog.ParamError as exc:
        raise HTTPProblem(422, problems_detail(exc)) from exc
    answer = chat.embeddings_answer(texts, model, openai=request.url.path.startswith("/v1/"))
    try:
        sb.state.charge(acct, answer["credits_used"], "embedding", None)
    except NotEnoughCredits as exc:
        raise HTTPProblem(402, str(exc)) from exc
    return answer


def openai_routes(app: FastAPI, sb: Sandbox) -> None:
    """The OpenAI-compatible proxy at the host root (``/v1``, outside ``/api/v1``).

    Same keys, balance and rate limit as the API; chat answers use OpenAI's ``choices[]``
    and stream the same server-sent events as Phaya-GPT.
    """
    auth = Depends(sb.account)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        return await _chat(sb, request, chat.openai_answer)

    @app.get("/v1/models")
    async def models(acct: Account = auth) -> dict[str, Any]:
        return chat.openai_models()

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Any:
        return await _embedding(sb, request)
