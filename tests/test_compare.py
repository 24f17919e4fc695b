"""Compare runs on a 3 x 3 grid against the sandbox over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from phaya_notebook.compare import Comparison, plan
from phaya_notebook.core.errors import BudgetExceeded, ConfirmationRequired, InvalidParams
from phaya_notebook.session import Session

from .sandboxes import running_sandbox

SPEED, TIME_SCALE = 20.0, 10.0
EVIL = '<img src=x onerror="alert(1)"> & a red fox'
PROMPTS = [EVIL, "a lighthouse at dusk", "a broken one [fail]"]
MODELS = ["text-to-image", ("nano-banana", {"resolution": "2K"}), "seedream"]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_sandbox(speed=SPEED, time_scale=TIME_SCALE, credits=100.0,
                         api_keys=["c-main:1000", "c-budget:100"]) as sb:
        yield sb.base_url


def test_plan_prices_every_cell_and_refuses_bad_input() -> None:
    cells = plan(["a", "b"], MODELS, repeats=2)
    assert len(cells) == 12
    assert sum(c.estimate for c in cells) == 2 * 2 * (1.0 + 3.0 + 1.5)
    assert {c.model for c in cells} == {"text-to-image", "nano-banana (resolution=2K)", "seedream"}
    with pytest.raises(InvalidParams, match="resolution.*allowed: one of '1K', '2K', '4K'"):
        plan(["a"], [("nano-banana", {"resolution": "8K"})])
    with pytest.raises(InvalidParams, match="unknown service 'dall-e'"):
        plan(["a"], ["dall-e"])
    with pytest.raises(InvalidParams, match="image-to-video takes no prompt"):
        plan(["a"], ["image-to-video"])
    with pytest.raises(InvalidParams, match="repeats: 0 is not allowed"):
        plan(["a"], ["text-to-image"], repeats=0)
    with pytest.raises(InvalidParams, match="prompts: must be a non-empty list"):
        plan([], ["text-to-image"])
    with pytest.raises(InvalidParams, match="listed twice"):
        plan(["a"], ["text-to-image", "image"])  # an alias of the same model


def test_compare_3x3_grid(base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    with Session("c-main", base_url) as s:
        before = s.credits()
        # 16.5 credits is above the default threshold of 10: shown, refused, nothing sent
        with pytest.raises(ConfirmationRequired, match="9 jobs, 16.5 credits in total"):
            s.compare(PROMPTS, MODELS)
        assert len(s.log) == 0 and s.credits() == before

        comp = s.compare(PROMPTS, MODELS, confirm=True)
        assert "9 jobs, 16.5 credits in total" in capsys.readouterr().out
        assert isinstance(comp, Comparison)
        df = comp.df
        assert len(df) == 9 and set(df["prompt"]) == set(PROMPTS)
        ok = df[df["prompt"] != PROMPTS[2]]
        bad = df[df["prompt"] == PROMPTS[2]]
        assert (ok["status"] == "completed").all()
        assert (bad["status"] == "failed").all() and (bad["credits"] == 0.0).all()
        # charged at create and refunded; Seedream charges on completion, so it never charged
        assert bad.set_index("service")["refunded"].to_dict() == {
            "text-to-image": True, "nano-banana": True, "seedream": False}
        assert ok.groupby("model", observed=True)["credits"].first().to_dict() == {
            "text-to-image": 1.0, "nano-banana (resolution=2K)": 3.0, "seedream": 1.5}
        assert (ok["duration"] > 0).all() and ok["path"].map(lambda p: Path(p).is_file()).all()
        assert comp.total_credits == 2 * 5.5
        assert s.credits() == pytest.approx(before - 11.0)
        pivot = comp.pivot("status")
        assert pivot.shape == (3, 3) and pivot.loc[PROMPTS[1], "seedream"] == "completed"

        # every job is in the log, tagged, reconciled against the server's ledger
        logged = s.jobs(tag="compare")
        assert len(logged) == 9 and (logged["reconcile"] == "ok").all()
        assert set(logged["job_id"]) == set(df["job_id"])

        html = comp._repr_html_()
        assert "<img src=x" not in html and 'onerror="alert' not in html
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; a red fox" in html
        assert len(re.findall(r'<img src="data:image/(?:jpeg|png);base64,', html)) == 6
        assert html.count("refunded") >= 2
        assert len(html) < 200_000  # thumbnails, not full images

        comp.to_csv(tmp_path / "grid.csv")
        back = pd.read_csv(tmp_path / "grid.csv")
        assert back["prompt"].tolist() == df["prompt"].astype(str).tolist()
        comp.to_parquet(tmp_path / "grid.parquet")
        pq = pd.read_parquet(tmp_path / "grid.parquet")
        assert pq["credits"].tolist() == df["credits"].tolist()
        assert pq["job_id"].tolist() == df["job_id"].tolist()


def test_compare_respects_the_session_budget_before_starting(base_url: str, tmp_path: Path) -> None:
    with Session("c-budget", base_url, log_path=tmp_path / "j.sqlite3", max_credits=5) as s:
        with pytest.raises(BudgetExceeded, match="5.5 credits in total, more than the 5 credits left"):
            s.compare(["a"], ["text-to-image", ("nano-banana", {"resolution": "2K"}), "seedream"], confirm=True)
        assert len(s.log) == 0
        comp = s.compare(["a", "b"], ["text-to-image"], repeats=2)
        assert len(comp.df) == 4 and (comp.df["status"] == "completed").all()
        assert s.budget_left == 1.0
