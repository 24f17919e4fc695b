"""A request checked against the tables: look a service up, validate its params, price it.

Every caller (client, widgets, magics, sandbox) goes through these functions, so all of
them refuse the same input with the same words: a ``ParamError`` naming each field and
what it accepts, before any request. Cross-field rules are data on the service rows and
checked here: ``CountRule`` (a list's length per value of another field, on the given body)
and ``Rule`` (allowed values across two fields, with defaults filled in).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .model import Estimate, Param, ParamError, ParamProblem, Rule, Service
from .services import MEDIA_JOBS, SERVICES

__all__ = [
    "estimate",
    "get_service",
    "resolve_service",
    "service_names",
    "typical_seconds",
    "validate",
    "with_defaults",
]

_ALL: dict[str, Service] = {**SERVICES, **MEDIA_JOBS}
_ALIASES: dict[str, str] = {a: s.name for s in _ALL.values() for a in s.aliases}


def service_names() -> tuple[str, ...]:
    """The generation services' path names (media utilities not included)."""
    return tuple(SERVICES)


def resolve_service(name: str) -> Service:
    """A service by its path name or a friendly alias; a clear error otherwise."""
    key = (name or "").strip().strip("/").lower()
    if key in _ALL:
        return _ALL[key]
    if key in _ALIASES:
        return _ALL[_ALIASES[key]]
    raise ParamError("service", [ParamProblem(
        "service", f"unknown service {name!r}", ", ".join(list(SERVICES) + list(MEDIA_JOBS)))])


get_service = resolve_service


def _check(p: Param, value: Any, path: str, problems: list[ParamProblem]) -> Any:
    """Check one value; returns it coerced to the wire type (e.g. 10 -> "10" for a string enum)."""
    if value is None:
        if p.required:
            problems.append(ParamProblem(path, "is required", p.allowed()))
        elif not p.nullable and p.default is not None:
            problems.append(ParamProblem(path, "must not be None", p.allowed()))
        return value
    if p.choices is not None:
        choices = p.choices
        if value not in choices and isinstance(value, (int, float)) and not isinstance(value, bool):
            as_text = str(int(value)) if float(value).is_integer() else str(value)
            if as_text in choices:
                value = as_text
        if value not in choices and isinstance(value, str):
            folded = {str(c).lower(): c for c in choices}
            value = folded.get(value.lower(), value)
        if value not in choices:
            problems.append(ParamProblem(path, f"{value!r} is not allowed", p.allowed()))
        return value
    if p.type == "bool":
        if not isinstance(value, bool):
            problems.append(ParamProblem(path, f"{value!r} is not a boolean", p.allowed()))
        return value
    if p.type in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(ParamProblem(path, f"{value!r} is not a number", p.allowed()))
            return value
        if p.type == "int" and not float(value).is_integer():
            problems.append(ParamProblem(path, f"{value!r} is not an integer", p.allowed()))
            return value
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            problems.append(ParamProblem(path, f"{value!r} is not a finite number", p.allowed()))
            return value
        if (p.minimum is not None and value < p.minimum) or (p.maximum is not None and value > p.maximum):
            problems.append(ParamProblem(path, f"{value!r} is out of range", p.allowed()))
        return int(value) if p.type == "int" else float(value)
    if p.type == "str":
        if not isinstance(value, str):
            problems.append(ParamProblem(path, f"{type(value).__name__} is not text", p.allowed()))
            return value
        n = len(value)
        if p.required and not value.strip():
            problems.append(ParamProblem(path, "must not be empty", p.allowed()))
        elif (p.min_length is not None and n < p.min_length) or (p.max_length is not None and n > p.max_length):
            problems.append(ParamProblem(path, f"has {n} characters", p.allowed()))
        return value
    if p.type == "list":
        if isinstance(value, str):
            value = [value]
        is_list = isinstance(value, (list, tuple))
        if not is_list or (p.name != "messages" and not all(isinstance(v, str) for v in value)):
            problems.append(ParamProblem(path, "is not a list of strings", p.allowed()))
            return value
        n = len(value)
        if (p.min_items is not None and n < p.min_items) or (p.max_items is not None and n > p.max_items):
            problems.append(ParamProblem(path, f"has {n} items", p.allowed()))
        return list(value)
    if p.type == "object":
        if not isinstance(value, Mapping):
            problems.append(ParamProblem(path, f"{type(value).__name__} is not an object", p.allowed()))
            return value
        known = {f.name: f for f in p.fields}
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k not in known:
                problems.append(ParamProblem(f"{path}.{k}", "is not a field", ", ".join(known)))
                continue
            out[k] = _check(known[k], v, f"{path}.{k}", problems)
        return out
    return value


