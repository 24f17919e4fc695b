"""One exception tree for everything the client can tell a caller.

::

    PhayaError
    ├── AuthenticationError        401: the key is wrong or missing
    ├── InsufficientCredits        402, or the local balance check before an expensive job
    ├── NotFound                   404: unknown job, or a job of another key
    ├── InvalidParams              bad input caught before any request (also a catalog.ParamError)
    ├── ServerValidationError      422: the server rejected the body (.detail)
    ├── RateLimited                429 (.retry_after)
    ├── ServerError                5xx, or an answer that is not the JSON it should be
    ├── TransportError             the request never got an answer (connect, timeout, dropped)
    ├── JobFailed                  the job ended failed/cancelled (.error, .refunded, .job)
    ├── JobTimeout                 waited long enough; the job id stays usable (.job)
    ├── ConfirmationRequired       price above confirm_above: pass confirm=True (.estimate)
    ├── BudgetExceeded             the session's max_credits would be overshot
    ├── AmbiguousCreate            a create may have reached the server and could not be reconciled
    └── FolderNotWritable          the job log's or media cache's folder cannot be written (.variable)

Errors are built from an HTTP answer in one place (:meth:`PhayaError.from_response`)
and every message passes through :func:`scrub`, so the API key never appears in one.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from ..catalog import Estimate, ParamError, ParamProblem

if TYPE_CHECKING:  # pragma: no cover
    import httpx

__all__ = [
    "AmbiguousCreate",
    "AuthenticationError",
    "BudgetExceeded",
    "ConfirmationRequired",
    "FolderNotWritable",
    "InsufficientCredits",
    "InvalidParams",
    "JobFailed",
    "JobTimeout",
    "NotFound",
    "PhayaError",
    "RateLimited",
    "ServerError",
    "ServerValidationError",
    "TransportError",
    "mask_key",
    "register_secret",
    "scrub",
]

_SECRETS: set[str] = set()


def mask_key(key: str | None) -> str:
    """'sk-…abcd': only the last four characters of a key are ever shown."""
    if not key:
        return "<no key>"
    if len(key) <= 12:
        return "…****"
    head, dash, _ = key.partition("-")
    prefix = head + dash if dash and len(head) <= 3 else ""
    return f"{prefix}…{key[-4:]}"


def register_secret(key: str | None) -> None:
    """Remember a key so :func:`scrub` removes it from any text (messages, logs)."""
    if key and len(key) >= 4:
        _SECRETS.add(key)


def scrub(text: str) -> str:
    """Replace every known key in ``text`` by its masked form."""
    for key in _SECRETS:
        if key in text:
            text = text.replace(key, mask_key(key))
    return text


class PhayaError(Exception):
    """Base of every error this package raises about Phaya."""

    status_code: int | None = None

    def __init__(self, message: str = "", *, status_code: int | None = None, detail: Any = None):
        message = scrub(message)
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.detail = detail

    def __str__(self) -> str:
        return self.message

    #: What to do about it, one line (shown under the message in a notebook).
    hint: str = ""

    @property
    def _render_traceback_(self) -> Any:
        """IPython's hook: a short block (the error and its fix) instead of 40 internal frames.

        A property, so ``%tb`` (and ``%xmode Verbose``) can still get the full traceback:
        when asked from there it raises AttributeError, ``hasattr`` says no and IPython
        formats the frames as usual. Needs no IPython import (core never imports it).
        """
        if _full_traceback_wanted():
            raise AttributeError("_render_traceback_")
        return self._concise_traceback

    def fix(self) -> str:
        """What to do about it (``hint``, or worked out from the error's own fields)."""
        return self.hint

    def _concise_traceback(self) -> list[str]:
        red, bold, reset = "\x1b[0;31m", "\x1b[1m", "\x1b[0m"
        lines = [f"{red}{type(self).__name__}{reset}: {bold}{self.message}{reset}"]
        fix = self.fix()
        if fix:
            lines.append(f"  → {scrub(fix)}")
        lines.append("  (%tb shows the full traceback)")
        return lines

    @staticmethod
    def from_response(resp: httpx.Response, what: str = "") -> PhayaError:
        """The error an HTTP answer means (replicate's pattern: one constructor)."""
        code = resp.status_code
        detail: Any
        try:
            detail = resp.json().get("detail")
        except (ValueError, AttributeError):
            detail = None
        if detail is None:
            detail = resp.text[:300] if resp.content else resp.reason_phrase
        where = f"{what}: " if what else ""
        text = _detail_text(detail)
        if code == 401 or code == 403:
            return AuthenticationError(f"{where}the API key was rejected ({code}: {text})",
                                       status_code=code, detail=detail)
        if code == 402:
            return InsufficientCredits(f"{where}not enough credits ({text})", status_code=code, detail=detail)
        if code == 404:
            return NotFound(f"{where}not found ({text})", status_code=code, detail=detail)
        if code == 422:
            return ServerValidationError(f"{where}the server rejected the request: {text}",
                                         status_code=code, detail=detail)
        if code == 429:
            return RateLimited(f"{where}rate limited ({text})", retry_after=retry_after_of(resp),
                               status_code=code, detail=detail)
        if code >= 500:
            return ServerError(f"{where}server error {code} ({text})", status_code=code, detail=detail)
        return PhayaError(f"{where}unexpected answer {code} ({text})", status_code=code, detail=detail)


def _full_traceback_wanted() -> bool:
    """True inside IPython's ``%tb`` magic, or when the user chose ``%xmode Verbose``."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "tb" and "magics" in code.co_filename:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None) if shell is not None else None
    ip = get() if get is not None else None
    mode = getattr(getattr(ip, "InteractiveTB", None), "mode", "")
    return mode == "Verbose"


def _detail_text(detail: Any) -> str:
    """FastAPI's 422 detail list as 'body.prompt: field required; ...'."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(x) for x in item.get("loc", []))
                parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if isinstance(detail, (dict,)):
        return json.dumps(detail)[:300]
    return str(detail)


def retry_after_of(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class AuthenticationError(PhayaError):
    status_code = 401
    hint = "check PHAYA_API_KEY (or connect(api_key=...)); without a key connect() uses the offline sandbox"


class InsufficientCredits(PhayaError):
    status_code = 402
    hint = "top up (sandbox: python -m phaya_notebook.sandbox topup), or a cheaper model: see phaya.estimate"

    def __init__(self, message: str = "", *, needed: float | None = None, balance: float | None = None,
                 **kw: Any):
        super().__init__(message, **kw)
        self.needed = needed
        self.balance = balance


class NotFound(PhayaError):
    status_code = 404
    hint = "job ids belong to one key and one server: check the id and PHAYA_BASE"


class InvalidParams(PhayaError, ParamError):
    """Client-side validation failure; nothing was sent. Also a ``catalog.ParamError``."""

    hint = "fix the field named above; nothing was sent and no credits were spent"

    def __init__(self, service: str, problems: list[ParamProblem]):
        ParamError.__init__(self, service, problems)
        self.message = scrub(ValueError.__str__(self))
        self.detail = None

    @classmethod
    def from_param_error(cls, err: ParamError) -> InvalidParams:
        return cls(err.service, list(err.problems))

    def __str__(self) -> str:
        return self.message


class ServerValidationError(PhayaError):
    status_code = 422
    hint = "the server refused the body: check the field it names (phaya.estimate(...) validates locally)"


class RateLimited(PhayaError):
    status_code = 429
    hint = "60 requests a minute per key: wait a little and run it again"

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(PhayaError):
    """5xx, or a 2xx whose body is not the JSON the contract promises."""

    hint = "the server had trouble: try again in a minute; phaya.jobs() shows what ran"


class TransportError(PhayaError):
    """No answer: connection refused, timeout, connection dropped."""

    hint = "no answer from the server: check PHAYA_BASE and the network, then run it again"


class JobFailed(PhayaError):
    def fix(self) -> str:
        money = "its credits were refunded" if self.refunded else "phaya.jobs() shows what it was charged"
        return f"{money}; try another prompt or model"

    def __init__(self, message: str, *, job: Any = None, error: str | None = None,
                 refunded: bool = False):
        super().__init__(message)
        self.job = job  # the core.jobs.Job (typed Any: errors.py sits below jobs.py)
        self.error = error
        self.refunded = refunded


class JobTimeout(PhayaError):
    """The wait ended; the job may still finish: ``await client.job(service, id)`` resumes it."""

    hint = "the job keeps running on the server: phaya.resume() collects it later"

    def __init__(self, message: str, *, job: Any = None):
        super().__init__(message)
        self.job = job  # the core.jobs.Job (typed Any: errors.py sits below jobs.py)


class ConfirmationRequired(PhayaError):
    hint = "pass confirm=True to run it (or raise confirm_above in connect())"

    def __init__(self, message: str, *, estimate: Estimate | None = None):
        super().__init__(message)
        self.estimate = estimate


class BudgetExceeded(PhayaError):
    hint = "raise max_credits in connect(...), or run fewer or cheaper jobs"

    def __init__(self, message: str, *, estimate: float | None = None, remaining: float | None = None):
        super().__init__(message)
        self.estimate = estimate
        self.remaining = remaining


class AmbiguousCreate(PhayaError):
    hint = "do not simply resend: check phaya.jobs() and the credits history first"

    def __init__(self, message: str, *, service: str = "", sent_at: float | None = None):
        super().__init__(message)
        self.service = service
        self.sent_at = sent_at


class FolderNotWritable(PhayaError):
    """Where the job log or the media cache would go cannot be written; checked before
    anything starts (no sandbox, no request). ``variable`` names the setting to change."""

    def __init__(self, message: str, *, path: str = "", variable: str = ""):
        super().__init__(message)
        self.path = path
        self.variable = variable
