"""Turn a ``%phaya`` / ``%%phaya`` line into a typed command, before anything runs.

Parsing is kept apart from doing (as in jupysql and jupyter-ai): this module reads the
catalog, the user's namespace (for ``{name}``) and the configured defaults, and returns
one of the small dataclasses below. It sends no request and holds no state, so every
mistake — an unknown subcommand, flag or value, a missing name — surfaces here as
IPython's ``UsageError`` naming what is allowed, before any credit is spent.

Generation flags are generated from the chosen model's catalog params: ``aspect_ratio``
becomes ``--aspect-ratio``, booleans get ``--flag`` / ``--no-flag``, lists are repeatable
or comma separated, object fields become ``--zoom-mode`` style flags.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from IPython.core.error import UsageError

from . import catalog
from .catalog import Param, ParamError, ParamProblem, Service

__all__ = [
    "COMMANDS",
    "KINDS",
    "MAX_REPEATS",
    "Chat",
    "Command",
    "Compare",
    "Cost",
    "Generate",
    "Help",
    "Jobs",
    "Models",
    "Plain",
    "Spend",
    "UsageError",
    "default_service",
    "help_text",
    "interpolate",
    "kind_services",
    "parse",
    "resolve_model",
    "tokenize",
]

#: Media kinds offered as subcommands -> the catalog media they draw services from.
#: Each kind's default service is the catalog alias of the same name.
KINDS: dict[str, tuple[str, ...]] = {
    "image": ("image",),
    "video": ("video",),
    "music": ("audio",),
    "speech": ("speech",),
    "character": ("character",),
    "subtitle": (),
    "download": ("download",),
}
#: Subcommands that are not generation.
COMMANDS: tuple[str, ...] = (
    "chat", "models", "cost", "balance", "jobs", "spend", "resume", "studio", "compare", "config", "help",
)
MAX_REPEATS = 20
JOB_STATUSES = ("pending", "queued", "processing", "completed", "failed", "cancelled")


# ---------------------------------------------------------------- commands


@dataclass(frozen=True)
class Generate:
    """Run ``repeats`` jobs of one service with one validated body."""

    service: Service
    params: dict[str, Any]
    repeats: int = 1
    confirm: bool = False
    wait: bool = True
    tags: tuple[str, ...] = ()

    @property
    def estimate(self) -> catalog.Estimate:
        """Price of one job (the body is already valid)."""
        return catalog.estimate(self.service, self.params)

    @property
    def total_credits(self) -> float:
        return round(self.estimate.credits * self.repeats, 6)


@dataclass(frozen=True)
class Cost:
    """Price a job without running it; required fields may be left out."""

    service: Service
    params: dict[str, Any]
    repeats: int = 1
    facts: dict[str, float] = field(default_factory=dict)

    @property
    def estimate(self) -> catalog.Estimate:
        full = {p.name: p.default for p in self.service.params if p.default is not None}
        full.update(self.params)
        return self.service.price(full, self.facts)


@dataclass(frozen=True)
class Chat:
    prompt: str | None
    model: str | None = None
    reset: bool = False
    temperature: float | None = None
    max_tokens: int | None = None
    web_search: bool = False
    system: str | None = None


@dataclass(frozen=True)
class Models:
    kind: str | None = None


@dataclass(frozen=True)
class Jobs:
    limit: int = 20
    service: str | None = None
    status: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class Spend:
    by: Literal["service", "day"] = "service"


@dataclass(frozen=True)
class Compare:
    """``prompts`` empty means: open the compare grid widget."""

    prompts: tuple[str, ...]
    models: tuple[tuple[Service, dict[str, Any]], ...]
    repeats: int = 1
    confirm: bool = False

    @property
    def specs(self) -> list[str | tuple[str, dict[str, Any]]]:
        """Model specs as ``Session.compare`` takes them."""
        return [(s.name, dict(params)) if params else s.name for s, params in self.models]

    @property
    def total_credits(self) -> float:
        per_round = sum(catalog.estimate(s, {**params, "prompt": p}).credits
                        for s, params in self.models for p in self.prompts)
        return round(per_round * self.repeats, 6)


@dataclass(frozen=True)
class Plain:
    """A subcommand without options: balance, resume, studio, config."""

    name: Literal["balance", "resume", "studio", "config"]


@dataclass(frozen=True)
class Help:
    topic: str | None = None


Command = Generate | Cost | Chat | Models | Jobs | Spend | Compare | Plain | Help


# ---------------------------------------------------------------- tokens and {name}


@dataclass(frozen=True)
class Token:
    text: str
    quoted: bool = False


_TOKEN = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"(?=\s|$)|'([^']*)'(?=\s|$)|(\S+))""")


