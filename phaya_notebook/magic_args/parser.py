"""``parse``: one magic invocation to one typed command, dispatching on the subcommand."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from IPython.core.error import UsageError

from .. import catalog
from .commands import COMMANDS, KINDS, Command, Help
from .generation import parse_generation
from .models import try_service
from .options import looks_like_option, unknown
from .subcommands import no_cell, parse_chat, parse_compare, parse_simple
from .tokens import tokenize


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
        no_cell(sub, cell)
        if len(rest) > 1:
            raise UsageError("%phaya help takes at most one topic")
        topic = rest[0].text.lower() if rest else None
        if topic is not None and topic not in COMMANDS and topic not in KINDS and try_service(topic) is None:
            raise unknown("help topic", topic, _subcommands(), "%phaya help")
        return Help(topic)
    if sub == "chat":
        return parse_chat(rest, cell, namespace)
    if sub == "cost":
        if not rest or looks_like_option(rest[0]):
            raise UsageError("%phaya cost needs a subcommand or service first, e.g. %phaya cost video "
                             f"--model veo3. Allowed: {', '.join(_generators())}")
        target = rest[0].text.lower()
        if target not in KINDS and try_service(target) is None:
            raise unknown("service", target, _generators(), "%phaya cost")
        return parse_generation(target, rest[1:], cell, namespace, defaults, cost=True)
    if sub == "compare":
        return parse_compare(rest, cell, namespace)
    if sub in COMMANDS:
        no_cell(sub, cell)
        return parse_simple(sub, rest, namespace)
    if sub in KINDS or try_service(sub) is not None:
        return parse_generation(sub, rest, cell, namespace, defaults, cost=False)
    raise unknown("subcommand", head.text, _subcommands(), "%phaya")


def _generators() -> list[str]:
    names: list[str] = list(KINDS)
    for svc in [*catalog.SERVICES.values(), *catalog.MEDIA_JOBS.values()]:
        names += [svc.name, *svc.aliases]
    return list(dict.fromkeys(names))


def _subcommands() -> list[str]:
    return [*COMMANDS, *_generators()]
