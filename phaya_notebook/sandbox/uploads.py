"""``POST /media/upload``: a multipart ``file`` becomes a hosted URL, or 413 when too big.

The declared Content-Length is checked before reading, and the real size while
copying, so a huge body never sits in memory.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from . import media
from .files import FileStore, HostedFile

CHUNK = 1 << 20


async def save_upload(request: Request, files: FileStore, max_mb: float, problem: Any) -> HostedFile:
    limit = int(max_mb * 1_000_000)
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise problem(413, f"File too large: at most {max_mb:g} MB")
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise problem(422, [{"type": "missing", "loc": ["body", "file"],
                             "msg": "file is required as a multipart/form-data field named 'file'"}])
    try:
        form = await request.form(max_files=1, max_fields=20)
    except Exception as exc:
        raise problem(422, [{"type": "value_error", "loc": ["body", "file"],
                             "msg": f"could not read the multipart body: {type(exc).__name__}"}]) from exc
    try:
        up = form.get("file")
        if not isinstance(up, UploadFile):
            raise problem(422, [{"type": "missing", "loc": ["body", "file"],
                                 "msg": "file is required as a multipart/form-data field named 'file'"}])
        name = up.filename or "upload.bin"
        token, path = files.reserve(name)
        size = 0
        with path.open("wb") as out:
            while chunk := await up.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    out.close()
                    path.unlink(missing_ok=True)
                    raise problem(413, f"File too large: at most {max_mb:g} MB")
                out.write(chunk)
        mime = up.content_type if up.content_type and up.content_type != "application/octet-stream" else None
        mime = mime or mimetypes.guess_type(name)[0] or "application/octet-stream"
        meta: dict[str, Any] = {}
        if mime.startswith("image/"):
            img = media.load_image(path)
            if img is not None:
                meta = {"width": img.width, "height": img.height}
        return files.register(token, path, mime, **meta)
    finally:
        await form.close()
