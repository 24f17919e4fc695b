"""Which catalog service a kind subcommand and its ``--model`` choose."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from IPython.core.error import UsageError

from .. import catalog
from ..catalog import Param, ParamError, Service
from .commands import KINDS
from .options import unknown


def kind_services(kind: str) -> list[Service]:
    """Services a kind subcommand can pick with ``--model``."""
    media = KINDS[kind]
    picks = [s for s in catalog.SERVICES.values() if s.media in media]
    default = catalog.resolve_service(kind)
    return picks if default in picks else [default, *picks]


def model_param(svc: Service) -> Param | None:
    for p in svc.params:
        if p.name == "model":
            return p
    return None


def model_choice(svc: Service, value: str) -> str | None:
    p = model_param(svc)
    if p is None or p.choices is None:
        return None
    folded = {str(c).lower(): str(c) for c in p.choices}
    return folded.get(value.lower())


def try_service(name: str) -> Service | None:
    try:
        return catalog.resolve_service(name)
    except ParamError:
        return None


def resolve_model(kind: str, model: str) -> tuple[Service, dict[str, Any]]:
    """``--model X`` on a kind: a service of that kind, or its default service's own ``model``.

    Returns the service and the params the choice implies (``veo3`` -> Veo 3.1 with
    ``model=veo3``; ``V5`` on music -> Suno with ``model=V5``).
    """
    services = kind_services(kind)
    svc = try_service(model)
    if svc is not None and svc in services:
        choice = model_choice(svc, model)
        return svc, ({"model": choice} if choice else {})
    default = catalog.resolve_service(kind)
    choice = model_choice(default, model)
    if choice is not None:
        return default, {"model": choice}
    allowed = [s.name for s in services]
    mp = model_param(default)
    if mp is not None and mp.choices:
        allowed += [str(c) for c in mp.choices]
    if svc is not None:
        raise UsageError(
            f"{kind}: --model {model!r} is {svc.name} ({svc.media}), not a model for {kind}; "
            f"{kind} models: {', '.join(allowed)}"
        )
    raise unknown("model", model, allowed, f"{kind} --model")


def default_service(kind: str, defaults: Mapping[str, str] | None) -> tuple[Service, dict[str, Any]]:
    """The service a bare kind subcommand runs: the configured default, else the catalog alias."""
    chosen = (defaults or {}).get(kind)
    if chosen:
        return resolve_model(kind, chosen)
    return catalog.resolve_service(kind), {}


def primary_param(svc: Service) -> Param | None:
    """The field positional words fill: the prompt, else the first required field."""
    for p in svc.params:
        if p.name == "prompt":
            return p
    return next((p for p in svc.params if p.required), None)


def flag_of(p_name: str) -> str:
    return "--" + p_name.replace("_", "-")
