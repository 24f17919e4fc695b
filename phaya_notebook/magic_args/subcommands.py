"""The subcommands that are not generation: chat, compare, models, jobs, spend and the plain ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from IPython.core.error import UsageError

from .. import catalog
from ..catalog import ParamError, Service
from .commands import JOB_STATUSES, KINDS, Chat, Command, Compare, Help, Jobs, Models, Plain, Spend
from .generation import usage_from
from .models import model_choice, primary_param, try_service
from .options import Opt, one_of, positive_int, ranged, repeats_value, scan, split_list, unknown
from .tokens import Token, interpolate


def parse_chat(tokens: list[Token], cell: str | None, namespace: Mapping[str, Any] | None) -> Chat | Help:
    models = list(catalog.CHAT_MODELS)
    opts = {
        "--model": Opt("model", convert=one_of("chat --model", models)),
        "-m": Opt("model", convert=one_of("chat --model", models)),
        "--reset": Opt("reset", "const"),
        "--temperature": Opt("temperature", convert=ranged("--temperature", float, 0.0, 2.0)),
        "--max-tokens": Opt("max_tokens", convert=ranged("--max-tokens", int, 1, 32000)),
        "--web-search": Opt("web_search", "const"),
        "--system": Opt("system"),
        "--help": Opt("help", "const"),
        "-h": Opt("help", "const"),
    }
    values, positionals = scan(tokens, opts, "%phaya chat", namespace)
    if values.pop("help", False):
        return Help("chat")
    words = " ".join(str(interpolate(t.text, namespace)) for t in positionals)
    body = None if cell is None else str(interpolate(cell, namespace)).strip()
    if words and body:
        raise UsageError("%phaya chat: give the message on the line or in the cell body, not both")
    prompt = words or body or None
    if prompt is None and not values.get("reset") and values.get("system") is None:
        raise UsageError("%phaya chat: nothing to say; write the message after `chat`, in a %%phaya chat "
                         "cell, or use --reset")
    return Chat(prompt=prompt, model=values.get("model"), reset=bool(values.get("reset")),
                temperature=values.get("temperature"), max_tokens=values.get("max_tokens"),
                web_search=bool(values.get("web_search")), system=values.get("system"))


def _prompt_only(svc: Service) -> bool:
    """Services that run from a prompt alone (what compare can put side by side)."""
    names = {p.name for p in svc.params}
    return "prompt" in names and all(not p.required for p in svc.params if p.name != "prompt")


def _service_name(raw: Any) -> str:
    if str(raw).lower() == "chat":
        return "chat"
    svc = try_service(str(raw))
    if svc is None:
        raise unknown("service", str(raw), [*catalog.SERVICES, *catalog.MEDIA_JOBS, "chat"], "--service")
    return svc.name


def no_cell(sub: str, cell: str | None) -> None:
    if cell is not None and cell.strip():
        raise UsageError(f"%%phaya {sub} takes no cell body; use %phaya {sub} on a line")


def _no_positionals(sub: str, positionals: list[Token]) -> None:
    if positionals:
        got = " ".join(t.text for t in positionals)
        raise UsageError(f"%phaya {sub}: unexpected {got!r} (see %phaya help {sub})")


def parse_compare(tokens: list[Token], cell: str | None, namespace: Mapping[str, Any] | None) -> Compare | Help:
    def to_service(raw: Any) -> list[tuple[Service, dict[str, Any]]]:
        out = []
        for name in split_list(raw):
            svc = try_service(str(name))
            if svc is None or not _prompt_only(svc):
                allowed = [s.name for s in catalog.SERVICES.values() if _prompt_only(s)]
                raise unknown("model", str(name), allowed, "compare --model")
            choice = model_choice(svc, str(name))
            out.append((svc, {"model": choice} if choice else {}))
        return out

    opts = {
        "--model": Opt("services", "multi", convert=to_service),
        "-m": Opt("services", "multi", convert=to_service),
        "-n": Opt("repeats", convert=repeats_value),
        "--repeat": Opt("repeats", convert=repeats_value),
        "--yes": Opt("confirm", "const"),
        "-y": Opt("confirm", "const"),
        "--help": Opt("help", "const"),
        "-h": Opt("help", "const"),
    }
    values, positionals = scan(tokens, opts, "%phaya compare", namespace)
    if values.pop("help", False):
        return Help("compare")
    words = " ".join(str(interpolate(t.text, namespace)) for t in positionals)
    body = None if cell is None else str(interpolate(cell, namespace))
    if words and body and body.strip():
        raise UsageError("%phaya compare: give the prompt on the line or prompts in the cell body, not both")
    prompts = [words] if words else [ln.strip() for ln in (body or "").splitlines() if ln.strip()]
    models: list[tuple[Service, dict[str, Any]]] = []
    for spec in values.get("services", []):
        if spec not in models:
            models.append(spec)
    services = [s for s, _ in models]
    if prompts and not services:
        raise UsageError("%phaya compare: name the models to compare, e.g. --model image,seedream,nano-banana")
    if services and not prompts:
        raise UsageError("%phaya compare: give a prompt on the line or one prompt per line of a %%phaya compare cell")
    for svc, params in models:
        for p in prompts:
            try:
                catalog.validate(svc, {**params, "prompt": p})
            except ParamError as err:
                raise usage_from(svc, err, primary_param(svc)) from None
    return Compare(tuple(prompts), tuple(models), values.get("repeats", 1), bool(values.get("confirm")))


def parse_simple(sub: str, rest: list[Token], namespace: Mapping[str, Any] | None) -> Command:
    help_opts = {"--help": Opt("help", "const"), "-h": Opt("help", "const")}
    if sub == "models":
        values, pos = scan(rest, help_opts, "%phaya models", namespace)
        if values:
            return Help("models")
        if len(pos) > 1:
            _no_positionals(sub, pos[1:])
        kind = pos[0].text.lower() if pos else None
        if kind is not None and kind not in KINDS:
            raise unknown("kind", kind, KINDS, "%phaya models")
        return Models(kind)
    if sub == "jobs":
        values, pos = scan(rest, {
            **help_opts,
            "-n": Opt("limit", convert=positive_int("-n")),
            "--limit": Opt("limit", convert=positive_int("--limit")),
            "--service": Opt("service", convert=_service_name),
            "--status": Opt("status", convert=one_of("--status", JOB_STATUSES)),
            "--tag": Opt("tag"),
        }, "%phaya jobs", namespace)
        _no_positionals(sub, pos)
        if values.pop("help", False):
            return Help("jobs")
        return Jobs(**values)
    if sub == "spend":
        values, pos = scan(rest, {**help_opts, "--by": Opt("by", convert=one_of("--by", ("service", "day")))},
                            "%phaya spend", namespace)
        _no_positionals(sub, pos)
        if values.pop("help", False):
            return Help("spend")
        return Spend(**values)
    values, pos = scan(rest, help_opts, f"%phaya {sub}", namespace)
    _no_positionals(sub, pos)
    if values:
        return Help(sub)
    return Plain(sub)  # type: ignore[arg-type]
