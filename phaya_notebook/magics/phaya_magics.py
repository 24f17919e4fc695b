"""The ``%phaya`` / ``%%phaya`` magics class: traits, dispatch, session, money, job handlers.

The parser (``magic_args``) turns a line into a typed command and raises ``UsageError``
for anything wrong before a request is made; the handlers here only *do*: connect on first
use, check a command's total price against the session client's ``confirm_above`` and
``max_credits`` (the core's own limits: the traits here only set them), call the session,
display. Chat, the models table, ``config`` and the display decision live in the sibling
modules; everything heavy is imported inside the handlers.

Defaults are traitlets, so ``%config PhayaMagics.image_model = "seedream"`` works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Float, TraitError, Unicode, observe, validate

from .chat import Conversation
from .status import Credits
from .status import credits_text as _credits_text

if TYPE_CHECKING:  # pragma: no cover
    from ..magic_args import Command, Compare, Cost, Generate, Jobs, Models

__all__ = ["MODEL_TRAITS", "PhayaMagics"]

MODEL_TRAITS = {"image_model": "image", "video_model": "video", "music_model": "music",
                "speech_model": "speech"}


@magics_class
class PhayaMagics(Magics):
    """``%phaya`` / ``%%phaya`` — try ``%phaya help``."""

    image_model = Unicode("", help="Model %phaya image runs by default (a service or alias; "
                                   "empty: the catalog's default).").tag(config=True)
    video_model = Unicode("", help="Model %phaya video runs by default.").tag(config=True)
    music_model = Unicode("", help="Model %phaya music runs by default (a service, or a Suno "
                                   "model such as V5).").tag(config=True)
    speech_model = Unicode("", help="Model %phaya speech runs by default.").tag(config=True)
    chat_model = Unicode("", help="Chat model %%phaya chat uses by default (empty: the "
                                  "server's default).").tag(config=True)
    confirm_above = Float(10.0, min=0.0, help="A command estimated above this many credits "
                                              "needs --yes.").tag(config=True)
    max_credits = Float(None, allow_none=True, min=0.0,
                        help="Budget: the session's max_credits — credits its jobs may commit, "
                             "whichever layer submits them (None: no limit).").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._session: Any = None
        self._chat = Conversation()
        self._raw_cell: str | None = None

    # ------------------------------------------------------------ traits

    @staticmethod
    def _model_problem(name: str, value: Any) -> str | None:
        """Why a model trait value is unusable (None when it is fine)."""
        value = str(value).strip()
        if not value:
            return None
        if name == "chat_model":
            from ..catalog import CHAT_MODELS

            if value not in CHAT_MODELS:
                return f"chat_model: {value!r} is not a chat model (allowed: {', '.join(CHAT_MODELS)})"
            return None
        from ..magic_args import resolve_model

        try:
            resolve_model(MODEL_TRAITS[name], value)
        except UsageError as exc:
            return f"{name}: {exc}"
        return None

    @validate("image_model", "video_model", "music_model", "speech_model", "chat_model")
    def _check_model(self, proposal: Any) -> str:
        problem = self._model_problem(proposal["trait"].name, proposal["value"])
        if problem:
            raise TraitError(problem)
        return str(proposal["value"]).strip()

    def _load_config(self, cfg: Any, section_names: Any = None, traits: Any = None) -> None:
        """Drop (and report) a bad ``%config PhayaMagics.x = ...`` instead of failing every later load."""
        shell_cfg = getattr(self.shell, "config", None)
        shared = shell_cfg.get("PhayaMagics") if shell_cfg is not None else None
        section = cfg.get("PhayaMagics")
        if section is not None:
            for name in [n for n in list(section) if n in (*MODEL_TRAITS, "chat_model")]:
                problem = self._model_problem(name, section[name])
                if problem:
                    import sys

                    print(f"PhayaMagics.{name} not changed: {problem}", file=sys.stderr)
                    del section[name]
                    if shared is not None and name in shared and self._model_problem(name, shared[name]):
                        shared[name] = getattr(self, name)  # the shell keeps the last good value too
        super()._load_config(cfg, section_names=section_names, traits=traits)

    @observe("max_credits", "confirm_above")
    def _push_limit(self, change: Any) -> None:
        """``%config PhayaMagics.max_credits / confirm_above`` set the session client's own limits."""
        if self._session is not None:
            setattr(self._session.aio, change["name"], change["new"])

    def _client(self) -> Any:
        """The connected session's AsyncPhaya (None before the first command that connects)."""
        return None if self._session is None else self._session.aio

    def _priced(self, svc: Any, est: Any) -> Any:
        """The catalog estimate, or the higher price this session saw charged (no request)."""
        aio = self._client()
        return est if aio is None else aio.observed.price(svc, est)

    def _limits(self) -> tuple[float | None, float, float]:
        """(max_credits, confirm_above, committed credits), read back from the client when connected."""
        aio = self._client()
        if aio is None:
            return self.max_credits, self.confirm_above, 0.0
        for name in ("max_credits", "confirm_above"):  # set on the session directly: the traits follow
            if getattr(self, name) != getattr(aio, name):
                try:
                    setattr(self, name, getattr(aio, name))
                except TraitError:
                    pass
        return aio.max_credits, aio.confirm_above, aio.committed_credits

    def _defaults(self) -> dict[str, str]:
        return {kind: getattr(self, name) for name, kind in MODEL_TRAITS.items() if getattr(self, name)}

    # ------------------------------------------------------------ entry point

    @line_cell_magic
    @no_var_expand
    def phaya(self, line: str, cell: str | None = None) -> Any:
        """Generate media, chat, price and track jobs: ``%phaya help`` lists it all."""
        from .. import magic_args

        cmd = magic_args.parse(line, cell, self.shell.user_ns if self.shell else {}, self._defaults())
        try:
            return self._run(cmd)
        except UsageError:
            raise
        except Exception as exc:
            from ..core.errors import PhayaError

            if isinstance(exc, PhayaError):
                raise UsageError(f"{type(exc).__name__}: {exc}") from None
            raise

    def _run(self, cmd: Command) -> Any:
        from .. import magic_args as ma

        if isinstance(cmd, ma.Generate):
            return self._generate(cmd)
        if isinstance(cmd, ma.Cost):
            return self._cost(cmd)
        if isinstance(cmd, ma.Chat):
            return self._chat.run(cmd, self._connect, self.chat_model)
        if isinstance(cmd, ma.Models):
            return self._models(cmd)
        if isinstance(cmd, ma.Jobs):
            return self._jobs(cmd)
        if isinstance(cmd, ma.Spend):
            return self._connect().spend(by=cmd.by)
        if isinstance(cmd, ma.Compare):
            return self._compare(cmd)
        if isinstance(cmd, ma.Help):
            print(ma.help_text(cmd.topic, self._defaults()))
            return None
        if isinstance(cmd, ma.Plain):
            if cmd.name == "balance":
                session = self._connect()
                balance = Credits(session.credits())
                cap = getattr(session.aio, "daily_cap", None)
                if cap is not None:
                    balance.note = (f"daily cap {cap.source}={cap.cap:g}: {cap.left:g} left today (UTC), "
                                    "for every process using this key")
                return balance
            if cmd.name == "resume":
                return self._resume()
            if cmd.name == "studio":
                return self._connect().studio()
            if cmd.name == "config":
                print(self.config_text())
                return None
        raise UsageError(f"%phaya: nothing handles {cmd!r}")  # pragma: no cover

    # ------------------------------------------------------------ session and money

    def _connect(self) -> Any:
        """The session, connected on first use (the sandbox when no key is set)."""
        if self._session is None:
            from ..session import connect

            self._session = connect(max_credits=self.max_credits, confirm_above=self.confirm_above)
        return self._session

    def close(self) -> None:
        """Close the session (if one was opened); the next command connects again."""
        session, self._session = self._session, None
        if session is not None:
            session.close()

    @property
    def session(self) -> Any:
        """The connected session (connects if needed)."""
        return self._connect()

    def _ledger(self) -> Any:
        """The connected client's ledger (the traits follow its limits), else one with the traits' limits."""
        from ..core.money import Ledger

        aio = self._client()
        if aio is None:
            return Ledger(max_credits=self.max_credits, confirm_above=self.confirm_above)
        self._limits()
        return aio.ledger

    def _check_money(self, total: float, confirmed: bool, what: str, *, jobs: int = 1,
                     cells: Any = None) -> None:
        """A whole command (``-n`` repeats, a compare grid's ``cells``) against the ledger before its
        first job, in its words (the core still reserves each job); UsageError names the trait to change."""
        from ..compare import check_money
        from ..core.errors import BudgetExceeded, ConfirmationRequired

        ledger = self._ledger()
        hint = "add --yes to run it"
        try:
            if cells is not None:
                check_money(ledger, cells, confirmed, confirm_hint=hint)
            else:
                ledger.check_batch(total, jobs=jobs, confirmed=confirmed, what=what, confirm_hint=hint)
        except BudgetExceeded as exc:
            left = ledger.budget_left
            trait = "" if left is None or total <= left else (
                f"; raise it with %config PhayaMagics.max_credits = ... (PhayaMagics.max_credits = "
                f"{ledger.max_credits:g} now)")
            raise UsageError(f"{exc}{trait}") from None
        except ConfirmationRequired as exc:
            raise UsageError(f"{exc} (PhayaMagics.confirm_above = {ledger.confirm_above:g})") from None

    # ------------------------------------------------------------ generation

    def _generate(self, cmd: Generate) -> Any:
        est = self._priced(cmd.service, cmd.estimate)
        what = f"{cmd.service.name}" + (f" x{cmd.repeats}" if cmd.repeats > 1 else "")
        self._check_money(round(est.credits * cmd.repeats, 6), cmd.confirm, what, jobs=cmd.repeats)
        session = self._connect()
        jobs = []
        for _ in range(cmd.repeats):
            job = session.submit(cmd.service.name, confirm=True, tags=cmd.tags, **cmd.params)
            jobs.append(job)
        if not cmd.wait:
            for job in jobs:
                print(f"{cmd.service.name}: job {job.id} submitted ({_credits_text(est.credits)}); "
                      "job.wait() for the result, or %phaya resume later")
            return jobs[0] if len(jobs) == 1 else jobs
        shown_by_hook = len(jobs) == 1 and self._result_will_display()
        results = []
        try:
            for job in jobs:
                result = self._wait(job)
                if not shown_by_hook:
                    self._display(result)
                results.append(result)
        finally:
            self._reconcile(session)
        return results[0] if len(results) == 1 else results

    @staticmethod
    def _reconcile(session: Any) -> None:
        """Check charges against the server's history (one request); never fails the command."""
        from ..core.errors import PhayaError

        reconcile = getattr(session, "reconcile", None)
        if reconcile is not None:
            try:
                reconcile()
            except PhayaError:
                pass

    @staticmethod
    def _wait(job: Any) -> Any:
        from .status import wait_with_status

        return wait_with_status(job)

    def _display(self, obj: Any) -> None:
        from IPython.display import display

        from ..display import render

        display(render(obj))

    def _resume(self) -> list[Any]:
        results = self._connect().resume()
        if not results:
            print("No unfinished jobs to resume.")
        for r in results:
            self._display(r)
        return list(results)

    def _result_will_display(self) -> bool:
        """Will IPython show this call's return value itself? Then the handler does not display
        the media too, so it appears once either way (``magics.cells``)."""
        from .cells import result_will_display

        return result_will_display(self.shell, self._raw_cell)

    # ------------------------------------------------------------ IPython's cell events

    def pre_run_cell(self, info: Any = None) -> None:
        """IPython's ``pre_run_cell`` event: remember the cell being run."""
        self._raw_cell = getattr(info, "raw_cell", None)

    def post_run_cell(self, result: Any = None) -> None:
        """IPython's ``post_run_cell`` event: no cell runs now."""
        self._raw_cell = None  # a call from outside a cell (a widget callback) always displays

    # ------------------------------------------------------------ cost, models, jobs, compare

    def _cost(self, cmd: Cost) -> None:
        est = self._priced(cmd.service, cmd.estimate)
        approx = "" if est.exact else "about "
        total = est.credits * cmd.repeats
        times = f" x {cmd.repeats} = {approx}{total:g} credits" if cmd.repeats > 1 else ""
        basis = "" if est.basis in ("", f"{_credits_text(est.credits)} per job") else f" ({est.basis})"
        print(f"{cmd.service.name} ({cmd.service.label}): {approx}{_credits_text(est.credits)} per job{basis}{times}")

    def _models(self, cmd: Models) -> Any:
        from .models import models_table

        return models_table(cmd.kind, self._client())

    def _jobs(self, cmd: Jobs) -> Any:
        kwargs: dict[str, Any] = {}
        if cmd.service:
            kwargs["service"] = cmd.service
        if cmd.status:
            kwargs["status"] = cmd.status
        if cmd.tag:
            kwargs["tag"] = cmd.tag
        df = self._connect().jobs(**kwargs)
        return df.tail(cmd.limit)  # the log is oldest first: the latest N

    def _compare(self, cmd: Compare) -> Any:
        if not cmd.prompts:
            return self._connect().compare_grid()
        from ..compare import plan

        cells = plan(list(cmd.prompts), cmd.specs, cmd.repeats)
        self._check_money(cmd.total_credits, cmd.confirm, "compare", cells=cells)
        return self._connect().compare(list(cmd.prompts), cmd.specs, repeats=cmd.repeats, confirm=True)

    # ------------------------------------------------------------ chat

    @property
    def conversation(self) -> list[dict[str, str]]:
        """The chat so far (a copy)."""
        return self._chat.messages

    # ------------------------------------------------------------ config

    def config_text(self) -> str:
        """What ``%phaya config`` prints: where requests go, never the key itself."""
        from .config import config_text

        limits = self._limits()
        models = {name: (getattr(self, name), kind) for name, kind in MODEL_TRAITS.items()}
        return config_text(self._session, limits, models, self.chat_model)
