"""Finished media, downloaded at once into a local content-addressed cache.

Provider URLs expire (14 days or less), so a result is only safe once it is on disk.
Files are stored as ``<cache>/<sha256[:2]>/<sha256><ext>``: the same bytes are kept
once, and a path never changes meaning. The default cache is ``./phaya-media`` next to
the notebook, so Jupyter serves it by relative path: not a hidden folder, because Jupyter
refuses hidden paths under ``/files/`` (large videos would not play). ``PHAYA_CACHE_DIR``
overrides.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import pathlib
import posixpath
import tempfile
from urllib.parse import urlsplit

__all__ = ["MediaCache", "default_cache_dir", "guess_ext"]

_EXT_BY_TYPE = {
    "image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif",
    "video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov",
    "audio/mpeg": ".mp3", "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/ogg": ".ogg",
    "audio/mp4": ".m4a", "application/json": ".json", "text/plain": ".txt",
}


def default_cache_dir() -> pathlib.Path:
    env = os.environ.get("PHAYA_CACHE_DIR")
    return pathlib.Path(env) if env else pathlib.Path("phaya-media")


def guess_ext(url: str, content_type: str | None) -> str:
    """A file extension from the URL's path, else from the content type."""
    ext = posixpath.splitext(urlsplit(url).path)[1].lower()
    if ext and len(ext) <= 6 and ext[1:].isalnum():
        return ext
    ctype = (content_type or "").split(";")[0].strip().lower()
    return _EXT_BY_TYPE.get(ctype) or mimetypes.guess_extension(ctype) or ".bin"


def guess_mime(path: pathlib.Path | str, content_type: str | None = None) -> str:
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype and ctype != "application/octet-stream":
        return ctype
    return mimetypes.guess_type(str(path))[0] or "application/octet-stream"


class MediaCache:
    """Where downloads go; ``store`` writes bytes once under their hash."""

    def __init__(self, root: str | os.PathLike[str] | None = None):
        self.root = pathlib.Path(root) if root is not None else default_cache_dir()

    def __repr__(self) -> str:
        return f"MediaCache({str(self.root)!r})"

    def path_for(self, digest: str, ext: str) -> pathlib.Path:
        return self.root / digest[:2] / f"{digest}{ext}"

    def store(self, data: bytes, ext: str) -> pathlib.Path:
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_for(digest, ext)
        if path.exists() and path.stat().st_size == len(data):
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            with _suppress():
                os.unlink(tmp)
            raise
        return path


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True
