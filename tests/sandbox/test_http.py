"""The contract's HTTP behaviour: 401, 404, 422, 413, 429, status cache and flow, URL expiry."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from phaya_notebook import catalog
from phaya_notebook.sandbox import start

from .helpers import admin, client, create, fetch, poll


def test_missing_or_wrong_key_is_401(busy_sandbox: Any) -> None:
    base = busy_sandbox.base_url
    assert httpx.get(base + "/user/credits").status_code == 401
    assert httpx.get(base + "/user/credits", headers={"Authorization": "Bearer nope"}).status_code == 401
    r = httpx.get(base + "/user/credits", headers={"Authorization": f"Basic {busy_sandbox.api_key}"})
    assert r.status_code == 401 and r.json()["detail"]


def test_unknown_job_is_404(http: httpx.Client) -> None:
    assert http.get("/text-to-image/status/not-a-job").status_code == 404
    job = create(http, "text-to-image", {"prompt": "right service only"})
    assert http.get(f"/seedream/status/{job}").status_code == 404
    assert http.get(f"/media/status/{job}").status_code == 404


@pytest.mark.parametrize("svc", list(catalog.SERVICES.values()) + list(catalog.MEDIA_JOBS.values()),
                         ids=lambda s: s.name)
def test_missing_required_field_is_422_naming_it(http: httpx.Client, svc: catalog.Service) -> None:
    before = http.get("/user/credits").json()["credits_balance"]
    r = http.post(svc.create_path, json={})
    assert r.status_code == 422
    detail = r.json()["detail"]
    required = [p.name for p in svc.params if p.required]
    assert {tuple(d["loc"]) for d in detail} == {("body", name) for name in required}
    for d in detail:
        assert d["msg"].startswith(d["loc"][1]) and "allowed" in d["msg"]
    assert http.get("/user/credits").json()["credits_balance"] == before


@pytest.mark.parametrize(("path", "body", "field", "allowed"), [
    ("/text-to-image/generate", {"prompt": "x", "aspect_ratio": "2:1"}, ["aspect_ratio"], "16:9"),
    ("/sora2-text-to-video/create", {"prompt": "x", "n_frames": "20"}, ["n_frames"], "'15'"),
    ("/image-to-video/create", {"image_url": "u", "zoom": {"mode": "spin"}}, ["zoom", "mode"], "pan_left"),
    ("/veo31-video/create", {"prompt": "x", "seeds": 5}, ["seeds"], "10000"),
    ("/text-to-speech/generate", {"prompt": "x", "voice": "Bob"}, ["voice"], "Zephyr"),
    ("/text-to-image/generate", {"prompt": "x" * 1001}, ["prompt"], "1000"),
    ("/text-to-image/generate", {"prompt": "x", "colour": "red"}, ["colour"], "aspect_ratio"),
    ("/kling-motion-control/create", {"input_urls": ["a", "b"], "video_urls": ["v"]}, ["input_urls"], "1 to 1"),
    ("/veo31-video/create", {"prompt": "x", "image_urls": 1}, ["image_urls"], "0 to 3"),  # found by the fuzzer
])
def test_bad_values_are_422_with_the_allowed_values(http: httpx.Client, path: str, body: dict[str, Any],
                                                    field: list[str], allowed: str) -> None:
    r = http.post(path, json=body)
    assert r.status_code == 422
    (d,) = r.json()["detail"]
    assert d["loc"] == ["body", *field] and allowed in d["msg"]


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'"text"', b"", b"\xff\xfe"])
def test_non_object_bodies_are_422(http: httpx.Client, content: bytes) -> None:
    r = http.post("/text-to-image/generate", content=content, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][0] == "body"


def test_uploads_return_urls_and_413_above_the_limit() -> None:
    with start(speed=60.0, max_upload_mb=0.01, time_scale=10.0) as sb, client(sb) as c:
        ok = c.post("/media/upload", files={"file": ("a.txt", b"hello", "text/plain")})
        assert ok.status_code == 200 and fetch(ok.json()["url"]).content == b"hello"
        big = c.post("/media/upload", files={"file": ("b.bin", b"0" * 20_000, "application/octet-stream")})
        assert big.status_code == 413 and "MB" in big.json()["detail"]
        assert c.post("/media/upload", data={"other": "x"}).status_code == 422
        assert c.post("/media/upload", json={"file": "x"}).status_code == 422


def test_default_upload_limit_rejects_a_declared_200_mb_body(busy_sandbox: Any) -> None:
    """The 100 MB default, checked from Content-Length before any byte of the body is read."""
    u = urlsplit(busy_sandbox.base_url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall((f"POST /api/v1/media/upload HTTP/1.1\r\nHost: {u.netloc}\r\n"
                   f"Authorization: Bearer {busy_sandbox.api_key}\r\n"
                   "Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 200000000\r\n\r\n").encode())
        head = s.recv(4096).decode(errors="replace")
    assert head.startswith("HTTP/1.1 413"), head[:200]


def test_rate_limit_is_60_per_window_per_key_with_retry_after() -> None:
    # time_scale=10: the one-minute window lasts six seconds.
    with start(speed=60.0, api_keys=["a", "b"], time_scale=10.0) as sb, client(sb, "a") as a, client(sb, "b") as b:
        codes = [a.get("/user/credits").status_code for _ in range(60)]
        assert codes == [200] * 60
        r = a.get("/user/credits")
        assert r.status_code == 429 and r.json()["detail"] == "Rate limit exceeded"
        assert 1 <= int(r.headers["Retry-After"]) <= 6
        assert a.get("/text-to-image/status/x").status_code == 429  # every authed path counts
        assert b.get("/user/credits").status_code == 200
        assert httpx.get(sb.base_url + "/text-to-speech/voices").status_code == 200
        with admin(sb) as adm:  # the limiter's answers are counted apart (clients' 429s, server side)
            limited = adm.get("/_sandbox/stats").json()["rate_limited"]
        assert limited == {"total": 2, "by_key": {sb.key_id("a"): 2}}


def test_rate_limit_recovers_after_retry_after() -> None:
    with start(speed=60.0, time_scale=60.0, rate_limit=3) as sb, client(sb) as c:
        assert [c.get("/user/credits").status_code for _ in range(4)] == [200, 200, 200, 429]
        wait = int(c.get("/user/credits").headers["Retry-After"])
        assert wait == 1
        time.sleep(wait + 0.05)
        assert c.get("/user/credits").status_code == 200


def test_pending_status_is_cached_then_moves_on() -> None:
    # time_scale=5: the 5 s status cache lasts 1 s; the job itself takes a few milliseconds.
    with start(speed=600.0, time_scale=5.0) as sb, client(sb) as c:
        job = create(c, "text-to-image", {"prompt": "cache me"})
        first = c.get(f"/text-to-image/status/{job}").json()
        time.sleep(0.3)
        second = c.get(f"/text-to-image/status/{job}").json()
        assert not catalog.is_terminal(first["status"]) and second == first
        time.sleep(0.8)
        assert c.get(f"/text-to-image/status/{job}").json()["status"] == "COMPLETED"


def test_statuses_walk_the_service_flow_in_order() -> None:
    with start(speed=60.0, status_cache_seconds=0.0, rate_limit=10000) as sb, client(sb) as c:
        job = create(c, "text-to-music", {"prompt": "slow song"})  # 90 s / 60 = about 1.5 s
        seen: list[str] = []
        while not catalog.is_terminal(seen[-1] if seen else None):
            s = c.get(f"/text-to-music/status/{job}").json()["status"]
            if not seen or seen[-1] != s:
                seen.append(s)
            time.sleep(0.03)
        assert seen == ["PENDING", "QUEUED", "PROCESSING", "COMPLETED"]


def test_media_urls_expire_with_410() -> None:
    with start(speed=60.0, url_ttl=1.5, time_scale=50.0) as sb, client(sb) as c:
        url = poll(c, "text-to-image", create(c, "text-to-image", {"prompt": "brief"}), every=0.02)["image_url"]
        assert httpx.get(url).status_code == 200
        time.sleep(1.6)
        assert httpx.get(url).status_code == 410
        assert httpx.get(url.rsplit("/", 2)[0] + "/nope/x.png").status_code == 404


def test_stuck_jobs_stay_processing_and_slow_ones_answer_slowly(http: httpx.Client) -> None:
    stuck = create(http, "sora2-text-to-video", {"prompt": "[stuck]"})
    slow = create(http, "text-to-image", {"prompt": "[slow]"})
    time.sleep(0.6)
    assert http.get(f"/sora2-text-to-video/status/{stuck}").json()["status"] == "processing"
    t = time.monotonic()
    assert http.get(f"/text-to-image/status/{slow}").json()["status"] == "COMPLETED"
    assert time.monotonic() - t >= 1.9


def test_admin_faults_and_stats(fresh_sandbox: Any) -> None:
    sb = fresh_sandbox
    with client(sb) as c, admin(sb) as adm:
        assert httpx.post(adm.base_url.join("/_sandbox/faults"), json={"kind": "500"}).status_code == 403
        bad = adm.post("/_sandbox/faults", json={"kind": "teapot"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "kind"]
        adm.post("/_sandbox/reset-stats")
        for kind, count in (("500", 1), ("503", 1), ("malformed", 1), ("drop", 1), ("429", 2)):
            assert adm.post("/_sandbox/faults", json={"kind": kind, "count": count, "paths": "/user/"}).status_code == 200
        assert c.get("/text-to-speech/voices").status_code == 200  # path filter: not matched
        assert c.get("/user/credits").status_code == 500
        r = c.get("/user/credits")
        assert r.status_code == 503 and r.headers.get("Retry-After")
        r = c.get("/user/credits")
        assert r.status_code == 200
        with pytest.raises(ValueError):
            r.json()
        with pytest.raises(httpx.TransportError):
            c.get("/user/credits")
        assert [c.get("/user/profile").status_code for _ in range(3)] == [429, 429, 200]
        adm.post("/_sandbox/faults", json={"kind": "slow", "seconds": 0.5})
        t = time.monotonic()
        assert c.get("/user/credits").status_code == 200
        assert time.monotonic() - t >= 0.45
        stats = adm.get("/_sandbox/stats").json()
        mine = stats["by_key"][sb.key_id(sb.api_key)]
        assert mine["paths"]["/api/v1/user/credits"] == 5 and mine["paths"]["/api/v1/user/profile"] == 3
        assert mine["total"] == 9 and sb.api_key not in str(stats)
        assert adm.get("/_sandbox/faults").json()["pending"] == []
