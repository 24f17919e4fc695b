"""Generation and cost lines: flags generated from the chosen model's catalog params.

``aspect_ratio`` becomes ``--aspect-ratio``, booleans get ``--flag`` / ``--no-flag``, lists are
repeatable or comma separated, object fields become ``--zoom-mode`` style flags.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from IPython.core.error import UsageError

from .. import catalog
from ..catalog import Param, ParamError, ParamProblem, Service
from .commands import KINDS, Cost, Generate, Help
from .models import (
    default_service,
    flag_of,
    model_choice,
    model_param,
    primary_param,
    resolve_model,
    try_service,
)
from .options import Opt, bool_value, number, repeats_value, scan, split_list, unknown
from .tokens import Token, interpolate


def _param_opts(svc: Service, *, cost: bool) -> dict[str, Opt]:
    """Flags generated from a service's catalog params (``model`` is ``--model``, handled apart)."""
    opts: dict[str, Opt] = {}
    for p in svc.params:
        if p.name == "model":
            continue
        flag = flag_of(p.name)
        if p.type == "bool":
            opts[flag] = Opt(p.name, "const", True)
            opts["--no-" + flag[2:]] = Opt(p.name, "const", False)
        elif p.type in ("int", "float"):
            opts[flag] = Opt(p.name, convert=number(flag, int if p.type == "int" else float, p.allowed()))
        elif p.type == "list":
            opts[flag] = Opt(p.name, "multi", convert=split_list)
        elif p.type == "object":
            opts[flag] = Opt(p.name, "const", {})
            for f in p.fields:
                sub_flag = f"{flag}-{f.name.replace('_', '-')}"
                conv: Callable[[Any], Any] | None = None
                if f.type in ("int", "float"):
                    conv = number(sub_flag, int if f.type == "int" else float, f.allowed())
                elif f.type == "bool":
                    conv = bool_value(sub_flag)
                opts[sub_flag] = Opt(p.name, convert=conv, sub=f.name)
        else:
            nullable = p.nullable

            def conv_str(raw: Any, _nullable: bool = nullable) -> Any:
                if _nullable and str(raw).lower() in ("none", "null", "auto"):
                    return None
                return raw

            opts[flag] = Opt(p.name, convert=conv_str)
    if cost:
        opts["--media-seconds"] = Opt("media_seconds", convert=number("--media-seconds", float, "a number"))
        opts["--size-mb"] = Opt("size_mb", convert=number("--size-mb", float, "a number"))
    return opts


def _base_opts(*, cost: bool) -> dict[str, Opt]:
    opts = {
        "--model": Opt("model"),
        "-m": Opt("model"),
        "-n": Opt("repeats", convert=repeats_value),
        "--repeat": Opt("repeats", convert=repeats_value),
        "--help": Opt("help", "const"),
        "-h": Opt("help", "const"),
    }
    if not cost:
        opts.update({
            "--yes": Opt("confirm", "const"),
            "-y": Opt("confirm", "const"),
            "--no-wait": Opt("no_wait", "const"),
            "--tag": Opt("tags", "multi", convert=split_list),
        })
    return opts


def _prescan_model(tokens: Sequence[Token], namespace: Mapping[str, Any] | None) -> str | None:
    """Find ``--model`` before the real scan: the model decides which flags exist."""
    model = None
    for i, tok in enumerate(tokens):
        if tok.quoted:
            continue
        if tok.text == "--":
            break
        name, eq, inline = tok.text.partition("=")
        if name in ("--model", "-m"):
            if eq:
                model = inline
            elif i + 1 < len(tokens):
                model = tokens[i + 1].text
    return None if model is None else str(interpolate(model, namespace))


