"""``%phaya models``: every service, chat and embedding model with its price, as a DataFrame.

Built from the catalog (no request); a connected session's client adds what it saw
really charged (``observed.price``).
"""

from __future__ import annotations

from typing import Any


def models_table(kind: str | None, aio: Any = None) -> Any:
    """The table ``%phaya models [kind]`` returns; ``aio`` is the connected client or None."""
    import pandas as pd

    from .. import catalog
    from ..magic_args import KINDS, kind_services

    rows = []
    services = list(catalog.SERVICES.values()) + list(catalog.MEDIA_JOBS.values())
    if kind is not None:
        services = kind_services(kind)
    for svc in services:
        defaults = {p.name: p.default for p in svc.params if p.default is not None}
        est = svc.price(defaults, {})
        if aio is not None:  # a connected session knows what was really charged (no request)
            est = aio.observed.price(svc, est)
        kinds = [k for k in KINDS if catalog.resolve_service(k) is svc]
        rows.append({
            "service": svc.name,
            "model": svc.label,
            "media": svc.media,
            "subcommands": ", ".join(dict.fromkeys([*kinds, svc.name, *svc.aliases])),
            "price": est.credits,
            "price_basis": est.basis,
            "parameters": ", ".join(p.name for p in svc.params),
        })
    if kind is None:
        for m in catalog.CHAT_MODELS.values():
            rows.append({
                "service": "chat", "model": m.id, "media": "text", "subcommands": "chat",
                "price": m.completion_per_million,
                "price_basis": f"credits {m.price_text}",
                "parameters": ", ".join(p.name for p in catalog.CHAT_PARAMS if p.name != "stream"),
            })
        for model_id, per_million in catalog.EMBEDDING_MODELS.items():
            rows.append({
                "service": "embedding", "model": model_id, "media": "text", "subcommands": "",
                "price": per_million, "price_basis": f"credits {per_million:.2f} per million tokens",
                "parameters": "input, model",
            })
    return pd.DataFrame(rows)
