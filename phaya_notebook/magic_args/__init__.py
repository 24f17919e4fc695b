"""Turn a ``%phaya`` / ``%%phaya`` line into a typed command, before anything runs.

Parsing is kept apart from doing (as in jupysql and jupyter-ai): this module reads the
catalog, the user's namespace (for ``{name}``) and the configured defaults, and returns
one of the small dataclasses in ``commands``. It sends no request and holds no state, so every
mistake — an unknown subcommand, flag or value, a missing name — surfaces here as
IPython's ``UsageError`` naming what is allowed, before any credit is spent.

Generation flags are generated from the chosen model's catalog params: ``aspect_ratio``
becomes ``--aspect-ratio``, booleans get ``--flag`` / ``--no-flag``, lists are repeatable
or comma separated, object fields become ``--zoom-mode`` style flags.

The package, one job per module (this file only re-exports the public API):
``commands`` (the typed commands), ``tokens`` (words and ``{name}``), ``options`` (the flag
scanner and value converters), ``models`` (kind and ``--model`` to a service), ``generation``
(generation and cost lines), ``subcommands`` (chat, compare, jobs, ...), ``parser``
(``parse``), ``help`` (``help_text``). The handlers that run commands live in the ``magics`` package.
Names the submodules share are internal to the package; the public API is ``__all__`` here.
"""

from __future__ import annotations

from IPython.core.error import UsageError

from .commands import (
    COMMANDS,
    KINDS,
    MAX_REPEATS,
    Chat,
    Command,
    Compare,
    Cost,
    Generate,
    Help,
    Jobs,
    Models,
    Plain,
    Spend,
)
from .help import help_text
from .models import default_service, kind_services, resolve_model
from .parser import parse
from .tokens import interpolate, tokenize

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
