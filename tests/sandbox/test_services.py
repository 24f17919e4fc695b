"""Every service end to end over HTTP: create, poll to terminal, fetch and decode the media."""

from __future__ import annotations

import subprocess
from typing import Any

import httpx
import pytest
from PIL import Image

from phaya_notebook import catalog

from .helpers import FFMPEG, aspect, audio_samples, create, fetch, image_size, poll, ratio, video_facts

IMAGES = [
    ("text-to-image", {"prompt": "a red fox", "aspect_ratio": "16:9"}, 1024, "16:9", "PNG"),
    ("text-to-image", {"prompt": "a tall tower", "aspect_ratio": "9:16"}, 1024, "9:16", "PNG"),
    ("seedream", {"prompt": "wide valley", "aspect_ratio": "21:9", "quality": "high"}, 2048, "21:9", "PNG"),
    ("seedream", {"prompt": "portrait", "aspect_ratio": "2:3"}, 1024, "2:3", "PNG"),
    ("nano-banana", {"prompt": "a banana", "resolution": "2K", "aspect_ratio": "4:5", "output_format": "png"},
     2048, "4:5", "PNG"),
    ("nano-banana", {"prompt": "a banana", "aspect_ratio": "16:9"}, 1024, "16:9", "JPEG"),
]


@pytest.mark.parametrize(("service", "body", "long_side", "ar", "fmt"), IMAGES)
def test_images_have_the_requested_shape(http: httpx.Client, service: str, body: dict[str, Any],
                                         long_side: int, ar: str, fmt: str) -> None:
    ans = poll(http, service, create(http, service, body))
    assert catalog.normalize_status(ans["status"]) == "completed", ans
    data = fetch(ans["image_url"]).content
    size = image_size(data)
    assert max(size) == long_side
    assert abs(ratio(size) - aspect(ar)) < 0.01
    assert Image.open(__import__("io").BytesIO(data)).format == fmt
    if service == "nano-banana":
        assert ans["image_urls"] == [ans["image_url"]]


def test_images_differ_by_prompt_and_repeat_for_the_same_prompt(http: httpx.Client) -> None:
    def make(prompt: str) -> bytes:
        return fetch(poll(http, "text-to-image", create(http, "text-to-image", {"prompt": prompt}))["image_url"]).content

    a, b, a2 = make("a lighthouse at dawn"), make("a bowl of ramen"), make("a lighthouse at dawn")
    assert a != b
    assert a == a2


VIDEOS = [
    ("sora2-text-to-video", {"prompt": "a city at night", "aspect_ratio": "portrait"}, 10.0, "9:16"),
    ("sora2-text-to-video", {"prompt": "waves", "n_frames": "15"}, 15.0, "16:9"),
    ("seedance-video", {"prompt": "a dancer", "duration": "4", "aspect_ratio": "1:1"}, 4.0, "1:1"),
    ("veo31-video", {"prompt": "mountains", "aspect_ratio": "9:16"}, 8.0, "9:16"),
]


def assert_playable(facts: dict[str, Any], seconds: float, ar: str) -> None:
    assert facts["codec"] == "h264" and facts["pix_fmt"] == "yuv420p" and facts["faststart"], facts
    assert abs(facts["seconds"] - seconds) < 0.3, facts
    assert facts["frames"] >= seconds * 10, facts
    assert abs(ratio((facts["width"], facts["height"])) - aspect(ar)) < 0.02, facts
    assert facts["width"] % 2 == 0 and facts["height"] % 2 == 0


@pytest.mark.parametrize(("service", "body", "seconds", "ar"), VIDEOS)
def test_videos_play_for_the_requested_time(http: httpx.Client, tmp_path: Any, service: str,
                                            body: dict[str, Any], seconds: float, ar: str) -> None:
    ans = poll(http, service, create(http, service, body))
    assert catalog.normalize_status(ans["status"]) == "completed", ans
    r = fetch(ans["video_url"])
    assert r.headers["content-type"] == "video/mp4"
    assert_playable(video_facts(r.content, tmp_path), seconds, ar)
    if service == "veo31-video":
        assert ans["origin_url"] and ans["resolution"]


