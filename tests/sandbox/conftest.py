"""Fixtures for the sandbox tests: hosted inputs made once per session."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from .helpers import client, create, poll


def png_bytes(size: tuple[int, int] = (400, 300)) -> bytes:
    """Left half red, right half blue: easy to recognise in a video frame."""
    img = Image.new("RGB", size, (220, 20, 20))
    img.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="session")
def busy_sandbox() -> Any:
    """Like ``sandbox`` but with no practical rate limit: these tests poll hard on purpose."""
    from phaya_notebook.sandbox import start

    with start(speed=60.0, credits=100000.0, time_scale=10.0, rate_limit=100000) as sb:
        yield sb


@pytest.fixture(scope="session")
def http(busy_sandbox: Any) -> Any:
    sandbox = busy_sandbox
    with client(sandbox) as c:
        yield c


@pytest.fixture(scope="session")
def uploaded_image(busy_sandbox: Any) -> str:
    with client(busy_sandbox) as c:
        r = c.post("/media/upload", files={"file": ("still.png", png_bytes(), "image/png")})
        assert r.status_code == 200, r.text
        return str(r.json()["url"])


@pytest.fixture(scope="session")
def two_second_video(busy_sandbox: Any, uploaded_image: str) -> str:
    """A 2 s hosted MP4 (Ken Burns of the uploaded image)."""
    with client(busy_sandbox) as c:
        job = create(c, "image-to-video", {"image_url": uploaded_image, "duration": 2})
        url = poll(c, "image-to-video", job)["video_url"]
        assert httpx.get(url).status_code == 200
        return str(url)
