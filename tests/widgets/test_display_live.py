"""display.render on real Results from the sandbox: every media kind, from the cache only."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from phaya_notebook.display import bundle_size, render


def sources(html: str, tag: str) -> list[str]:
    return re.findall(rf'<{tag}[^>]*>(.*?)</{tag}>', html, flags=re.S)


async def test_every_media_kind_renders_from_the_local_cache(aio: Any) -> None:
    img = await aio.generate("text-to-image", prompt="a kite")
    runs = {
        "music": aio.generate("text-to-music", prompt="a song"),
        "speech": aio.generate("text-to-speech", prompt="hello there"),
        "video": aio.generate("image-to-video", image_url=img.url),
        "character": aio.generate("sora2-character", character_file_url=img.url),
        "download": aio.generate("video-download", url="https://youtube.com/watch?v=1", format="mp3"),
        "seedance": aio.generate("seedance-video", prompt="a wave", generate_audio=True, confirm=True),
    }
    done = await asyncio.gather(*runs.values())
    results = {"image": img, **dict(zip(runs, done, strict=True))}
    html = {k: render(r).data["text/html"] for k, r in results.items()}
    for k, h in html.items():
        assert "127.0.0.1" not in h, k  # nothing points at the provider: it may be gone
        assert bundle_size(render(results[k])) < 2_000_000

    assert re.search(r'<a href="phaya-media/[^"]+"[^>]*><img src="data:image/', html["image"])
    tracks = sources(html["music"], "audio")
    assert len(tracks) == 2 and all('src="phaya-media/' in t and "data:audio/mpeg" in t for t in tracks)
    assert len(sources(html["speech"], "audio")) == 1 and "audio/wav" in html["speech"]
    (video,) = sources(html["video"], "video")
    assert 'src="phaya-media/' in video and "data:video/mp4;base64," in video
    cid = results["character"].character_id
    assert cid and f"<code>{cid}</code>" in html["character"]
    assert f"character_id: {cid}" in render(results["character"]).data["text/plain"]
    assert len(sources(html["download"], "audio")) == 1
    assert len(sources(html["seedance"], "video")) == 1 and len(sources(html["seedance"], "audio")) == 1
    # the Result's own repr goes through display
    data, _ = results["image"]._repr_mimebundle_()
    assert data["text/html"] == html["image"]
