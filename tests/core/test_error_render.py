"""PhayaError's IPython hook: a short block (message + fix), the full traceback only on %tb."""

from __future__ import annotations

import re

import pytest

from phaya_notebook.core.errors import (
    BudgetExceeded,
    ConfirmationRequired,
    InvalidParams,
    JobFailed,
    JobTimeout,
    PhayaError,
    register_secret,
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _text(exc: PhayaError) -> str:
    return ANSI.sub("", "\n".join(exc._render_traceback_()))


@pytest.mark.parametrize(("exc", "fix"), [
    (ConfirmationRequired("compare: 12 jobs, 30 credits"), "confirm=True"),
    (BudgetExceeded("over max_credits"), "max_credits"),
    (JobTimeout("waited 900 s"), "phaya.resume()"),
    (JobFailed("failed: nsfw", refunded=True), "refunded"),
    (JobFailed("failed: nsfw", refunded=False), "phaya.jobs()"),
])
def test_short_block_names_the_error_and_the_fix(exc: PhayaError, fix: str) -> None:
    text = _text(exc)
    lines = text.splitlines()
    assert lines[0] == f"{type(exc).__name__}: {exc.message}"
    assert fix in lines[1] and lines[1].startswith("  → ")
    assert len(lines) == 3 and "%tb" in lines[2]


def test_invalid_params_block_names_the_field() -> None:
    from phaya_notebook import catalog

    with pytest.raises(catalog.ParamError) as info:
        catalog.validate("nano-banana", {"prompt": "x", "aspect_ratio": "7:5"})
    text = _text(InvalidParams.from_param_error(info.value))
    assert "aspect_ratio" in text and "'7:5'" in text and "nothing was sent" in text


def test_the_key_never_shows() -> None:
    register_secret("sk-render-secret-0042")
    text = _text(PhayaError("request with sk-render-secret-0042 failed"))
    assert "sk-render-secret-0042" not in text and "0042" in text


def test_tb_magic_gets_the_full_traceback() -> None:
    """Inside IPython's %tb (a function ``tb`` in .../magics/...) the hook is absent."""
    err = ConfirmationRequired("x")
    assert hasattr(err, "_render_traceback_")
    scope: dict[str, object] = {}
    code = compile("def tb(e):\n    return hasattr(e, '_render_traceback_')\n",
                   "/site-packages/IPython/core/magics/execution.py", "exec")
    exec(code, scope)
    assert scope["tb"](err) is False  # type: ignore[operator]