def _problem_text(svc: Service, prob: ParamProblem, primary: Param | None) -> str:
    name = prob.field.split(".")[0]
    if primary is not None and name == primary.name:
        label = f"{name.upper()} (the words after the subcommand, or the cell body)"
    elif prob.field == "model":
        label = "--model"
    else:
        label = flag_of(prob.field.replace(".", "-"))
    tail = f" (allowed: {prob.allowed})" if prob.allowed else ""
    return f"{label}: {prob.message}{tail}"


def usage_from(svc: Service, err: ParamError, primary: Param | None) -> UsageError:
    lines = "; ".join(_problem_text(svc, p, primary) for p in err.problems)
    return UsageError(f"{svc.name}: {lines}")


def parse_generation(
    sub: str, tokens: list[Token], cell: str | None, namespace: Mapping[str, Any] | None,
    defaults: Mapping[str, str] | None, *, cost: bool,
) -> Generate | Cost | Help:
    model = _prescan_model(tokens, namespace)
    implied: dict[str, Any] = {}
    if sub in KINDS:
        if model is not None:
            svc, implied = resolve_model(sub, model)
        else:
            svc, implied = default_service(sub, defaults)
    else:
        svc = catalog.resolve_service(sub)
        choice = model_choice(svc, sub)
        if model is not None:
            choice = model_choice(svc, model)
            if choice is None and try_service(model) is not svc:
                mp = model_param(svc)
                allowed = [str(c) for c in mp.choices or ()] if mp else [svc.name]
                raise unknown("model", model, allowed, f"{sub} --model")
        if choice:
            implied = {"model": choice}
    where = f"%phaya {'cost ' if cost else ''}{sub}" + (f" ({svc.name})" if svc.name != sub else "")
    opts = {**_base_opts(cost=cost), **_param_opts(svc, cost=cost)}
    primary = primary_param(svc)
    if primary is not None and primary.name not in ("model",):
        opts.setdefault(flag_of(primary.name), Opt(primary.name, "multi" if primary.type == "list" else "value",
                                                 convert=split_list if primary.type == "list" else None))
    values, positionals = scan(tokens, opts, where, namespace)
    if values.pop("help", False):
        return Help(svc.name)
    facts: dict[str, float] = {k: values.pop(k) for k in ("media_seconds", "size_mb") if k in values}
    repeats = values.pop("repeats", 1)
    confirm = bool(values.pop("confirm", False))
    wait = not values.pop("no_wait", False)
    tags = tuple(str(t) for t in values.pop("tags", []))
    values.pop("model", None)
    params: dict[str, Any] = {**implied, **values}
    words = [str(interpolate(t.text, namespace)) for t in positionals]
    body = None if cell is None else str(interpolate(cell, namespace)).strip()
    if primary is None and (words or body):
        raise UsageError(f"{where}: takes no positional text (got {' '.join(words) or body!r})")
    if primary is not None and (words or body):
        if words and body:
            raise UsageError(f"{where}: give the {primary.name} on the line or in the cell body, not both")
        if primary.name in params:
            raise UsageError(f"{where}: {primary.name} given twice (positional and {flag_of(primary.name)})")
        if primary.type == "list":
            params[primary.name] = words if words else (body or "").split()
        else:
            params[primary.name] = " ".join(words) if words else body
    try:
        checked = _partial(svc, params) if cost else catalog.validate(svc, params)
    except ParamError as err:
        raise usage_from(svc, err, primary) from None
    if cost:
        return Cost(svc, checked, repeats, facts)
    return Generate(svc, checked, repeats, confirm, wait, tags)


def _partial(svc: Service, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the given fields only (a cost query may leave required ones out)."""
    known = {p.name: p for p in svc.params}
    probe = dict(params)
    for p in svc.params:
        if p.required and p.name not in probe:
            probe[p.name] = _placeholder(p)
    body = catalog.validate(svc, probe)
    return {k: v for k, v in body.items() if k in params or not known[k].required}


def _placeholder(p: Param) -> Any:
    if p.type == "list":
        return ["https://example.invalid/x"] * max(1, p.min_items or 1)
    return "x" * max(1, p.min_length or 1)
