"""Account routes and every catalog service's create, status, cancel and history routes.

Generation routes are not written one by one: each ``catalog.Service`` gets its routes from
its own entry, so a new catalog row is a new sandbox endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request

from phaya_notebook import catalog

from .. import producers
from ..instance import Sandbox
from ..problems import HTTPProblem, problems_detail
from ..runner import FAIL, SLOW, SLOW_SECONDS, STUCK, markers
from ..state import Account, NotEnoughCredits


def account_routes(api: APIRouter, sb: Sandbox, auth: Any) -> None:
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


def service_routes(api: APIRouter, sb: Sandbox, svc: catalog.Service, auth: Any) -> None:
    api.add_api_route(svc.create_path, create_route(sb, svc), methods=["POST"], summary=svc.label,
                      openapi_extra=body_schema(svc))
    api.add_api_route(f"/{svc.name}/status/{{job_id}}", status_route(sb, (svc.name,)), methods=["GET"],
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


def create_route(sb: Sandbox, svc: catalog.Service) -> Callable[..., Awaitable[Any]]:
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


def status_route(sb: Sandbox, names: tuple[str, ...]) -> Callable[..., Awaitable[Any]]:
    async def status(job_id: str, request: Request) -> Any:
        acct = await sb.account(request)
        job = sb.state.job_for(acct, job_id, names)
        if job is None:
            raise HTTPProblem(404, "Job not found")
        if job.slow:
            await asyncio.sleep(SLOW_SECONDS)
        return sb.runner.cached_answer(job, sb.host(request), sb.config.cache_interval)

    return status


def body_schema(svc: catalog.Service) -> dict[str, Any]:
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
