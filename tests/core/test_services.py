"""Every service end to end through the client, against the sandbox over real HTTP."""

from __future__ import annotations

import asyncio
import io
import mimetypes
from typing import Any

import pytest
from PIL import Image

from phaya_notebook import catalog
from phaya_notebook.core.jobs import JobEvent, Result

MEDIA_MIME = {"image": "image/", "video": "video/", "audio": "audio/", "speech": "audio/"}


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 90)).save(buf, "PNG")
    return buf.getvalue()


def check_result(res: Result, service: str) -> None:
    svc = catalog.resolve_service(service)
    assert res.service == svc.name and res.job_id
    if svc.media == "character":
        assert res.character_id and res.text == res.character_id and not res.urls
        return
    if svc.media == "text":
        assert res.text and not res.urls and not res.paths
        return
    assert res.urls and len(res.paths) == len(res.urls), (service, res.download_errors)
    for path in res.paths:
        assert path.exists() and path.stat().st_size > 100
    if svc.media in MEDIA_MIME:
        assert res.mime_type and res.mime_type.startswith(MEDIA_MIME[svc.media]), (service, res.mime_types)
    assert res.read_bytes() == res.paths[0].read_bytes()


async def test_every_service_end_to_end(make_client: Any) -> None:
    c = make_client()
    events: list[JobEvent] = []
    c.add_listener(events.append)
    balance0 = await c.credits()
    image_url = await c.upload(png_bytes(), "still.png")
    assert image_url.startswith("http")

    wave1 = {
        "text-to-image": {"prompt": "a red fox", "aspect_ratio": "16:9"},
        "seedream": {"prompt": "a lighthouse", "quality": "high"},
        "nano-banana": {"prompt": "a banana", "resolution": "2K", "image_input": [image_url]},
        "image-to-video": {"image_url": image_url, "duration": 2, "zoom": {"mode": "pan_left"}},
        "sora2-text-to-video": {"prompt": "waves", "n_frames": 10},
        "sora2-video": {"prompt": "move", "image_urls": [image_url], "n_frames": "5"},
        "seedance-video": {"prompt": "a dancer", "resolution": "480p", "duration": "4", "generate_audio": True},
        "veo31-video": {"prompt": "a city at night"},
        "text-to-music": {"prompt": "lofi beat", "instrumental": True},
        "text-to-speech": {"prompt": "Hello there", "voice": "Kore"},
        "video-download": {"url": "https://www.youtube.com/watch?v=abc", "format": "mp3"},
    }
    jobs = {name: await c.submit(name, confirm=True, **params) for name, params in wave1.items()}
    results = dict(zip(jobs, await asyncio.gather(*(j.wait() for j in jobs.values())), strict=True))
    for name, res in results.items():
        check_result(res, name)
    assert len(results["text-to-music"].paths) == 2  # both tracks
    assert results["seedance-video"].urls[1:]  # the audio track too

    video_url = results["image-to-video"].url
    assert video_url
    wave2 = {
        "kling-motion-control": {"input_urls": [image_url], "video_urls": [video_url],
                                 "character_orientation": "image"},
        "thai-subtitle": {"media_url": video_url, "script": "สวัสดี"},
        "sora2-character": {"character_file_url": video_url, "character_prompt": "a hero"},
        "media/merge-video": {"video_urls": [video_url, video_url]},
        "media/extract-last-frame": {"video_url": video_url},
        "media/merge-audio-video": {"video_url": video_url, "audio_url": results["text-to-speech"].url},
        "media/merge-audio": {"audio_urls": results["text-to-music"].urls},
        "media/overlay-gif": {"video_url": video_url, "gif_url": image_url, "position": "center"},
        "media/transcribe": {"media_url": results["text-to-speech"].url},
    }
    jobs2 = {name: await c.submit(name, confirm=True, **params) for name, params in wave2.items()}
    results2 = dict(zip(jobs2, await asyncio.gather(*(j.wait() for j in jobs2.values())), strict=True))
    for name, res in results2.items():
        check_result(res, name)
    assert any(ch["character_id"] == results2["sora2-character"].character_id for ch in await c.characters())
    assert results2["media/transcribe"].text == "Hello there"  # the sandbox knows the speech it made
    assert set(await c.media_queue_stats()) >= {"queued", "processing"}

    all_jobs = list(jobs.values()) + list(jobs2.values())
    assert all(j.status == "completed" and j.progress == 1.0 and j.finished_at for j in all_jobs)
    charged = sum(j.charged or 0.0 for j in all_jobs)
    assert await c.credits() == pytest.approx(balance0 - charged, abs=1e-6)
    history = await c.credits_history(limit=200)
    for j in all_jobs:
        charges = [t for t in history if t.get("job_id") == j.id and t["kind"] == "charge"]
        assert sum(-t["amount"] for t in charges) == pytest.approx(j.charged or 0.0), j
        assert len(charges) <= (2 if j.service.name == "video-download" else 1)
    kinds = {(e.kind, e.job.id) for e in events}
    for j in all_jobs:
        assert ("created", j.id) in kinds and ("completed", j.id) in kinds
    assert c.stats["rate_limited"] == 0
    await c.aclose()


async def test_account_lists_chat_and_embeddings(make_client: Any) -> None:
    c = make_client()
    prof = await c.profile()
    assert "credits_balance" in prof and "user_id" in prof
    voices = await c.voices()
    assert {v["name"] for v in voices} == {n for n, _ in catalog.VOICES}
    assert {m["id"] for m in await c.models()} == set(catalog.CHAT_MODELS)
    assert {p["model"] for p in await c.pricing()} == set(catalog.CHAT_MODELS)
    assert "youtube" in await c.supported_platforms()
    hist = await c.history("text-to-image", limit=5)
    assert isinstance(hist, list)

    reply = await c.chat("Say hello", temperature=0.2)
    assert reply.text and reply.usage.get("total_tokens", 0) > 0 and reply.credits > 0
    chunks = [ch async for ch in c.chat_stream([{"role": "user", "content": "Tell me a story"}])]
    assert chunks[-1].done and chunks[-1].usage and "".join(ch.text for ch in chunks).strip()
    emb = await c.embed(["one", "two"])
    assert len(emb) == 2 and len(emb[0]) > 8 and emb.credits >= 0
    await c.aclose()


async def test_upload_a_file_path(make_client: Any, tmp_path: Any) -> None:
    c = make_client()
    p = tmp_path / "pic.png"
    p.write_bytes(png_bytes())
    url = await c.upload(p)
    assert url.endswith(".png") or "pic" in url
    assert mimetypes.guess_type(url)[0] in ("image/png", None)
    with pytest.raises(ValueError, match="is not a file"):
        await c.upload(tmp_path / "missing.png")
    await c.aclose()
