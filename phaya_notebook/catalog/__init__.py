"""The one source of truth for Phaya's services, parameters and prices.

Everything else reads this package: the client validates and prices from it, the
widgets build their controls from it, the magics build their flags from it and the
sandbox routes and charges from it. Adding a service or changing a price is one
entry in ``services.py``. Rows follow ``shared/phaya-api.md``; lines marked [decision]
there are decisions here too. This package imports nothing from the rest of the package.

Modules, each importing only the ones above it:

- ``status``   job status casing per service family: ``normalize_status``, ``is_terminal``
- ``model``    the vocabulary: ``Param``, ``Rule``, ``CountRule``, ``Service``, ``Estimate``, ``ChatModel``,
  ``ParamProblem``, ``ParamError``
- ``pricing``  price and duration formulas (``credits_text``, ``tts_credits`` ...)
- ``services`` the tables, data only: ``SERVICES``, ``MEDIA_JOBS``, ``VOICES``
- ``chat``     chat and embedding models and their token prices: ``CHAT_MODELS``, ``chat_credits``
- ``validation`` lookup, ``validate`` / ``with_defaults`` (cross-field rules), ``estimate``

Callers import from the package (``from phaya_notebook import catalog``); every name
below stays importable from here.
"""

from __future__ import annotations

from .chat import (
    CHAT_MODELS,
    CHAT_PARAMS,
    DEFAULT_CHAT_MODEL,
    EMBEDDING_DIMENSIONS,
    EMBEDDING_LABEL,
    EMBEDDING_MODELS,
    chat_credits,
    embedding_credits,
)
from .model import (
    ChatModel,
    CountRule,
    Estimate,
    MediaKind,
    Param,
    ParamError,
    ParamProblem,
    ParamType,
    PriceFn,
    Rule,
    SecondsFn,
    Service,
)
from .pricing import (
    KLING_MAX_SECONDS,
    KLING_PER_SECOND,
    SEEDANCE_PRICES,
    credits_text,
    download_credits,
    kling_output_seconds,
    subtitle_credits,
    tts_credits,
)
from .services import ASPECT_5, GPT_IMAGE_ASPECTS, MEDIA_JOBS, SERVICES, VOICES, ZOOM_MODES
from .status import STATUS_FLOWS, TERMINAL, StatusFamily, is_terminal, normalize_status
from .validation import (
    estimate,
    get_service,
    resolve_service,
    service_names,
    typical_seconds,
    validate,
    with_defaults,
)

#: The single-module catalog's names, all importable from the package as before (and CountRule).
__all__ = [
    "ASPECT_5",
    "CHAT_MODELS",
    "CHAT_PARAMS",
    "DEFAULT_CHAT_MODEL",
    "EMBEDDING_DIMENSIONS",
    "EMBEDDING_LABEL",
    "EMBEDDING_MODELS",
    "GPT_IMAGE_ASPECTS",
    "KLING_MAX_SECONDS",
    "KLING_PER_SECOND",
    "MEDIA_JOBS",
    "SEEDANCE_PRICES",
    "SERVICES",
    "STATUS_FLOWS",
    "TERMINAL",
    "VOICES",
    "ZOOM_MODES",
    "ChatModel",
    "CountRule",
    "Estimate",
    "MediaKind",
    "Param",
    "ParamError",
    "ParamProblem",
    "ParamType",
    "PriceFn",
    "Rule",
    "SecondsFn",
    "Service",
    "StatusFamily",
    "chat_credits",
    "credits_text",
    "download_credits",
    "embedding_credits",
    "estimate",
    "get_service",
    "is_terminal",
    "kling_output_seconds",
    "normalize_status",
    "resolve_service",
    "service_names",
    "subtitle_credits",
    "tts_credits",
    "typical_seconds",
    "validate",
    "with_defaults",
]
