"""Sandbox media drawing: Thai prompts and subtitles come out as Thai letters, not boxes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from phaya_notebook.sandbox import media

THAI_FONT = any(Path(p).exists() for p in media._THAI_FONT_FILES)


def _captioned(text: str) -> bytes:
    img = Image.new("RGB", (480, 270), (40, 90, 140))
    media.caption(img, text, "bottom")
    return img.tobytes()


def test_thai_is_detected() -> None:
    assert media.has_thai("แมวส้ม on a roof") and not media.has_thai("an orange cat, café")


@pytest.mark.skipif(not THAI_FONT and not os.environ.get("CI"),
                    reason="no Thai font here (apt install fonts-thai-tlwg); CI installs one")
def test_thai_captions_show_distinct_glyphs() -> None:
    # Without a Thai font every Thai letter is the same empty box, so two different
    # words of the same length draw the same picture.
    assert _captioned("สวัสดีครับ") != _captioned("กกกกกกกกกก")
    assert _captioned("ภาษาไทย and English") != _captioned("ภาษาไทย and Englisj")
    # Latin-only text keeps the Latin font.
    assert "tlwg" not in str(getattr(media.font(20), "path", ""))
    assert str(getattr(media.font(20, True), "path", "")) in media._THAI_FONT_FILES
