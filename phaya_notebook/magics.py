"""``%phaya`` / ``%%phaya``: every Phaya service from one line of a notebook.

The parser (``magic_args``) turns a line into a typed command and raises ``UsageError``
for anything wrong before a request is made; the handlers here only *do*: connect on first
use, check a command's total price against the session client's ``confirm_above`` and
``max_credits`` (the core's own limits: the traits here only set them), call the session,
display. Loading the extension imports nothing heavy (no httpx, pandas, ipywidgets or
core): everything below is imported inside the handlers.

Defaults are traitlets, so ``%config PhayaMagics.image_model = "seedream"`` works.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Float, TraitError, Unicode, observe, validate

if TYPE_CHECKING:  # pragma: no cover
    from .magic_args import Chat, Command, Compare, Cost, Generate, Jobs, Models

__all__ = ["PhayaMagics", "load_ipython_extension", "unload_ipython_extension"]

_MODEL_TRAITS = {"image_model": "image", "video_model": "video", "music_model": "music",
                 "speech_model": "speech"}


def _credits_text(amount: float | None) -> str:
    from .catalog import credits_text  # lazy: %load_ext stays fast

    return credits_text(amount)


class Credits(float):
    """A credit amount that reads as one (``%phaya balance`` returns it)."""

    def __repr__(self) -> str:
        return f"{float(self):,.2f} credits"


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
        self._chat: list[dict[str, str]] = []
        self._raw_cell: str | None = None

    # ------------------------------------------------------------ traits

    @staticmethod
    def _model_problem(name: str, value: Any) -> str | None:
        """Why a model trait value is unusable (None when it is fine)."""
        value = str(value).strip()
        if not value:
            return None
        if name == "chat_model":
            from .catalog import CHAT_MODELS

            if value not in CHAT_MODELS:
                return f"chat_model: {value!r} is not a chat model (allowed: {', '.join(CHAT_MODELS)})"
            return None
        from .magic_args import resolve_model

        try:
            resolve_model(_MODEL_TRAITS[name], value)
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
            for name in [n for n in list(section) if n in (*_MODEL_TRAITS, "chat_model")]:
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
        return {kind: getattr(self, name) for name, kind in _MODEL_TRAITS.items() if getattr(self, name)}

    # ------------------------------------------------------------ entry point

    @line_cell_magic
    @no_var_expand
    def phaya(self, line: str, cell: str | None = None) -> Any:
        """Generate media, chat, price and track jobs: ``%phaya help`` lists it all."""
        from . import magic_args

        cmd = magic_args.parse(line, cell, self.shell.user_ns if self.shell else {}, self._defaults())
        try:
            return self._run(cmd)
        except UsageError:
            raise
        except Exception as exc:
            from .core.errors import PhayaError

            if isinstance(exc, PhayaError):
                raise UsageError(f"{type(exc).__name__}: {exc}") from None
            raise

    def _run(self, cmd: Command) -> Any:
        from . import magic_args as ma

        if isinstance(cmd, ma.Generate):
            return self._generate(cmd)
        if isinstance(cmd, ma.Cost):
            return self._cost(cmd)
        if isinstance(cmd, ma.Chat):
            return self._chat_run(cmd)
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
                return Credits(self._connect().credits())
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
            from .session import connect

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

    def _check_money(self, total: float, confirmed: bool, what: str) -> None:
        """A whole command (``-n`` repeats, a compare grid) against the client's limits, before
        its first job: the core checks each job again (and reserves it), so no tally lives here."""
        max_credits, confirm_above, committed = self._limits()
        if max_credits is not None and committed + total > max_credits + 1e-9:
            raise UsageError(
                f"{what} would cost {_credits_text(total)}; the session has committed {committed:g} of "
                f"PhayaMagics.max_credits = {max_credits:g} ({max(0.0, max_credits - committed):g} left). "
                f"Raise it with %config PhayaMagics.max_credits = ..."
            )
        if total > confirm_above and not confirmed:
            raise UsageError(
                f"{what} would cost {_credits_text(total)}, above PhayaMagics.confirm_above = "
                f"{confirm_above:g}: add --yes to run it"
            )

    # ------------------------------------------------------------ generation

    def _generate(self, cmd: Generate) -> Any:
        est = self._priced(cmd.service, cmd.estimate)
        what = f"{cmd.service.name}" + (f" x{cmd.repeats}" if cmd.repeats > 1 else "")
        self._check_money(round(est.credits * cmd.repeats, 6), cmd.confirm, what)
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
        from .core.errors import PhayaError

        reconcile = getattr(session, "reconcile", None)
        if reconcile is not None:
            try:
                reconcile()
            except PhayaError:
                pass

    def _wait(self, job: Any) -> Any:
        from IPython.display import display

        status = _Status(job)
        handle = display(status, display_id=True)
        shown = [status.text]

        def progress(j: Any = job, *_: Any) -> None:
            now = _Status(j)
            if handle is not None and now.text != shown[0]:
                shown[0] = now.text
                handle.update(now)

        try:  # a refund releases the job's reservation in the core
            result = job.wait(on_progress=progress)
        finally:
            progress(job)
        return result

    def _display(self, obj: Any) -> None:
        from IPython.display import display

        from .display import render

        display(render(obj))

    def _resume(self) -> list[Any]:
        results = self._connect().resume()
        if not results:
            print("No unfinished jobs to resume.")
        for r in results:
            self._display(r)
        return list(results)

    def _result_will_display(self) -> bool:
        """Will IPython show this call's return value itself (it is the cell's shown expression)?

        Then the handler does not display the media too, so it appears once either way:
        ``%phaya image cat`` shows it as the cell's output, ``r = %phaya image cat`` displays it.
        """
        raw = self._raw_cell
        if raw is None or self.shell is None:
            return False
        import ast

        from IPython.core.displayhook import DisplayHook

        try:
            source = self.shell.transform_cell(raw)
            tree = ast.parse(source)
        except Exception:
            return False
        calls = [n for n in ast.walk(tree) if _is_phaya_call(n)]
        if len(calls) != 1 or not tree.body or DisplayHook.semicolon_at_end_of_expression(source):
            return False
        mode = self.shell.ast_node_interactivity
        last = tree.body[-1]
        is_expr = isinstance(last, ast.Expr) and _is_phaya_call(last.value)
        if mode in ("last_expr", "last"):
            return is_expr
        if mode == "last_expr_or_assign":
            return is_expr or (isinstance(last, (ast.Assign, ast.AnnAssign)) and _is_phaya_call(last.value))
        if mode == "all":
            return any(isinstance(n, ast.Expr) and _is_phaya_call(n.value) for n in tree.body)
        return False

    def _pre_run_cell(self, info: Any = None) -> None:
        self._raw_cell = getattr(info, "raw_cell", None)

    def _post_run_cell(self, result: Any = None) -> None:
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
        import pandas as pd

        from . import catalog
        from .magic_args import KINDS, kind_services

        rows = []
        services = list(catalog.SERVICES.values()) + list(catalog.MEDIA_JOBS.values())
        if cmd.kind is not None:
            services = kind_services(cmd.kind)
        aio = self._client()
        for svc in services:
            defaults = {p.name: p.default for p in svc.params if p.default is not None}
            est = svc.price(defaults, {})
            if aio is not None:  # a connected session knows what was really charged (no request)
                est = aio.observed.price(svc, est)
            kinds = [k for k in KINDS if catalog.resolve_service(k) is svc]
            rows.append({
                "service": svc.name,
                "model": svc.label,
                "media": svc.media,
                "subcommands": ", ".join(dict.fromkeys([*kinds, svc.name, *svc.aliases])),
                "price": est.credits,
                "price_basis": est.basis,
                "parameters": ", ".join(p.name for p in svc.params),
            })
        if cmd.kind is None:
            for m in catalog.CHAT_MODELS.values():
                rows.append({
                    "service": "chat", "model": m.id, "media": "text", "subcommands": "chat",
                    "price": m.completion_per_million,
                    "price_basis": f"credits {m.price_text}",
                    "parameters": ", ".join(p.name for p in catalog.CHAT_PARAMS if p.name != "stream"),
                })
            for model_id, per_million in catalog.EMBEDDING_MODELS.items():
                rows.append({
                    "service": "embedding", "model": model_id, "media": "text", "subcommands": "",
                    "price": per_million, "price_basis": f"credits {per_million:.2f} per million tokens",
                    "parameters": "input, model",
                })
        return pd.DataFrame(rows)

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
        total = cmd.total_credits
        self._check_money(total, cmd.confirm, "compare")
        return self._connect().compare(list(cmd.prompts), cmd.specs, repeats=cmd.repeats, confirm=True)

    # ------------------------------------------------------------ chat

    def _chat_run(self, cmd: Chat) -> None:
        from contextlib import closing

        from IPython.display import Markdown, display

        if cmd.reset:
            self._chat.clear()
            if cmd.prompt is None and cmd.system is None:
                print("Chat conversation cleared.")
                return None
        if cmd.system is not None:
            self._chat = [m for m in self._chat if m["role"] != "system"]
            self._chat.insert(0, {"role": "system", "content": cmd.system})
        if cmd.prompt is None:
            return None
        session = self._connect()
        self._chat.append({"role": "user", "content": cmd.prompt})
        kwargs: dict[str, Any] = {}
        if cmd.temperature is not None:
            kwargs["temperature"] = cmd.temperature
        if cmd.max_tokens is not None:
            kwargs["max_tokens"] = cmd.max_tokens
        if cmd.web_search:
            kwargs["web_search"] = True
        model = cmd.model or self.chat_model or None
        handle = display(Markdown("*…*"), display_id=True)
        text, usage, credits = "", None, None
        try:
            # closing: the stream (an open response) ends here even if displaying fails midway
            with closing(session.chat_stream(list(self._chat), model=model, **kwargs)) as stream:
                for chunk in stream:
                    if chunk.text:
                        text += chunk.text
                        if handle is not None:
                            handle.update(Markdown(text))
                    usage = chunk.usage or usage
                    credits = chunk.credits if chunk.credits is not None else credits
        except BaseException:
            self._chat.pop()
            raise
        self._chat.append({"role": "assistant", "content": text})
        if handle is not None:
            from types import SimpleNamespace

            from .display import render

            handle.update(render(SimpleNamespace(text=text, model=model, usage=usage or {},
                                                 credits=credits, finish_reason="stop")))
        return None

    @property
    def conversation(self) -> list[dict[str, str]]:
        """The chat so far (a copy)."""
        return [dict(m) for m in self._chat]

    # ------------------------------------------------------------ config

    def config_text(self) -> str:
        """What ``%phaya config`` prints: where requests go, never the key itself."""
        if self._session is not None:
            aio = getattr(self._session, "aio", self._session)
            base = getattr(aio, "base_url", None) or getattr(self._session, "base_url", "?")
            sandbox = bool(getattr(aio, "is_sandbox", getattr(self._session, "is_sandbox", False)))
            mode = "sandbox (offline, play credits)" if sandbox else "live Phaya"
            key = "set (sandbox key)" if sandbox else "set"
            state = "connected"
        else:
            from urllib.parse import urlsplit

            has_key = bool(os.environ.get("PHAYA_API_KEY"))
            base = os.environ.get("PHAYA_BASE") or ("(client default)" if has_key else "(sandbox, on first use)")
            local = urlsplit(os.environ.get("PHAYA_BASE") or "").hostname in ("127.0.0.1", "localhost", "::1")
            mode = ("sandbox (a local server)" if local else "live Phaya") if has_key \
                else "sandbox (starts on first use: no PHAYA_API_KEY)"
            key = "set (PHAYA_API_KEY)" if has_key else "not set"
            state = "not connected yet"
        max_credits, confirm_above, committed = self._limits()
        lines = [
            f"base URL:      {base}",
            f"mode:          {mode}",
            f"API key:       {key}",
            f"session:       {state}",
            f"committed:     {_credits_text(committed)}"
            + ("" if max_credits is None else f" of max_credits {max_credits:g}"),
            f"confirm_above: {_credits_text(confirm_above)}",
        ]
        for name, kind in _MODEL_TRAITS.items():
            lines.append(f"{name + ':':<15}{getattr(self, name) or '(default: ' + kind + ')'}")
        lines.append(f"{'chat_model:':<15}{self.chat_model or '(server default)'}")
        return "\n".join(lines)


class _Status:
    """One line about a running job, updated in place while it runs."""

    def __init__(self, job: Any) -> None:
        svc = getattr(getattr(job, "service", None), "name", None) or str(getattr(job, "service", "job"))
        status = getattr(job, "status", "?")
        progress = float(getattr(job, "progress", 0.0) or 0.0)
        elapsed = float(getattr(job, "elapsed", 0.0) or 0.0)
        self.text = f"{svc} · job {getattr(job, 'id', '?')} · {status}"
        if status in ("completed", "failed", "cancelled"):
            self.text += f" · {elapsed:.1f} s"
        else:
            self.text += f" · {progress:.0%} · {elapsed:.0f} s"

    def __repr__(self) -> str:
        return self.text


def _is_phaya_call(node: Any) -> bool:
    """``get_ipython().run_line_magic('phaya', ...)`` or ``run_cell_magic('phaya', ...)``."""
    import ast

    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("run_line_magic", "run_cell_magic")
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value == "phaya"
    )


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%phaya`` / ``%%phaya``; nothing connects until the first command."""
    magics = PhayaMagics(ipython)
    ipython.register_magics(magics)
    ipython.events.register("pre_run_cell", magics._pre_run_cell)
    ipython.events.register("post_run_cell", magics._post_run_cell)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics and close their session (stops its polling)."""
    magics = ipython.magics_manager.registry.get("PhayaMagics")
    if magics is not None:
        for event, fn in (("pre_run_cell", magics._pre_run_cell), ("post_run_cell", magics._post_run_cell)):
            try:
                ipython.events.unregister(event, fn)
            except ValueError:
                pass
        magics.close()
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("phaya", None)
    ipython.magics_manager.registry.pop("PhayaMagics", None)
