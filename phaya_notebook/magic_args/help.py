"""``%phaya help [topic]``, generated from the catalog."""

from __future__ import annotations

from collections.abc import Mapping

from .. import catalog
from ..catalog import Service
from .commands import COMMANDS, KINDS
from .models import default_service, flag_of, kind_services, primary_param

_COMMAND_HELP: dict[str, str] = {
    "chat": "%%phaya chat [--model M] [--temperature T] [--max-tokens N] [--web-search] [--system TEXT]\n"
            "    the cell body is your message; the reply streams in. The conversation is kept\n"
            "    until %phaya chat --reset. One line works too: %phaya chat What is a haiku?\n"
            "    models: " + ", ".join(catalog.CHAT_MODELS),
    "models": "%phaya models [KIND]    a table: service, model, media, price, parameters",
    "cost": "%phaya cost SERVICE [flags] [-n N] [--media-seconds S] [--size-mb MB]\n"
            "    the price before anything runs (no request, no charge)",
    "balance": "%phaya balance    the credits left",
    "jobs": "%phaya jobs [-n N] [--service S] [--status S] [--tag T]    the job log as a DataFrame",
    "spend": "%phaya spend [--by service|day]    credits charged and refunded",
    "resume": "%phaya resume    wait for the jobs a previous kernel left running, and show them",
    "studio": "%phaya studio    the widget studio",
    "compare": "%phaya compare --model A,B [-n N] [--yes] PROMPT    (or one prompt per line of a\n"
               "    %%phaya compare cell); no prompt: the compare grid widget",
    "config": "%phaya config    base URL, live or sandbox, whether a key is set, defaults",
    "help": "%phaya help [TOPIC]    this text, or the flags of one subcommand or service",
}


def _service_help(svc: Service) -> str:
    primary = primary_param(svc)
    defaults = {p.name: p.default for p in svc.params if p.default is not None}
    est = svc.price(defaults, {})
    lines = [f"{svc.name} — {svc.label}: {svc.summary}",
             f"  price: {catalog.credits_text(est.credits)} at the defaults ({est.basis})"]
    if primary is not None:
        lines.append(f"  positional / cell body: {primary.name} — {primary.allowed()}")
    lines.append("  flags:")
    for p in svc.params:
        if p is primary:
            continue
        if p.name == "model":
            flag = "--model"
        elif p.type == "bool":
            flag = f"{flag_of(p.name)} / --no-{p.name.replace('_', '-')}"
        elif p.type == "list":
            flag = f"{flag_of(p.name)} A,B (or repeat)"
        elif p.type == "object":
            subs = ", ".join(f"{flag_of(p.name)}-{f.name.replace('_', '-')}" for f in p.fields)
            flag = f"{flag_of(p.name)} (defaults) or {subs}"
        else:
            flag = f"{flag_of(p.name)} VALUE"
        default = "" if p.default is None else f" [default {p.default!r}]"
        lines.append(f"    {flag}: {p.allowed()}{default}")
    lines.append("    -n N: repeat; --yes: confirm above the threshold; --no-wait: return the job; --tag T")
    return "\n".join(lines)


def help_text(topic: str | None = None, defaults: Mapping[str, str] | None = None) -> str:
    """``%phaya help [topic]``, generated from the catalog."""
    if topic in _COMMAND_HELP:
        return _COMMAND_HELP[topic]
    if topic in KINDS:
        svc, _ = default_service(topic, defaults)
        others = ", ".join(s.name for s in kind_services(topic) if s is not svc)
        head = f"%phaya {topic} PROMPT [flags]   (%%phaya {topic}: the cell body is the prompt)\n"
        head += f"  runs {svc.name} by default" + (f"; --model picks another: {others}" if others else "")
        return head + "\n" + _service_help(svc)
    if topic is not None:
        return _service_help(catalog.resolve_service(topic))
    rows = []
    for k in KINDS:
        svc = default_service(k, defaults)[0]
        primary = primary_param(svc)
        arg = "PROMPT" if primary is None or primary.name == "prompt" else primary.name.upper()
        alts = [s.name for s in kind_services(k) if s is not svc]
        rows.append(f"  %phaya {k:<10} {arg:<19} {svc.name}" + (f" (--model: {', '.join(alts)})" if alts else ""))
    kinds = "\n".join(rows)
    return "\n".join([
        "%phaya SUBCOMMAND ...  — %%phaya SUBCOMMAND ... takes the cell body as the prompt",
        "",
        "Generate (shows the media and returns the result: r = %phaya image a red fox):",
        kinds,
        "  %phaya SERVICE PROMPT   any service or alias by name (see %phaya models)",
        "  flags come from the model: %phaya help image; everywhere: --model M, -n N,",
        "  --yes (confirm above PhayaMagics.confirm_above), --no-wait, --tag T; {name} inserts a variable",
        "",
        *(_COMMAND_HELP[c] for c in COMMANDS if c != "help"),
        "",
        "Defaults: %config PhayaMagics.image_model = 'seedream' (also video_model, music_model,",
        "speech_model, chat_model, confirm_above, max_credits)",
    ])