def tokenize(line: str) -> list[Token]:
    """Split on whitespace; a token that starts and ends with a quote is one quoted token.

    Quotes inside words stay literal, so prompts like ``a cat's hat`` need no escaping.
    """
    out: list[Token] = []
    pos = 0
    line = line.strip()
    while pos < len(line):
        m = _TOKEN.match(line, pos)
        if m is None or m.end() == pos:  # pragma: no cover - the pattern always advances
            break
        dq, sq, bare = m.groups()
        if dq is not None:
            out.append(Token(re.sub(r"\\(.)", r"\1", dq), True))
        elif sq is not None:
            out.append(Token(sq, True))
        elif bare is not None:
            out.append(Token(bare))
        pos = m.end()
    return out


_NAME = re.compile(r"\{\{|\}\}|\{([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\}")


def _lookup(path: str, namespace: Mapping[str, Any]) -> Any:
    head, *rest = path.split(".")
    if head not in namespace:
        raise UsageError(
            f"{{{head}}} names nothing in the notebook: define {head!r} first "
            f"(write {{{{{head}}}}} for literal braces)"
        )
    value = namespace[head]
    for i, attr in enumerate(rest):
        try:
            value = getattr(value, attr)
        except AttributeError:
            where = ".".join([head, *rest[:i]])
            raise UsageError(f"{{{path}}}: {where} has no attribute {attr!r}") from None
    return value


def interpolate(text: str, namespace: Mapping[str, Any] | None, *, whole: bool = False) -> Any:
    """Replace ``{name}`` / ``{name.attr}`` from the namespace; ``{{`` and ``}}`` are literal braces.

    With ``whole=True`` a text that is exactly one ``{name}`` yields the object itself
    (so a list variable can fill a list flag); otherwise the result is text.
    """
    ns = namespace or {}
    if whole:
        m = _NAME.fullmatch(text)
        if m and m.group(1):
            return _lookup(m.group(1), ns)

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        return str(_lookup(m.group(1), ns))

    return _NAME.sub(sub, text)


# ---------------------------------------------------------------- a tiny option scanner


@dataclass(frozen=True)
class Opt:
    """One accepted option: ``dest`` in the scan result, how it takes a value."""

    dest: str
    takes: Literal["const", "value", "multi"] = "value"
    const: Any = True
    convert: Callable[[Any], Any] | None = None
    sub: str | None = None  # object field for --zoom-mode style flags


def _flag_name(token: str) -> str:
    """``--aspect_ratio`` and ``--aspect-ratio`` are the same flag."""
    return token.replace("_", "-") if token.startswith("--") else token


def _looks_like_option(tok: Token) -> bool:
    t = tok.text
    return not tok.quoted and t.startswith("-") and len(t) > 1 and not re.match(r"-\d", t)


def _unknown(what: str, got: str, allowed: Iterable[str], where: str) -> UsageError:
    allowed = list(allowed)
    near = difflib.get_close_matches(got, allowed, n=1)
    hint = f" Did you mean {near[0]}?" if near else ""
    return UsageError(f"{where}: unknown {what} {got!r}.{hint} Allowed: {', '.join(allowed)}")


def _scan(
    tokens: Sequence[Token], opts: Mapping[str, Opt], where: str, namespace: Mapping[str, Any] | None
) -> tuple[dict[str, Any], list[Token]]:
    """Options into a dict (``multi`` -> list), the rest as positionals (in order)."""
    values: dict[str, Any] = {}
    positionals: list[Token] = []
    i = 0
    only_positional = False
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if only_positional or not _looks_like_option(tok):
            positionals.append(tok)
            continue
        if tok.text == "--":
            only_positional = True
            continue
        name, eq, inline = tok.text.partition("=")
        name = _flag_name(name)
        opt = opts.get(name)
        if opt is None:
            raise _unknown("option", name, sorted(opts, key=lambda o: (o.startswith("--no-"), o)), where)
        if opt.takes == "const":
            if eq:
                raise UsageError(f"{where}: {name} takes no value (got {name}={inline})")
            values[opt.dest] = opt.const
            continue
        if eq:
            raw: Any = inline
        else:
            if i >= len(tokens):
                raise UsageError(f"{where}: {name} needs a value")
            raw = tokens[i].text
            i += 1
        raw = interpolate(raw, namespace, whole=True)
        value = opt.convert(raw) if opt.convert else raw
        if opt.sub is not None:
            values.setdefault(opt.dest, {})[opt.sub] = value
        elif opt.takes == "multi":
            values.setdefault(opt.dest, []).extend(value if isinstance(value, list) else [value])
        else:
            values[opt.dest] = value
    return values, positionals