def validate(service: str | Service, params: Mapping[str, Any] | None = None, *,
             local_files: bool = True) -> dict[str, Any]:
    """Check params against the catalog and return the body to send.

    Only the fields the caller gave are sent (the server applies its defaults);
    values are coerced to the wire type. Raises ParamError listing every problem,
    each with the field name and the allowed values. ``local_files``: an ``http_only``
    field may name an existing local file (the client uploads it); a server says False.
    """
    svc = service if isinstance(service, Service) else resolve_service(service)
    params = dict(params or {})
    problems: list[ParamProblem] = []
    known = {p.name: p for p in svc.params}
    body: dict[str, Any] = {}
    for name, value in params.items():
        if name not in known:
            problems.append(ParamProblem(name, f"is not a parameter of {svc.name}", svc.param_names()))
            continue
        checked = _check(known[name], value, name, problems)
        if checked is not None or known[name].nullable:
            body[name] = checked
    for p in svc.params:
        if p.required and p.name not in params:
            problems.append(ParamProblem(p.name, "is required", p.allowed()))
    for count in svc.count_rules:
        message = count.problem(body)
        if message:
            problems.append(ParamProblem(count.other, message, count.allowed))
    _url_checks(svc, body, problems, local_files)
    if svc.rules and not problems:
        full = {p.name: p.default for p in svc.params if p.default is not None}
        full.update(body)
        for rule in svc.rules:
            if rule.broken_by(full):
                def how(f: str) -> str:
                    return f"{f}={full[f]!r}" + ("" if f in body else " (the default)")

                problems.append(ParamProblem(
                    rule.field, f"{how(rule.field)} is not allowed with {how(rule.other)}",
                    _rule_allowed(svc, rule, full)))
    if problems:
        raise ParamError(svc.name, problems)
    return body


def _url_checks(svc: Service, body: Mapping[str, Any], problems: list[ParamProblem], local_files: bool) -> None:
    """``http_only`` fields: public http(s) URLs (live: a file upload is not accepted), or local files."""
    import os

    for p in svc.params:
        values = body.get(p.name) if p.http_only else None
        for i, v in enumerate(values if isinstance(values, list) else []):
            if not isinstance(v, str) or v.startswith(("http://", "https://")):
                continue
            if local_files and os.path.isfile(os.path.expanduser(v)):
                continue
            problems.append(ParamProblem(f"{p.name}[{i}]", f"{v!r} is not an http(s) URL or an existing file",
                                         "public http(s) URLs" + (", or paths of local image files"
                                                                  if local_files else "")))


def _rule_allowed(svc: Service, rule: Rule, full: Mapping[str, Any]) -> str:
    """What would pass: the rule itself, and the values of ``field`` allowed at this ``other``."""
    other = full[rule.other]
    choices = svc.param(rule.field).choices or ()
    ok = [c for c in choices if not any(r.broken_by({**full, rule.field: c}) for r in svc.rules)]
    return f"{rule.text()}; with {rule.other}={other!r}, {rule.field} one of " + ", ".join(map(repr, ok))


def with_defaults(service: str | Service, params: Mapping[str, Any] | None = None, *,
                  local_files: bool = True) -> dict[str, Any]:
    """The params as the server will see them: validated, with every default filled in."""
    svc = service if isinstance(service, Service) else resolve_service(service)
    body = validate(svc, params, local_files=local_files)
    full = {p.name: p.default for p in svc.params if p.default is not None}
    full.update(body)
    return full


def estimate(service: str | Service, params: Mapping[str, Any] | None = None,
             facts: Mapping[str, float] | None = None) -> Estimate:
    """The price of one job before it runs (validates first: a bad body has no price)."""
    svc = service if isinstance(service, Service) else resolve_service(service)
    return svc.price(with_defaults(svc, params), dict(facts or {}))


def typical_seconds(service: str | Service, params: Mapping[str, Any] | None = None) -> float:
    """About how long one job takes with these params (defaults filled in; unknown values: the default's)."""
    svc = service if isinstance(service, Service) else resolve_service(service)
    full = {p.name: p.default for p in svc.params if p.default is not None}
    full.update({k: v for k, v in (params or {}).items() if v is not None})
    try:
        return svc.typical_seconds(full)
    except KeyError:
        return svc.typical_seconds({})

