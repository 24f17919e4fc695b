"""Local files given for media params (``image_url="./cat.png"``): checked, then uploaded.

Why a separate step: a user (or a magic, or a widget) naturally passes a path where
the contract wants a URL. ``split_local`` runs before any request: it swaps each local
file for a placeholder URL so the catalog can validate everything else, and refuses a
path that is not a file (naming the field) — nothing is sent or charged. Only after the
price, confirm and budget checks pass does the client upload the files through
``media/upload`` and ``substitute`` the real URLs into the body it creates the job with.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from typing import Any

from .. import catalog
from .errors import InvalidParams

__all__ = ["split_local", "substitute"]

_PLACEHOLDER = "https://local-file.invalid/"
_LOCAL_PREFIXES = ("/", "./", "../", "~", ".\\", "..\\")


def _as_local(value: Any) -> pathlib.Path | None:
    """The local file a value names, if it names one (a URL or other text: None)."""
    if isinstance(value, os.PathLike):
        return pathlib.Path(value).expanduser()
    if isinstance(value, str) and "://" not in value and not value.startswith("data:"):
        p = pathlib.Path(value).expanduser()
        if value.startswith(_LOCAL_PREFIXES) or p.is_file():
            return p
    return None


def split_local(svc: catalog.Service, params: Mapping[str, Any]
                ) -> tuple[dict[str, Any], dict[str, pathlib.Path]]:
    """(params with placeholder URLs, {placeholder: file}); InvalidParams for a missing file."""
    out = dict(params)
    files: dict[str, pathlib.Path] = {}
    problems: list[catalog.ParamProblem] = []
    by_path: dict[pathlib.Path, str] = {}

    def swap(value: Any, field: str, media: str) -> Any:
        p = _as_local(value)
        if p is None:
            return value
        if not p.is_file():
            problems.append(catalog.ParamProblem(field, f"{str(value)!r} is not an existing file",
                                                 f"a URL or the path of a local {media} file"))
            return value
        key = p.resolve()
        if key not in by_path:
            by_path[key] = f"{_PLACEHOLDER}{len(by_path)}/{p.name}"
            files[by_path[key]] = p
        return by_path[key]

    for param in svc.params:
        if param.media is None or param.name not in out:
            continue
        value = out[param.name]
        if param.type == "list" and isinstance(value, (list, tuple)):
            out[param.name] = [swap(v, f"{param.name}[{i}]", param.media) for i, v in enumerate(value)]
        else:
            out[param.name] = swap(value, param.name, param.media)
    if problems:
        raise InvalidParams(svc.name, problems)
    return out, files


def substitute(body: dict[str, Any], urls: Mapping[str, str]) -> dict[str, Any]:
    """The body with every placeholder replaced by its uploaded file's URL."""
    def one(v: Any) -> Any:
        return urls.get(v, v) if isinstance(v, str) else v

    return {k: [one(x) for x in v] if isinstance(v, list) else one(v) for k, v in body.items()}