def _number(flag: str, kind: type, allowed: str) -> Callable[[Any], Any]:
    def convert(raw: Any) -> Any:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return raw
        try:
            return kind(str(raw))
        except ValueError:
            try:
                as_float = float(str(raw))
            except ValueError:
                raise UsageError(f"{flag}: {raw!r} is not a number (allowed: {allowed})") from None
            return as_float  # catalog.validate names non-integers with the allowed range

    return convert


def _bool_value(flag: str) -> Callable[[Any], bool]:
    def convert(raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise UsageError(f"{flag}: {raw!r} is not a boolean (allowed: true, false)")

    return convert


def _split_list(raw: Any) -> list[Any]:
    if isinstance(raw, (list, tuple)):
        return list(raw)
    return [part.strip() for part in str(raw).split(",") if part.strip()]


def _repeats(raw: Any) -> int:
    allowed = f"an integer from 1 to {MAX_REPEATS}"
    try:
        n = int(str(raw))
    except ValueError:
        raise UsageError(f"-n: {raw!r} is not a number (allowed: {allowed})") from None
    if not 1 <= n <= MAX_REPEATS:
        raise UsageError(f"-n: {n} is out of range (allowed: {allowed})")
    return n


def _positive_int(flag: str) -> Callable[[Any], int]:
    def convert(raw: Any) -> int:
        try:
            n = int(str(raw))
        except ValueError:
            raise UsageError(f"{flag}: {raw!r} is not a number (allowed: an integer >= 1)") from None
        if n < 1:
            raise UsageError(f"{flag}: {n} is out of range (allowed: an integer >= 1)")
        return n

    return convert


def _choice(flag: str, choices: Sequence[str]) -> Callable[[Any], str]:
    def convert(raw: Any) -> str:
        text = str(raw)
        folded = {c.lower(): c for c in choices}
        if text.lower() not in folded:
            raise _unknown("value", text, choices, flag)
        return folded[text.lower()]

    return convert


# ---------------------------------------------------------------- services and models


def kind_services(kind: str) -> list[Service]:
    """Services a kind subcommand can pick with ``--model``."""
    media = KINDS[kind]
    picks = [s for s in catalog.SERVICES.values() if s.media in media]
    default = catalog.resolve_service(kind)
    return picks if default in picks else [default, *picks]


def _model_param(svc: Service) -> Param | None:
    for p in svc.params:
        if p.name == "model":
            return p
    return None


def _model_choice(svc: Service, value: str) -> str | None:
    p = _model_param(svc)
    if p is None or p.choices is None:
        return None
    folded = {str(c).lower(): str(c) for c in p.choices}
    return folded.get(value.lower())


def _try_service(name: str) -> Service | None:
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
    svc = _try_service(model)
    if svc is not None and svc in services:
        choice = _model_choice(svc, model)
        return svc, ({"model": choice} if choice else {})
    default = catalog.resolve_service(kind)
    choice = _model_choice(default, model)
    if choice is not None:
        return default, {"model": choice}
    allowed = [s.name for s in services]
    mp = _model_param(default)
    if mp is not None and mp.choices:
        allowed += [str(c) for c in mp.choices]
    if svc is not None:
        raise UsageError(
            f"{kind}: --model {model!r} is {svc.name} ({svc.media}), not a model for {kind}; "
            f"{kind} models: {', '.join(allowed)}"
        )
    raise _unknown("model", model, allowed, f"{kind} --model")


def default_service(kind: str, defaults: Mapping[str, str] | None) -> tuple[Service, dict[str, Any]]:
    """The service a bare kind subcommand runs: the configured default, else the catalog alias."""
    chosen = (defaults or {}).get(kind)
    if chosen:
        return resolve_model(kind, chosen)
    return catalog.resolve_service(kind), {}


def _primary(svc: Service) -> Param | None:
    """The field positional words fill: the prompt, else the first required field."""
    for p in svc.params:
        if p.name == "prompt":
            return p
    return next((p for p in svc.params if p.required), None)


def _flag(p_name: str) -> str:
    return "--" + p_name.replace("_", "-")


def _param_opts(svc: Service, *, cost: bool) -> dict[str, Opt]:
    """Flags generated from a service's catalog params (``model`` is ``--model``, handled apart)."""
    opts: dict[str, Opt] = {}
    for p in svc.params:
        if p.name == "model":
            continue
        flag = _flag(p.name)
        if p.type == "bool":
            opts[flag] = Opt(p.name, "const", True)
            opts["--no-" + flag[2:]] = Opt(p.name, "const", False)
        elif p.type in ("int", "float"):
            opts[flag] = Opt(p.name, convert=_number(flag, int if p.type == "int" else float, p.allowed()))
        elif p.type == "list":
            opts[flag] = Opt(p.name, "multi", convert=_split_list)
        elif p.type == "object":
            opts[flag] = Opt(p.name, "const", {})
            for f in p.fields:
                sub_flag = f"{flag}-{f.name.replace('_', '-')}"
                conv: Callable[[Any], Any] | None = None
                if f.type in ("int", "float"):
                    conv = _number(sub_flag, int if f.type == "int" else float, f.allowed())
                elif f.type == "bool":
                    conv = _bool_value(sub_flag)
                opts[sub_flag] = Opt(p.name, convert=conv, sub=f.name)
        else:
            nullable = p.nullable

            def conv_str(raw: Any, _nullable: bool = nullable) -> Any:
                if _nullable and str(raw).lower() in ("none", "null", "auto"):
                    return None
                return raw

            opts[flag] = Opt(p.name, convert=conv_str)
    if cost:
        opts["--media-seconds"] = Opt("media_seconds", convert=_number("--media-seconds", float, "a number"))
        opts["--size-mb"] = Opt("size_mb", convert=_number("--size-mb", float, "a number"))
    return opts


def _base_opts(*, cost: bool) -> dict[str, Opt]:
    opts = {
        "--model": Opt("model"),
        "-m": Opt("model"),
        "-n": Opt("repeats", convert=_repeats),
        "--repeat": Opt("repeats", convert=_repeats),
        "--help": Opt("help", "const"),
        "-h": Opt("help", "const"),
    }
    if not cost:
        opts.update({
            "--yes": Opt("confirm", "const"),
            "-y": Opt("confirm", "const"),
            "--no-wait": Opt("no_wait", "const"),
            "--tag": Opt("tags", "multi", convert=_split_list),
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
        label = _flag(prob.field.replace(".", "-"))
    tail = f" (allowed: {prob.allowed})" if prob.allowed else ""
    return f"{label}: {prob.message}{tail}"


def _usage_from(svc: Service, err: ParamError, primary: Param | None) -> UsageError:
    lines = "; ".join(_problem_text(svc, p, primary) for p in err.problems)
    return UsageError(f"{svc.name}: {lines}")


def _generation(
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
        choice = _model_choice(svc, sub)
        if model is not None:
            choice = _model_choice(svc, model)
            if choice is None and _try_service(model) is not svc:
                mp = _model_param(svc)
                allowed = [str(c) for c in mp.choices or ()] if mp else [svc.name]
                raise _unknown("model", model, allowed, f"{sub} --model")
        if choice:
            implied = {"model": choice}
    where = f"%phaya {'cost ' if cost else ''}{sub}" + (f" ({svc.name})" if svc.name != sub else "")
    opts = {**_base_opts(cost=cost), **_param_opts(svc, cost=cost)}
    primary = _primary(svc)
    if primary is not None and primary.name not in ("model",):
        opts.setdefault(_flag(primary.name), Opt(primary.name, "multi" if primary.type == "list" else "value",
                                                 convert=_split_list if primary.type == "list" else None))
    values, positionals = _scan(tokens, opts, where, namespace)
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
            raise UsageError(f"{where}: {primary.name} given twice (positional and {_flag(primary.name)})")
        if primary.type == "list":
            params[primary.name] = words if words else (body or "").split()
        else:
            params[primary.name] = " ".join(words) if words else body
    try:
        checked = _partial(svc, params) if cost else catalog.validate(svc, params)
    except ParamError as err:
        raise _usage_from(svc, err, primary) from None
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


# ---------------------------------------------------------------- other subcommands


def _chat(tokens: list[Token], cell: str | None, namespace: Mapping[str, Any] | None) -> Chat | Help:
    models = list(catalog.CHAT_MODELS)
    opts = {
        "--model": Opt("model", convert=_choice("chat --model", models)),
        "-m": Opt("model", convert=_choice("chat --model", models)),
        "--reset": Opt("reset", "const"),
        "--temperature": Opt("temperature", convert=_ranged("--temperature", float, 0.0, 2.0)),
        "--max-tokens": Opt("max_tokens", convert=_ranged("--max-tokens", int, 1, 32000)),
        "--web-search": Opt("web_search", "const"),
        "--system": Opt("system"),
        "--help": Opt("help", "const"),
        "-h": Opt("help", "const"),
    }
    values, positionals = _scan(tokens, opts, "%phaya chat", namespace)
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


def _ranged(flag: str, kind: type, lo: float, hi: float) -> Callable[[Any], Any]:
    allowed = f"{'an integer' if kind is int else 'a number'} from {lo:g} to {hi:g}"

    def convert(raw: Any) -> Any:
        try:
            value = kind(str(raw))
        except ValueError:
            raise UsageError(f"{flag}: {raw!r} is not a number (allowed: {allowed})") from None
        if not lo <= value <= hi:
            raise UsageError(f"{flag}: {value!r} is out of range (allowed: {allowed})")
        return value

    return convert


def _prompt_only(svc: Service) -> bool:
    """Services that run from a prompt alone (what compare can put side by side)."""
    names = {p.name for p in svc.params}
    return "prompt" in names and all(not p.required for p in svc.params if p.name != "prompt")


def _service_name(raw: Any) -> str:
    if str(raw).lower() == "chat":
        return "chat"
    svc = _try_service(str(raw))
    if svc is None:
        raise _unknown("service", str(raw), [*catalog.SERVICES, *catalog.MEDIA_JOBS, "chat"], "--service")
    return svc.name


def _no_cell(sub: str, cell: str | None) -> None:
    if cell is not None and cell.strip():
        raise UsageError(f"%%phaya {sub} takes no cell body; use %phaya {sub} on a line")


def _no_positionals(sub: str, positionals: list[Token]) -> None:
    if positionals:
        got = " ".join(t.text for t in positionals)
        raise UsageError(f"%phaya {sub}: unexpected {got!r} (see %phaya help {sub})")


def _compare(tokens: list[Token], cell: str | None, namespace: Mapping[str, Any] | None) -> Compare | Help:
    def to_service(raw: Any) -> list[tuple[Service, dict[str, Any]]]:
        out = []
        for name in _split_list(raw):
            svc = _try_service(str(name))
            if svc is None or not _prompt_only(svc):
                allowed = [s.name for s in catalog.SERVICES.values() if _prompt_only(s)]
                raise _unknown("model", str(name), allowed, "compare --model")
            choice = _model_choice(svc, str(name))
            out.append((svc, {"model": choice} if choice else {}))
        return out

    opts = {
        "--model": Opt("services", "multi", convert=to_service),
        "-m": Opt("services", "multi", convert=to_service),
        "-n": Opt("repeats", convert=_repeats),
        "--repeat": Opt("repeats", convert=_repeats),
        "--yes": Opt("confirm", "const"),
        "-y": Opt("confirm", "const"),
        "--help": Opt("help", "const"),
        "-h": Opt("help", "const"),
    }
    values, positionals = _scan(tokens, opts, "%phaya compare", namespace)
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
                raise _usage_from(svc, err, _primary(svc)) from None
    return Compare(tuple(prompts), tuple(models), values.get("repeats", 1), bool(values.get("confirm")))


def parse(
    line: str,
    cell: str | None = None,
    namespace: Mapping[str, Any] | None = None,
    defaults: Mapping[str, str] | None = None,
) -> Command:
    """Parse one magic invocation. ``cell`` is the body of ``%%phaya`` (None for ``%phaya``).

    ``defaults`` maps a kind (``image``, ``video``, ...) to the model it runs when no
    ``--model`` is given. Raises ``UsageError`` for anything it cannot run.
    """
    tokens = tokenize(line)
    if not tokens:
        if cell is not None and cell.strip():
            raise UsageError("%%phaya needs a subcommand, e.g. %%phaya image or %%phaya chat")
        return Help()
    head, rest = tokens[0], tokens[1:]
    sub = head.text.lower()
    if sub in ("-h", "--help"):
        return Help()
    if sub == "help":
        _no_cell(sub, cell)
        if len(rest) > 1:
            raise UsageError("%phaya help takes at most one topic")
        topic = rest[0].text.lower() if rest else None
        if topic is not None and topic not in COMMANDS and topic not in KINDS and _try_service(topic) is None:
            raise _unknown("help topic", topic, _subcommands(), "%phaya help")
        return Help(topic)
    if sub == "chat":
        return _chat(rest, cell, namespace)
    if sub == "cost":
        if not rest or _looks_like_option(rest[0]):
            raise UsageError("%phaya cost needs a subcommand or service first, e.g. %phaya cost video "
                             f"--model veo3. Allowed: {', '.join(_generators())}")
        target = rest[0].text.lower()
        if target not in KINDS and _try_service(target) is None:
            raise _unknown("service", target, _generators(), "%phaya cost")
        return _generation(target, rest[1:], cell, namespace, defaults, cost=True)
    if sub == "compare":
        return _compare(rest, cell, namespace)
    if sub in COMMANDS:
        _no_cell(sub, cell)
        return _simple(sub, rest, namespace)
    if sub in KINDS or _try_service(sub) is not None:
        return _generation(sub, rest, cell, namespace, defaults, cost=False)
    raise _unknown("subcommand", head.text, _subcommands(), "%phaya")


def _simple(sub: str, rest: list[Token], namespace: Mapping[str, Any] | None) -> Command:
    help_opts = {"--help": Opt("help", "const"), "-h": Opt("help", "const")}
    if sub == "models":
        values, pos = _scan(rest, help_opts, "%phaya models", namespace)
        if values:
            return Help("models")
        if len(pos) > 1:
            _no_positionals(sub, pos[1:])
        kind = pos[0].text.lower() if pos else None
        if kind is not None and kind not in KINDS:
            raise _unknown("kind", kind, KINDS, "%phaya models")
        return Models(kind)
    if sub == "jobs":
        values, pos = _scan(rest, {
            **help_opts,
            "-n": Opt("limit", convert=_positive_int("-n")),
            "--limit": Opt("limit", convert=_positive_int("--limit")),
            "--service": Opt("service", convert=_service_name),
            "--status": Opt("status", convert=_choice("--status", JOB_STATUSES)),
            "--tag": Opt("tag"),
        }, "%phaya jobs", namespace)
        _no_positionals(sub, pos)
        if values.pop("help", False):
            return Help("jobs")
        return Jobs(**values)
    if sub == "spend":
        values, pos = _scan(rest, {**help_opts, "--by": Opt("by", convert=_choice("--by", ("service", "day")))},
                            "%phaya spend", namespace)
        _no_positionals(sub, pos)
        if values.pop("help", False):
            return Help("spend")
        return Spend(**values)
    values, pos = _scan(rest, help_opts, f"%phaya {sub}", namespace)
    _no_positionals(sub, pos)
    if values:
        return Help(sub)
    return Plain(sub)  # type: ignore[arg-type]


def _generators() -> list[str]:
    names: list[str] = list(KINDS)
    for svc in [*catalog.SERVICES.values(), *catalog.MEDIA_JOBS.values()]:
        names += [svc.name, *svc.aliases]
    return list(dict.fromkeys(names))


def _subcommands() -> list[str]:
    return [*COMMANDS, *_generators()]


# ---------------------------------------------------------------- help


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
    primary = _primary(svc)
    defaults = {p.name: p.default for p in svc.params if p.default is not None}
    est = svc.price(defaults, {})
    lines = [f"{svc.name} — {svc.label}: {svc.summary}",
             f"  price: {est.credits:g} credits at the defaults ({est.basis})"]
    if primary is not None:
        lines.append(f"  positional / cell body: {primary.name} — {primary.allowed()}")
    lines.append("  flags:")
    for p in svc.params:
        if p is primary:
            continue
        if p.name == "model":
            flag = "--model"
        elif p.type == "bool":
            flag = f"{_flag(p.name)} / --no-{p.name.replace('_', '-')}"
        elif p.type == "list":
            flag = f"{_flag(p.name)} A,B (or repeat)"
        elif p.type == "object":
            subs = ", ".join(f"{_flag(p.name)}-{f.name.replace('_', '-')}" for f in p.fields)
            flag = f"{_flag(p.name)} (defaults) or {subs}"
        else:
            flag = f"{_flag(p.name)} VALUE"
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
        primary = _primary(svc)
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
