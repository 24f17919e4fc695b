#!/usr/bin/env python3
"""phaya-jobs: a tiny command-line client for Phaya video jobs (standard library only).

Written from the public API docs, the way an outside developer would: create a job, then
poll its status until it is COMPLETED or FAILED (compared upper-cased, as the docs show
both casings), and print the video URL.

    PHAYA_BASE=https://host/api/v1 PHAYA_API_KEY=... python3 sora_cli.py sora "a cat surfing"
    python3 sora_cli.py image-to-video https://example.com/cat.jpg --duration 4
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request


def call(method, path, body=None):
    base = os.environ["PHAYA_BASE"].rstrip("/")
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + os.environ["PHAYA_API_KEY"],
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as err:
        sys.exit(f"error {err.code}: {err.read().decode(errors='replace')}")


def wait(service, job_id, poll, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        data = call("GET", f"/{service}/status/{job_id}")
        status = str(data.get("status", "")).upper()
        if status == "COMPLETED":
            return data
        if status in ("FAILED", "CANCELLED"):
            sys.exit(f"job {job_id} {status}: {data.get('error')}")
        time.sleep(poll)
    sys.exit(f"job {job_id} still running after {timeout} s")


def main():
    ap = argparse.ArgumentParser(prog="phaya-jobs")
    ap.add_argument("--poll", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=600.0)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sora")
    s.add_argument("prompt")
    s.add_argument("--portrait", action="store_true")
    i = sub.add_parser("image-to-video")
    i.add_argument("image_url")
    i.add_argument("--duration", type=int, default=5)
    args = ap.parse_args()

    if args.cmd == "sora":
        service = "sora2-text-to-video"
        body = {"prompt": args.prompt, "aspect_ratio": "portrait" if args.portrait else "landscape",
                "n_frames": "10"}
    else:
        service = "image-to-video"
        body = {"image_url": args.image_url, "duration": args.duration}
    created = call("POST", f"/{service}/create", body)
    job_id = created["job_id"]
    print(f"created {job_id} ({created.get('status')}, {created.get('credits_used')} credits)", flush=True)
    done = wait(service, job_id, args.poll, args.timeout)
    print(json.dumps({"job_id": job_id, "status": done["status"], "video_url": done["video_url"]}))


if __name__ == "__main__":
    main()
