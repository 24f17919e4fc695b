"""The sandbox's HTTP surface: every contract endpoint, routed from the catalog.

Generation routes are not written one by one: each ``catalog.Service`` gets its
create, status, cancel and history routes from its own entry, so a new catalog row
is a new sandbox endpoint. Bodies are validated by ``catalog.validate`` and problems
come back as FastAPI's 422 detail list.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from phaya_notebook import catalog

from . import chat, producers
from .config import SandboxConfig, key_id
from .faults import Faults
from .files import FileStore
from .gate import Gate, admin_only
from .persist import Store
from .pools import MediaPools
from .ratelimit import RateLimiter
from .runner import FAIL, SLOW, SLOW_SECONDS, STUCK, Runner, markers
from .state import Account, NotEnoughCredits, State
from .uploads import save_upload

PLATFORMS = ["youtube", "tiktok", "instagram", "facebook", "x", "vimeo", "dailymotion", "soundcloud"]


class HTTPProblem(Exception):
    """An error answer: FastAPI-style ``{"detail": ...}`` with a status and headers."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None):
        self.status, self.detail, self.headers = status, detail, headers or {}


def problems_detail(err: catalog.ParamError, where: str = "body") -> list[dict[str, Any]]:
    out = []
    for p in err.problems:
        loc: list[Any] = [where] + [int(x) if x.isascii() and x.isdigit() else x for x in p.field.split(".") if x]
        msg = f"{p.field} {p.message}" + (f" (allowed: {p.allowed})" if p.allowed else "")
        out.append({"type": "value_error", "loc": loc, "msg": msg, "ctx": {"allowed": p.allowed}})
    return out


