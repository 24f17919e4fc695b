"""display.render: inline media from the local cache, small notebooks, escaped text."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from phaya_notebook import display
from phaya_notebook.display import DATA_URI_MAX_BYTES, PREVIEW_MAX_B64, bundle_size, render


def _noise_png(path: Path, side: int = 1024, seed: int = 0) -> Path:
    """A worst case for compression: random pixels, several MB as PNG."""
    import random

    rnd = random.Random(seed)
    im = Image.frombytes("RGB", (side, side), rnd.randbytes(side * side * 3))
    im.save(path)
    return path


def _result(media: str, paths: list[Path], mimes: list[str], **kw) -> SimpleNamespace:
    base = dict(job_id="job-1", service="text-to-image", media=media,
                urls=[f"http://127.0.0.1:1/files/t/{p.name}" for p in paths], paths=paths,
                fields={}, credits=1.0, character_id=None, mime_types=mimes)
    base.update(kw)
    return SimpleNamespace(**base)


@pytest.fixture()
def nb_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The notebook's working directory, with the cache below it as in a real session."""
    monkeypatch.chdir(tmp_path)
    media = tmp_path / "phaya-media"
    media.mkdir(parents=True)
    return media


def test_image_preview_is_capped_and_links_full_file(nb_dir: Path) -> None:
    big = _noise_png(nb_dir / "abc.png")
    assert big.stat().st_size > 2_000_000
    data, _ = render(_result("image", [big], ["image/png"]))._repr_mimebundle_()
    html = data["text/html"]
    assert 'href="phaya-media/abc.png"' in html
    m = re.search(r'src="data:image/(jpeg|png);base64,([A-Za-z0-9+/=]+)"', html)
    assert m, html[:300]
    assert len(m.group(2)) <= PREVIEW_MAX_B64
    thumb = Image.open(__import__("io").BytesIO(base64.b64decode(m.group(2))))
    assert max(thumb.size) <= display.PREVIEW_MAX_SIDE
    assert "1 credit ·" in html and "1 credits" not in html and "job job-1" in html
    assert "phaya-media/abc.png" in data["text/plain"]


def test_fifty_images_stay_under_5_mb(nb_dir: Path) -> None:
    paths = [_noise_png(nb_dir / f"img{i}.png", side=600, seed=i) for i in range(50)]
    total = sum(bundle_size(render(_result("image", [p], ["image/png"], job_id=f"j{i}")))
                for i, p in enumerate(paths))
    print(f"50 image results: {total / 1e6:.2f} MB of mimebundles")
    assert total < 5_000_000
    assert sum(p.stat().st_size for p in paths) > 50_000_000  # the originals would not fit


def test_video_player_uses_relative_path_and_small_data_fallback(nb_dir: Path) -> None:
    small = nb_dir / "clip.mp4"
    small.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"x" * 5000)
    html = render(_result("video", [small], ["video/mp4"], service="image-to-video")).data["text/html"]
    assert "<video controls" in html
    srcs = re.findall(r'<source src="([^"]+)" type="video/mp4"', html)
    assert srcs[0] == "phaya-media/clip.mp4"
    assert srcs[1].startswith("data:video/mp4;base64,")

    big = nb_dir / "big.mp4"
    big.write_bytes(b"\x00" * (DATA_URI_MAX_BYTES + 1))
    data = render(_result("video", [big], ["video/mp4"]))
    srcs = re.findall(r'<source src="([^"]+)"', data.data["text/html"])
    assert srcs == ["phaya-media/big.mp4"]
    assert bundle_size(data) < 5000


def test_music_has_two_players_and_speech_one(nb_dir: Path) -> None:
    a, b = nb_dir / "t1.mp3", nb_dir / "t2.mp3"
    a.write_bytes(b"ID3" + b"a" * 100)
    b.write_bytes(b"ID3" + b"b" * 100)
    html = render(_result("audio", [a, b], ["audio/mpeg", "audio/mpeg"], service="text-to-music")).data["text/html"]
    assert html.count("<audio controls") == 2
    assert "track 1" in html and "track 2" in html
    w = nb_dir / "s.wav"
    w.write_bytes(b"RIFF" + b"\x00" * 100)
    html = render(_result("speech", [w], ["audio/wav"], service="text-to-speech")).data["text/html"]
    assert html.count("<audio controls") == 1 and "phaya-media/s.wav" in html


