"""A finished job's result: its answer's fields -> downloads (retried, never re-created) -> media cache.

:class:`Result` is what ``generate()`` returns; :class:`Results` builds one from a completed
status answer and fetches its files into the :class:`~.media.MediaCache` so that results
outlive their URLs. A failed download leaves the URLs and ``download_errors`` on the
Result; :meth:`Results.fetch_media` fills the files in later. Uploads of local files
(``media/upload``) live here too: they are the same media moving the other way.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .. import catalog
from .errors import InvalidParams, PhayaError, ServerError
from .http import RequestLoop
from .media import MediaCache, guess_ext, guess_mime
from .wire import field_of

__all__ = ["MediaSettings", "Result", "Results", "set_renderer"]


@dataclass(repr=False)
class Result:
    """A finished job: its URLs, the cached files (same order) and the raw answer."""

    job_id: str
    service: str
    media: str
    urls: list[str]
    paths: list[pathlib.Path]
    fields: dict[str, Any]
    credits: float = 0.0
    character_id: str | None = None
    #: The result that is not a file: a transcript, or a Sora character id.
    text: str | None = None
    mime_types: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    download_errors: list[str] = field(default_factory=list)
    #: Set by a Session: writes a rating to its job log (core knows no log).
    rater: Callable[[str, int], Any] | None = field(default=None, compare=False)

    def rate(self, rating: int) -> None:
        """Keep (1), reject (-1) or clear (0) this result in the job log (``jobs()``' rating)."""
        if self.rater is None:
            raise PhayaError("rate: this result belongs to no job log; connect with "
                             "phaya_notebook.connect() to rate results")
        self.rater(self.job_id, rating)

    def __repr__(self) -> str:
        what = (repr(self.text[:60] + ("…" if len(self.text) > 60 else "")) if self.text and not self.character_id
                else self.character_id or ", ".join(str(p) for p in self.paths) or self.url)
        note = "; not cached yet (download failed, retrying)" if not self.cached else ""
        return (f"<Result {self.service} {self.job_id[:8]} {self.media}: {what} "
                f"({catalog.credits_text(self.credits)}{note})>")

    @property
    def cached(self) -> bool:
        """False while a failed download of this paid result waits for its retry."""
        return not self.download_errors

    @property
    def url(self) -> str | None:
        return self.urls[0] if self.urls else None

    @property
    def path(self) -> pathlib.Path | None:
        return self.paths[0] if self.paths else None

    @property
    def mime_type(self) -> str | None:
        return self.mime_types[0] if self.mime_types else None

    def read_bytes(self, i: int = 0) -> bytes:
        return self.paths[i].read_bytes()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        """Rich display through ``phaya_notebook.display.render`` (docs/interfaces.md).

        The display layer is imported lazily, only when a notebook shows a Result (an allowed
        upward arrow, named in test_architecture.LAZY_UPWARD); :func:`set_renderer` can replace it.
        """
        if _RENDERER is not None:
            return _RENDERER(self)._repr_mimebundle_(include=include, exclude=exclude)
        try:
            from ..display import render
        except ImportError:  # a core-only install: plain text
            return {"text/plain": repr(self)}
        return render(self)._repr_mimebundle_(include=include, exclude=exclude)


_RENDERER: Callable[[Result], Any] | None = None


def set_renderer(fn: Callable[[Result], Any] | None) -> None:
    """The display layer's hook: how a Result shows itself in a notebook."""
    global _RENDERER
    _RENDERER = fn


class MediaSettings(Protocol):
    """The client's media settings (read at each use: they are public attributes)."""

    cache: MediaCache
    download: bool


class Results:
    """Completed answers into Results with cached files; local files up to Phaya storage."""

    def __init__(self, http: RequestLoop, settings: MediaSettings):
        self.http = http
        self.settings = settings

    async def make(self, service: catalog.Service, job_id: str, fields: dict[str, Any],
                   charged: float | None) -> Result:
        """The Result of a completed status answer; its files downloaded unless ``download=False``."""
        urls: list[str] = []
        for name in service.result_fields:
            if name in ("origin_url",):
                continue
            value = fields.get(name)
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, str) and v.startswith(("http://", "https://")) and v not in urls:
                    urls.append(v)
        char = fields.get("character_id") if isinstance(fields.get("character_id"), str) else None
        text = fields.get("text") if isinstance(fields.get("text"), str) else None
        result = Result(job_id, service.name, service.media, urls, [], fields,
                        credits=float(charged or 0.0), character_id=char, text=text or char)
        if self.settings.download:
            await self.fetch_media(result)
        return result

    async def fetch_media(self, result: Result) -> bool:
        """Download a result's files into the cache (again); True when every file is local.

        A paid result whose download failed keeps its URLs and ``download_errors``; calling
        this later (the session retries with backoff, ``resume()`` too) fills ``paths`` in
        URL order once every file came. GETs only: never a new create.
        """
        paths: list[pathlib.Path] = []
        mimes: list[str] = []
        sizes: list[int] = []
        errors: list[str] = []
        for url in result.urls:
            try:
                content, ctype = await self.http.download(url)
            except PhayaError as exc:
                errors.append(f"{url}: {exc}")
                continue
            path = await asyncio.to_thread(self.settings.cache.store, content, guess_ext(url, ctype))
            paths.append(path)
            mimes.append(guess_mime(path, ctype))
            sizes.append(len(content))
        if errors and result.paths:  # keep what an earlier try already has
            return False
        result.paths[:], result.mime_types[:], result.sizes[:] = paths, mimes, sizes
        result.download_errors[:] = errors
        return not errors

    async def upload(self, path_or_bytes: str | os.PathLike[str] | bytes, filename: str | None = None) -> str:
        """Put a local file in Phaya storage (``media/upload``); returns its URL for *_url params."""
        if isinstance(path_or_bytes, (bytes, bytearray)):
            content, name = bytes(path_or_bytes), filename or "upload.bin"
        else:
            p = pathlib.Path(path_or_bytes)
            if not p.is_file():
                raise InvalidParams("upload", [catalog.ParamProblem("path_or_bytes", f"{str(p)!r} is not a file",
                                                                    "bytes or the path of an existing file")])
            content, name = p.read_bytes(), filename or p.name
        data = await self.http.call("POST", "/media/upload", files={"file": (name, content)}, safe=True,
                                    what="upload")
        url = field_of(data, "url", "file_url", "data") if isinstance(data, dict) else None
        if not isinstance(url, str):
            raise ServerError("upload: the answer has no url")
        return url

    async def upload_all(self, files: Mapping[str, pathlib.Path]) -> dict[str, str]:
        """Upload local files at once; {placeholder: URL}."""
        keys = list(files)
        urls = await asyncio.gather(*(self.upload(files[k]) for k in keys))
        return dict(zip(keys, urls, strict=True))
