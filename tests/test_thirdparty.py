"""Third-party clients, written against the contract as outside developers would, run unchanged
against the sandbox over real HTTP: a stdlib-only Python CLI (Sora + image-to-video, waiting on
``status.upper()``), a TypeScript embedding check (two inputs -> two 4096-d vectors), a Node
client that requires ``success: true``, and a bash + curl + jq GPT Image 2 image-to-image script
(reads ``image_url`` and ``processing_time_ms``). Each is its own process; nothing of this
package is imported by them.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from .sandboxes import running_sandbox

HERE = Path(__file__).parent / "thirdparty"


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    with running_sandbox(speed=60.0, time_scale=10.0, credits=1000.0) as sandbox:
        yield sandbox


def env_for(sb: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHAYA_")}
    env.update(PHAYA_BASE=sb.base_url, PHAYA_API_KEY=sb.api_key, **extra)
    return env


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing (.ci/run installs it)")
        pytest.skip(f"{tool} is not installed")
    return path


def uploaded_image(sb: Any) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 80, 40)).save(buf, "PNG")
    r = httpx.post(sb.base_url + "/media/upload", headers={"Authorization": f"Bearer {sb.api_key}"},
                   files={"file": ("in.png", buf.getvalue(), "image/png")})
    r.raise_for_status()
    return str(r.json()["url"])


def run(cmd: list[str], sb: Any, cwd: Path, timeout: float = 120.0, **env: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, cwd=cwd, env=env_for(sb, **env), capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{cmd[:2]} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
    assert sb.api_key not in out.stdout + out.stderr
    return out


def test_stdlib_python_cli_sora_and_image_to_video(sb: Any, tmp_path: Path) -> None:
    cli = [sys.executable, "-I", str(HERE / "sora_cli.py"), "--poll", "0.3", "--timeout", "60"]
    sora = run([*cli, "sora", "a cat surfing at dawn"], sb, tmp_path)
    first, last = sora.stdout.strip().splitlines()[0], json.loads(sora.stdout.strip().splitlines()[-1])
    assert first.startswith("created ") and "processing" in first and "8.0 credits" in first
    assert last["status"] == "completed" and last["video_url"].endswith(".mp4")
    kb = run([*cli, "image-to-video", uploaded_image(sb), "--duration", "2"], sb, tmp_path)
    done = json.loads(kb.stdout.strip().splitlines()[-1])
    assert done["status"] == "completed" and httpx.get(done["video_url"]).content[4:8] == b"ftyp"


def test_typescript_embedding_check(sb: Any, tmp_path: Path) -> None:
    node = need("node")
    tsc = HERE / "node_modules" / ".bin" / "tsc"
    if not tsc.exists():
        if os.environ.get("CI"):
            pytest.fail("typescript is missing: .ci/run runs npm install in tests/thirdparty")
        pytest.skip("typescript not installed (npm install in tests/thirdparty)")
    out_dir = tmp_path / "build"
    run([str(tsc), "-p", str(HERE), "--outDir", str(out_dir)], sb, HERE)  # type-checks, then emits JS
    res = json.loads(run([node, str(out_dir / "embed_check.js")], sb, tmp_path).stdout)
    assert res["vectors"] == 2 and res["dims"] == 4096 and res["model"] == "Phaya Text Embedding"
    assert 0.5 < res["similarity"] < 1.0 and res["credits"] > 0


def test_node_client_requires_success_true(sb: Any, tmp_path: Path) -> None:
    node = need("node")
    res = json.loads(run([node, str(HERE / "node_client.mjs"), "what is a haiku?"], sb, tmp_path).stdout)
    assert res["email"].endswith("@sandbox.phaya.local") and res["dims"] == 4096
    assert "haiku" in res["reply"] and res["chat_credits"] > 0 and res["embedding_credits"] > 0


def test_bash_curl_jq_gpt_image_2_image_to_image(sb: Any, tmp_path: Path) -> None:
    for tool in ("bash", "curl", "jq"):
        need(tool)
    out = run(["bash", str(HERE / "gpt_image.sh"), "the same scene at night", uploaded_image(sb),
               str(tmp_path / "out.png")], sb, tmp_path, PHAYA_POLL_SECONDS="0.3")
    lines = dict(line.split("=", 1) for line in out.stdout.strip().splitlines())
    assert lines["image_url"].startswith(sb.root_url + "/files/")
    assert int(lines["processing_time_ms"]) >= 0
    with Image.open(tmp_path / "out.png") as img:
        assert img.format == "PNG" and img.size == (2048, 1152)