def first_frame_colours(data: bytes, tmp_path: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    src, png = tmp_path / "in.mp4", tmp_path / "first.png"
    src.write_bytes(data)
    subprocess.run([FFMPEG, "-loglevel", "error", "-y", "-i", str(src), "-frames:v", "1", str(png)], check=True)
    with Image.open(png) as im:
        im = im.convert("RGB")
        w, h = im.size
        return im.getpixel((w // 8, h // 2)), im.getpixel((w * 7 // 8, h // 2))


def test_image_to_video_animates_the_given_image(http: httpx.Client, tmp_path: Any, uploaded_image: str) -> None:
    ans = poll(http, "image-to-video", create(http, "image-to-video", {
        "image_url": uploaded_image, "duration": 3, "zoom": {"mode": "center", "speed": 0.01}}))
    data = fetch(ans["video_url"]).content
    assert_playable(video_facts(data, tmp_path), 3.0, "4:3")
    left, right = first_frame_colours(data, tmp_path)
    assert left[0] > 150 and left[2] < 90, left  # red half of the uploaded picture
    assert right[2] > 150 and right[0] < 90, right  # blue half


def test_sora_image_to_video_uses_the_image(http: httpx.Client, tmp_path: Any, uploaded_image: str) -> None:
    ans = poll(http, "sora2-video", create(http, "sora2-video", {
        "prompt": "move", "image_urls": [uploaded_image], "n_frames": "5", "aspect_ratio": "square"}))
    data = fetch(ans["video_url"]).content
    assert_playable(video_facts(data, tmp_path), 5.0, "1:1")
    left, right = first_frame_colours(data, tmp_path)
    assert left[0] > 150 and right[2] > 150


def test_seedance_with_audio_has_an_audio_track(http: httpx.Client, tmp_path: Any) -> None:
    ans = poll(http, "seedance-video", create(http, "seedance-video", {
        "prompt": "drums", "duration": "4", "generate_audio": True, "resolution": "480p"}))
    assert audio_samples(fetch(ans["audio_url"]).content) > 1000
    assert audio_samples(fetch(ans["video_url"]).content) > 1000


def test_kling_follows_the_motion_video_length_and_price(http: httpx.Client, tmp_path: Any, uploaded_image: str,
                                                         two_second_video: str) -> None:
    body = {"input_urls": [uploaded_image], "video_urls": [two_second_video], "mode": "1080p"}
    r = http.post("/kling-motion-control/create", json=body)
    assert r.status_code == 200
    assert r.json()["credits_used"] == pytest.approx(1.82 * 2)
    ans = poll(http, "kling", r.json()["job_id"])
    assert_playable(video_facts(fetch(ans["video_url"]).content, tmp_path), 2.0, "4:3")


def test_subtitles_burn_into_the_given_video(http: httpx.Client, tmp_path: Any, two_second_video: str) -> None:
    r = http.post("/thai-subtitle/generate", json={"media_url": two_second_video, "script": "สวัสดี hello"})
    assert r.json()["credits_used"] == catalog.subtitle_credits(2.0)
    ans = poll(http, "thai-subtitle", r.json()["job_id"])
    out = fetch(ans["video_url"]).content
    assert_playable(video_facts(out, tmp_path), 2.0, "4:3")
    assert out != fetch(two_second_video).content


@pytest.mark.parametrize(("body", "kind"), [({"url": "https://youtu.be/x"}, "video"),
                                            ({"url": "https://youtu.be/x", "format": "mp3"}, "audio")])
def test_downloads(http: httpx.Client, tmp_path: Any, body: dict[str, Any], kind: str) -> None:
    ans = poll(http, "video-download", create(http, "video-download", body))
    assert ans["credits_used"] == 0.5
    data = fetch(ans["download_url"]).content
    if kind == "video":
        assert video_facts(data, tmp_path)["frames"] > 10
    else:
        assert audio_samples(data) > 1000


def test_music_comes_as_two_different_tracks(http: httpx.Client) -> None:
    ans = poll(http, "text-to-music", create(http, "text-to-music", {"prompt": "lofi rain", "style": "chill"}))
    assert len(ans["audio_urls"]) == 2 and ans["audio_url"] == ans["audio_urls"][0]
    a, b = (fetch(u).content for u in ans["audio_urls"])
    assert a != b
    assert audio_samples(a) > 16000 and audio_samples(b) > 16000


def test_speech_decodes_and_voices_need_no_key(http: httpx.Client, busy_sandbox: Any) -> None:
    voices = httpx.get(busy_sandbox.base_url + "/text-to-speech/voices").json()["voices"]
    assert [v["name"] for v in voices] == [n for n, _ in catalog.VOICES]
    ans = poll(http, "text-to-speech", create(http, "text-to-speech", {"prompt": "Hello from the sandbox",
                                                                       "voice": "Kore", "slow": True}))
    assert audio_samples(fetch(ans["audio_url"]).content) > 4000


def test_character_ids_are_listed(http: httpx.Client, two_second_video: str) -> None:
    ans = poll(http, "sora2-character", create(http, "sora2-character", {"character_file_url": two_second_video}))
    cid = ans["character_id"]
    assert cid and not cid.startswith("http")
    listed = http.get("/sora2-character/list").json()["characters"]
    assert cid in [c["character_id"] for c in listed]


def test_merge_and_last_frame(http: httpx.Client, tmp_path: Any, two_second_video: str) -> None:
    merged = poll(http, "media/merge-video", create(http, "media/merge-video",
                                                    {"video_urls": [two_second_video, two_second_video]}))
    assert_playable(video_facts(fetch(merged["video_url"]).content, tmp_path), 4.0, "4:3")
    frame = poll(http, "media/extract-last-frame", create(http, "media/extract-last-frame",
                                                          {"video_url": two_second_video}))
    size = image_size(fetch(frame["image_url"]).content)
    assert abs(ratio(size) - 4 / 3) < 0.02
    assert http.get(f"/text-to-image/status/{merged['job_id']}").status_code == 404


def _first_frame(mp4: bytes, tmp_path: Any) -> list[int]:
    """The first frame in grey, shrunk to 8x8 (averaging away codec noise)."""
    src, png = tmp_path / "q.mp4", tmp_path / "q.png"
    src.write_bytes(mp4)
    subprocess.run([FFMPEG, "-y", "-loglevel", "error", "-i", str(src), "-frames:v", "1", str(png)], check=True)
    with Image.open(png) as im:
        return list(im.convert("L").resize((8, 8), Image.Resampling.BOX).tobytes())


def _quadrant_change(a: list[int], b: list[int]) -> list[float]:
    """Mean absolute change per quadrant: top left, top right, bottom left, bottom right."""
    out = []
    for rows, cols in ((range(4), range(4)), (range(4), range(4, 8)), (range(4, 8), range(4)),
                       (range(4, 8), range(4, 8))):
        out.append(sum(abs(a[r * 8 + c] - b[r * 8 + c]) for r in rows for c in cols) / 16)
    return out


def test_soundtrack_audio_join_overlay_and_transcript(http: httpx.Client, tmp_path: Any,
                                                     two_second_video: str) -> None:
    speech = poll(http, "text-to-speech", create(http, "text-to-speech", {"prompt": "one two three"}))["audio_url"]
    voiced = poll(http, "media/merge-audio-video", create(http, "media/merge-audio-video",
                                                          {"video_url": two_second_video, "audio_url": speech}))
    data = fetch(voiced["video_url"]).content
    assert_playable(video_facts(data, tmp_path), 2.0, "4:3")
    assert audio_samples(data) > 4000, "the soundtrack is in the video"
    said = poll(http, "media/transcribe", create(http, "media/transcribe", {"media_url": voiced["video_url"]}))
    assert said["text"] == "one two three" and said["language"] == "en" and said["duration"] > 1.5

    joined = poll(http, "media/merge-audio", create(http, "media/merge-audio", {"audio_urls": [speech, speech]}))
    one, two = audio_samples(fetch(speech).content), audio_samples(fetch(joined["audio_url"]).content)
    assert 1.6 * one < two < 2.4 * one
    assert poll(http, "media/transcribe", create(http, "media/transcribe", {"media_url": joined["audio_url"]}))[
        "text"] == "one two three one two three"

    plain_bytes = fetch(two_second_video).content
    plain = video_facts(plain_bytes, tmp_path)
    for position, hit, miss in (("top_left", 0, 3), ("bottom_right", 3, 0)):
        over = poll(http, "media/overlay-gif", create(http, "media/overlay-gif", {
            "video_url": two_second_video, "gif_url": "https://example.invalid/spin.gif", "position": position}))
        over_bytes = fetch(over["video_url"]).content
        facts = video_facts(over_bytes, tmp_path)
        assert_playable(facts, 2.0, "4:3")
        assert (facts["width"], facts["height"]) == (plain["width"], plain["height"])
        # the badge sits in its corner (quadrants 0..3: TL, TR, BL, BR) and nowhere else
        change = _quadrant_change(_first_frame(plain_bytes, tmp_path), _first_frame(over_bytes, tmp_path))
        assert change[hit] > 4 and change[miss] < 2, (position, change)
    bad = http.post("/media/overlay-gif", json={"video_url": two_second_video, "gif_url": "g", "position": "left"})
    assert bad.status_code == 422 and "bottom_right" in bad.text
    unknown = poll(http, "media/transcribe", create(http, "media/transcribe", {"media_url": "https://x.invalid/a.mp3"}))
    assert unknown["text"].startswith("[sandbox:")
    before = http.get("/media/queue/stats").json()
    stuck = create(http, "media/transcribe", {"media_url": "https://x.invalid/b.mp3 [stuck]"})
    assert http.get("/media/queue/stats").json()["processing"] == before["processing"] + 1
    assert http.get(f"/media/status/{stuck}").json()["status"] in ("pending", "processing")


def test_every_catalog_service_has_routes(busy_sandbox: Any) -> None:
    """Generic routing: every catalog entry answers at its own create path (401 without a key, not 404)."""
    with httpx.Client(base_url=busy_sandbox.base_url) as anon:
        for svc in list(catalog.SERVICES.values()) + list(catalog.MEDIA_JOBS.values()):
            assert anon.post(svc.create_path, json={}).status_code == 401, svc.name
            assert anon.get(svc.status_url("x")).status_code == 401, svc.name


def test_one_prompt_looks_different_per_model() -> None:
    """A compare grid must tell the image models apart, not show one picture three times."""
    from phaya_notebook.sandbox import media

    a = media.picture("a fox in the snow", (64, 64), model="z-image").tobytes()
    b = media.picture("a fox in the snow", (64, 64), model="seedream").tobytes()
    assert a != b
    assert media.picture("a fox in the snow", (64, 64), model="z-image").tobytes() == a