class Sandbox:
    """One sandbox's state and services, shared by its routes."""

    def __init__(self, config: SandboxConfig):
        self.config = config
        self.store = Store(Path(config.state_dir) / "state.sqlite3") if config.state_dir else None
        self.state = State(config, self.store)
        data_dir = str(Path(config.state_dir) / "media") if config.state_dir else config.data_dir
        self.files = FileStore(data_dir, config.url_ttl, self.store)
        self.faults = Faults()
        self.limiter = RateLimiter(config.rate_limit, config.window)
        self.pools = MediaPools()
        self.ctx = producers.Context(self.files, config)
        self.runner = Runner(self.state, self.ctx, self.pools)
        self.rng = random.Random(config.seed)

    def close(self) -> None:
        self.runner.shutdown()
        self.pools.shutdown()
        self.files.close()
        if self.store is not None:
            self.store.close()

    # ------------------------------------------------------------ request helpers

    async def account(self, request: Request) -> Account:
        """401 for a missing or wrong key, 429 over the rate limit (every authed request counts)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        acct = self.state.account(token.strip()) if scheme.lower() == "bearer" else None
        if acct is None:
            raise HTTPProblem(self.config.quirks.auth_status, "Invalid or missing API key",
                              {"WWW-Authenticate": "Bearer"})
        wait = self.limiter.hit(acct.key)
        if wait is not None:
            self.faults.rate_limited(key_id(acct.key))
            raise HTTPProblem(429, "Rate limit exceeded", {"Retry-After": str(wait)})
        return acct

    @staticmethod
    async def json_object(request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPProblem(422, [{"type": "json_invalid", "loc": ["body"], "msg": f"JSON decode error: {exc}"}]) \
                from exc
        if not isinstance(body, dict):
            raise HTTPProblem(422, [{"type": "dict_type", "loc": ["body"],
                                     "msg": "Input should be a JSON object with the service's fields"}])
        return body

    @staticmethod
    def host(request: Request) -> str:
        return str(request.base_url).rstrip("/")


def create_app(config: SandboxConfig) -> FastAPI:
    sb = Sandbox(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        sb.runner.relaunch()  # jobs a previous run of a persistent sandbox left running
        yield
        sb.runner.shutdown()

    app = FastAPI(title="Phaya sandbox", version="1", lifespan=lifespan,
                  description="Offline emulation of the Phaya REST API (play credits, local media).")
    app.state.sandbox = sb

    @app.exception_handler(HTTPProblem)
    async def _problem(request: Request, exc: HTTPProblem) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, exc.status, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"Internal sandbox error: {type(exc).__name__}"}, 500)

    api = APIRouter(prefix="/api/v1")
    auth = Depends(sb.account)
    _account_routes(api, sb, auth)
    for svc in catalog.SERVICES.values():
        _service_routes(api, sb, svc, auth)
    for svc in catalog.MEDIA_JOBS.values():
        api.add_api_route(svc.create_path, _create(sb, svc), methods=["POST"],
                          summary=svc.label, openapi_extra=_body_schema(svc))
    api.add_api_route("/media/status/{job_id}", _status(sb, tuple(catalog.MEDIA_JOBS)), methods=["GET"])
    _extra_routes(api, sb, auth)
    app.include_router(api)
    _openai_routes(app, sb)
    _root_routes(app, sb)
    return app


def create_asgi(config: SandboxConfig) -> tuple[Gate, Sandbox]:
    """The app wrapped in the fault/stats gate, outermost so it can drop a connection."""
    app = create_app(config)
    return Gate(app, sandbox=app.state.sandbox), app.state.sandbox


# ---------------------------------------------------------------- route builders


def _account_routes(api: APIRouter, sb: Sandbox, auth: Any) -> None:
    @api.get("/user/credits")
    async def credits(acct: Account = auth) -> dict[str, Any]:
        b = round(acct.balance, 6)
        return {"success": True, "user_id": acct.user_id, "credits_balance": b,
                "credits_balance_formatted": f"{b:,.2f} เครดิต", "currency": "THB", "cached": False}

    @api.get("/user/profile")
    async def profile(acct: Account = auth) -> dict[str, Any]:
        return {"success": True, "user_id": acct.user_id, "email": acct.email,
                "credits_balance": round(acct.balance, 6)}

    @api.get("/user/credits/history")
    async def history(limit: int = 20, acct: Account = auth) -> dict[str, Any]:
        limit = max(1, min(limit, 1000))
        with sb.state.lock:
            items = list(reversed(acct.transactions))[:limit]
        if sb.config.quirks.anonymous_history:
            items = [{**t, "job_id": None} for t in items]
        return {"success": True, "transactions": items}


def _service_routes(api: APIRouter, sb: Sandbox, svc: catalog.Service, auth: Any) -> None:
    api.add_api_route(svc.create_path, _create(sb, svc), methods=["POST"], summary=svc.label,
                      openapi_extra=_body_schema(svc))
    api.add_api_route(f"/{svc.name}/status/{{job_id}}", _status(sb, (svc.name,)), methods=["GET"],
                      summary=f"{svc.label} status")
    if svc.cancel:
        async def cancel(job_id: str, acct: Account = auth) -> dict[str, Any]:
            job = sb.state.job_for(acct, job_id, (svc.name,))
            if job is None:
                raise HTTPProblem(404, "Job not found")
            ok, message = sb.runner.cancel(job)
            return {"success": ok, "message": message}

        api.add_api_route(f"/{svc.name}/cancel/{{job_id}}", cancel, methods=["POST"])
    if svc.history and svc.name != "sora2-character":
        async def history(request: Request, limit: int = 20, acct: Account = auth) -> dict[str, Any]:
            jobs = sb.state.history(acct, svc.name, max(1, min(limit, 1000)))
            host = sb.host(request)
            return {"success": True, "jobs": [{**sb.runner.answer(j, host), "prompt": j.prompt} for j in jobs]}

        api.add_api_route(svc.history, history, methods=["GET"])


def _create(sb: Sandbox, svc: catalog.Service) -> Callable[..., Awaitable[Any]]:
    async def create(request: Request) -> Any:
        acct = await sb.account(request)
        params = await sb.json_object(request)
        try:
            sent = catalog.validate(svc, params, local_files=False)
            full = catalog.with_defaults(svc, params, local_files=False)
        except catalog.ParamError as exc:
            raise HTTPProblem(422, problems_detail(exc)) from exc
        facts: dict[str, float] = {}
        if svc.name in ("kling-motion-control", "thai-subtitle"):
            # probing an input is quick and the caller waits for it: due now, light pool
            facts = await asyncio.wrap_future(sb.pools.light.submit(producers.price_facts, sb.ctx, svc.name, full))
        # what it really costs: the catalog price, times a quirk's multiplier (live: Seedance at 2x)
        price = round(float(catalog.estimate(svc, sent, facts).credits) * sb.config.quirks.multiplier(svc.name), 6)
        typical = catalog.typical_seconds(svc, full)
        duration = sb.config.job_seconds(typical, sb.rng.uniform(0.7, 1.3))
        found = markers(params)
        flags = {name for name, marker in (("fail", FAIL), ("stuck", STUCK), ("slow", SLOW)) if marker in found}
        try:
            job = sb.state.new_job(acct, svc, full, price, duration, charge_now=svc.charge_on == "create",
                                   flags=flags)
        except NotEnoughCredits as exc:
            raise HTTPProblem(402, str(exc)) from exc
        sb.runner.launch(job)
        # the live create answer (contract, "The live API": Shapes)
        return {"job_id": job.id, "task_id": job.task_id, "status": svc.statuses[0],
                "message": f"{svc.label} job created", "credits_used": sb.runner.reported(job)}

    return create


def _status(sb: Sandbox, names: tuple[str, ...]) -> Callable[..., Awaitable[Any]]:
    async def status(job_id: str, request: Request) -> Any:
        acct = await sb.account(request)
        job = sb.state.job_for(acct, job_id, names)
        if job is None:
            raise HTTPProblem(404, "Job not found")
        if job.slow:
            await asyncio.sleep(SLOW_SECONDS)
        return sb.runner.cached_answer(job, sb.host(request), sb.config.cache_interval)

    return status


def _extra_routes(api: APIRouter, sb: Sandbox, auth: Any) -> None:
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


def _openai_routes(app: FastAPI, sb: Sandbox) -> None:
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


def _root_routes(app: FastAPI, sb: Sandbox) -> None:
    @app.get("/files/{token}/{name}")
    async def files(token: str, name: str) -> Any:
        rec = sb.files.get(token)
        if rec is None or rec.name != name:
            raise HTTPProblem(404, "File not found")
        if sb.files.expired(rec):
            raise HTTPProblem(410, "This URL has expired; download results when a job completes")
        return FileResponse(rec.path, media_type=rec.mime)

    @app.get("/")
    async def root(request: Request) -> dict[str, Any]:
        return {"service": "Phaya sandbox", "base_url": sb.host(request) + "/api/v1", "docs": "/docs"}

    @app.get("/_sandbox/health")
    async def health() -> dict[str, Any]:
        """No token: clients read ``speed`` and ``time_scale`` here to time their polls."""
        c = sb.config
        return {"ok": True, "speed": float(c.speed), "time_scale": float(c.time_scale), "instance": c.instance,
                "rate_limit": c.rate_limit, "window_seconds": c.window,
                "status_cache_seconds": c.cache_interval}

    @app.post("/_sandbox/faults", dependencies=[Depends(admin_only(sb))])
    async def add_fault(request: Request) -> Any:
        from .faults import KINDS, Fault

        body = await sb.json_object(request)
        problems = []
        kind = str(body.get("kind", ""))
        if kind not in KINDS:
            problems.append(catalog.ParamProblem("kind", f"{kind!r} is not allowed", ", ".join(KINDS)))
        count, seconds, paths = body.get("count", 1), body.get("seconds", 2.0), body.get("paths") or ""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            problems.append(catalog.ParamProblem("count", f"{count!r} is not allowed", "an integer >= 1"))
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 120:
            problems.append(catalog.ParamProblem("seconds", f"{seconds!r} is not allowed", "a number from 0 to 120"))
        if not isinstance(paths, str):
            problems.append(catalog.ParamProblem("paths", "is not text", "a substring of request paths"))
        if problems:
            raise HTTPProblem(422, problems_detail(catalog.ParamError("faults", problems)))
        sb.faults.add(Fault(kind, count, paths, float(seconds)))
        return {"success": True, "pending": sb.faults.pending()}

    @app.get("/_sandbox/faults", dependencies=[Depends(admin_only(sb))])
    async def list_faults() -> dict[str, Any]:
        return {"pending": sb.faults.pending()}

    @app.delete("/_sandbox/faults", dependencies=[Depends(admin_only(sb))])
    async def clear_faults() -> dict[str, Any]:
        sb.faults.clear()
        return {"success": True}

    @app.get("/_sandbox/quirks", dependencies=[Depends(admin_only(sb))])
    async def get_quirks() -> dict[str, Any]:
        return sb.config.quirks.as_dict()

    @app.post("/_sandbox/quirks", dependencies=[Depends(admin_only(sb))])
    async def set_quirks(request: Request) -> dict[str, Any]:
        """Turn live quirks on or off: any of zero_credits_used, price_multipliers, auth_status,
        anonymous_history (``quirks.py``); the fields not given stay as they are."""
        problems = sb.config.quirks.update(await sb.json_object(request))
        if problems:
            raise HTTPProblem(422, problems_detail(catalog.ParamError("quirks", problems)))
        return {"success": True, **sb.config.quirks.as_dict()}

    @app.get("/_sandbox/stats", dependencies=[Depends(admin_only(sb))])
    async def stats() -> dict[str, Any]:
        return sb.faults.stats()

    @app.post("/_sandbox/reset-stats", dependencies=[Depends(admin_only(sb))])
    async def reset_stats() -> dict[str, Any]:
        sb.faults.reset_stats()
        return {"success": True}

    @app.head("/files/{token}/{name}")
    async def files_head(token: str, name: str) -> Response:
        rec = sb.files.get(token)
        if rec is None or rec.name != name:
            return Response(status_code=404)
        if sb.files.expired(rec):
            return Response(status_code=410)
        return Response(headers={"content-length": str(rec.size), "content-type": rec.mime})


def _body_schema(svc: catalog.Service) -> dict[str, Any]:
    """An OpenAPI request body generated from the catalog (for docs and schema fuzzers)."""
    def schema(p: catalog.Param) -> dict[str, Any]:
        s: dict[str, Any] = {"type": {"str": "string", "int": "integer", "float": "number", "bool": "boolean",
                                      "list": "array", "object": "object"}[p.type]}
        if p.choices is not None:
            s = {"enum": list(p.choices)}
        if p.max_length is not None:
            s["maxLength"] = p.max_length
        if p.min_length is not None:
            s["minLength"] = p.min_length
        if p.minimum is not None:
            s["minimum"] = p.minimum
        if p.maximum is not None:
            s["maximum"] = p.maximum
        if p.type == "list":
            s["items"] = {"type": "string"}
            if p.max_items is not None:
                s["maxItems"] = p.max_items
            if p.min_items is not None:
                s["minItems"] = p.min_items
        if p.type == "object":
            s["properties"] = {f.name: schema(f) for f in p.fields}
        if p.default is not None:
            s["default"] = p.default
        return s

    body = {"type": "object", "properties": {p.name: schema(p) for p in svc.params},
            "required": [p.name for p in svc.params if p.required]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": body}}}}