def test_character_id_is_text_and_escaped() -> None:
    r = SimpleNamespace(job_id="j", service="sora2-character", media="character", urls=[], paths=[],
                        fields={"character_id": "x"}, credits=0.5, character_id="ch_<b>1</b>", mime_types=[])
    data, _ = render(r)._repr_mimebundle_()
    assert "ch_&lt;b&gt;1&lt;/b&gt;" in data["text/html"]
    assert "<b>" not in data["text/html"]
    assert "character_id: ch_<b>1</b>" in data["text/plain"]


def test_a_transcript_is_escaped_text() -> None:
    r = SimpleNamespace(job_id="j", service="media/transcribe", media="text", urls=[], paths=[],
                        fields={"text": "x"}, credits=0.0, character_id=None, mime_types=[],
                        text="say <script>alert(1)</script>\nline two")
    data, _ = render(r)._repr_mimebundle_()
    assert "say &lt;script&gt;alert(1)&lt;/script&gt;" in data["text/html"] and "<script>" not in data["text/html"]
    assert "white-space:pre-wrap" in data["text/html"]
    assert "say <script>alert(1)</script>\nline two" in data["text/plain"]


def test_file_outside_notebook_dir_is_embedded_not_linked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = tmp_path / "nb"
    nb.mkdir()
    monkeypatch.chdir(nb)
    clip = tmp_path / "c.mp4"
    clip.write_bytes(b"x" * 100)
    html = render(_result("video", [clip], ["video/mp4"])).data["text/html"]
    srcs = re.findall(r'<source src="([^"]+)"', html)
    assert len(srcs) == 1 and srcs[0].startswith("data:video/mp4")


def test_chat_reply_is_escaped_markdown() -> None:
    reply = SimpleNamespace(text="**hi** <script>alert(1)</script>", model="phaya-gpt",
                            usage={"total_tokens": 12}, credits=0.001, finish_reason="stop")
    data, _ = render(reply)._repr_mimebundle_()
    assert "**hi**" in data["text/markdown"] and "<script>" not in data["text/markdown"]
    assert "<strong>hi</strong>" in data["text/html"] and "<script>" not in data["text/html"]
    assert "12 tokens" in data["text/html"] and "0.001 credits" in data["text/html"]


def test_include_exclude_and_missing_file(nb_dir: Path) -> None:
    r = _result("image", [nb_dir / "gone.png"], ["image/png"])
    data, _ = render(r)._repr_mimebundle_(include={"text/plain"})
    assert set(data) == {"text/plain"}
    html = render(r).data["text/html"]
    assert 'src="http://127.0.0.1:1/files/t/gone.png"' in html  # falls back to the URL


def test_a_result_shown_by_its_progress_line_renders_as_one_line_in_that_cell_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """mark_shown keeps its bookkeeping in display (by weak reference), never on the result."""
    import gc

    from phaya_notebook.core.jobs import Result

    cell = [7]
    monkeypatch.setattr(display, "_execution_count", lambda: cell[0])
    result = Result("job-9", "text-to-image", "image", [], [], {}, credits=1.0)
    display.mark_shown(result)
    assert "(shown above)" in render(result).data["text/plain"] and "text/html" not in render(result).data
    assert vars(result) == vars(Result("job-9", "text-to-image", "image", [], [], {}, credits=1.0))
    cell[0] = 8  # the next cell shows it in full
    assert "text/html" in render(result).data
    other = Result("job-9", "text-to-image", "image", [], [], {}, credits=1.0)  # equal, not the same
    cell[0] = 7
    assert "text/html" in render(other).data
    key = id(result)
    assert key in display._shown_in
    del result
    gc.collect()
    assert key not in display._shown_in  # forgotten with the result
