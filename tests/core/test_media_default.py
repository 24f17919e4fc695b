"""Where results are cached by default: beside the notebook, in a folder Jupyter will serve."""

from __future__ import annotations

from pathlib import Path

import pytest

from phaya_notebook.core import media


def test_default_cache_is_relative_and_not_hidden() -> None:
    path = media.default_cache_dir()
    assert not path.is_absolute()
    assert not any(part.startswith(".") for part in path.parts), path


def test_env_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PHAYA_CACHE_DIR", str(tmp_path))
    assert media.default_cache_dir() == tmp_path
