"""``python -m phaya_notebook.sandbox``: run an offline Phaya in the foreground.

The persistent sandbox (the one ``connect()`` without a key uses, shared by every kernel):
``python -m phaya_notebook.sandbox status|start|stop|serve|topup [--state-dir DIR]``
(``serve`` runs it in the foreground; ``topup [CREDITS]`` adds play credits, by default its
starting credits, running or stopped; DIR defaults to ``$PHAYA_SANDBOX_DIR``, else
``~/.local/state/phaya-notebook/sandbox``).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8765
COMMANDS = ("status", "start", "stop", "serve", "topup")


class _TopUpOnly(argparse.Action):
    """CREDITS belongs to ``topup``: after any other command it is an error, not ignored."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        if values is not None and namespace.command != "topup":
            parser.error(f"CREDITS ({values:g}) goes with topup only")
        setattr(namespace, self.dest, values)


def persistent(argv: list[str]) -> int:
    """The persistent sandbox's commands: status, start (detached), stop, serve (foreground)."""
    from ..catalog.embedded import sandbox_dir
    from . import daemon

    ap = argparse.ArgumentParser(prog="python -m phaya_notebook.sandbox",
                                 description="The persistent sandbox shared by kernels (connect() without a key).")
    ap.add_argument("command", choices=COMMANDS)
    ap.add_argument("amount", nargs="?", type=float, metavar="CREDITS", action=_TopUpOnly,
                    help="topup only: play credits to add (default: the sandbox's starting credits)")
    ap.add_argument("--state-dir", type=Path, default=None,
                    help="its directory (default: $PHAYA_SANDBOX_DIR, else ~/.local/state/phaya-notebook/sandbox)")
    ap.add_argument("--speed", type=float, default=10.0, help="first start only: divides job durations")
    ap.add_argument("--credits", type=float, default=100.0, metavar="N",
                    help="first start only: play credits of its key")
    ap.add_argument("--time-scale", type=float, default=1.0, help="first start only")
    ap.add_argument("--port", type=int, default=0, help="serve: the port (default: the last one, else free)")
    ap.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    state_dir = args.state_dir or sandbox_dir()
    if args.command == "status":
        print(daemon.status(state_dir))
        return 0 if daemon.running(state_dir) else 3
    if args.command == "topup":  # the persistent sandbox's play credits never refill by themselves
        return _topup(state_dir, args.amount)
    if args.command == "stop":
        print("phaya sandbox: stopped" if daemon.stop(state_dir) else "phaya sandbox: was not running")
        return 0
    if args.command == "start":
        daemon.start(state_dir, speed=args.speed, credits=args.credits, time_scale=args.time_scale)
        print(daemon.status(state_dir))
        return 0
    return daemon.serve(state_dir, speed=args.speed, credits=args.credits, time_scale=args.time_scale,
                        port=args.port, quiet=args.quiet)


def _topup(state_dir: Path, amount: float | None) -> int:
    from phaya_notebook.catalog import credits_text

    from .topup import TopUpError, top_up

    try:
        added, balance, live = top_up(state_dir, amount)
    except TopUpError as exc:
        print(f"phaya sandbox: nothing added: {exc}", file=sys.stderr)
        return 2
    print(f"phaya sandbox: added {credits_text(added)}; the balance is now {credits_text(balance)} "
          f"({'running' if live else 'stopped'}, state in {state_dir})")
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    from .quirks import Quirks

    ap = argparse.ArgumentParser(prog="python -m phaya_notebook.sandbox", description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    ap.add_argument("--speed", type=float, default=30.0, help="divides job durations (default 30)")
    ap.add_argument("--credits", type=float, default=100.0, help="play credits per key (default 100)")
    ap.add_argument("--api-key", action="append", default=[], metavar="KEY[:CREDITS]",
                    help="a key to accept (repeatable); default: one generated demo key")
    ap.add_argument("--time-scale", type=float, default=1.0,
                    help="divides the rate-limit window, the status cache and job durations")
    ap.add_argument("--url-ttl", type=float, default=3600.0, help="seconds before media URLs answer 410")
    ap.add_argument("--data-dir", default=None, help="where media files go (default: a temp dir)")
    ap.add_argument("--rate-limit", type=int, default=60, help="requests per window per key")
    ap.add_argument("--max-upload-mb", type=float, default=100.0)
    ap.add_argument("--quirk", action="append", default=[], metavar="NAME[=VALUE]",
                    help="reproduce a live API quirk: zero-credits-used, anonymous-history, 403, "
                         "SERVICE=FACTOR (e.g. seedance-video=2); repeatable")
    args = ap.parse_args(argv)
    for name in ("speed", "time_scale", "url_ttl", "max_upload_mb"):
        if getattr(args, name) <= 0:
            ap.error(f"--{name.replace('_', '-')} must be > 0")
    try:
        args.quirks = Quirks.parse_cli(args.quirk)
    except ValueError as exc:
        ap.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in COMMANDS:
        return persistent(argv)
    from phaya_notebook.catalog import credits_text

    from .config import SandboxConfig
    from .launcher import SandboxServer

    args = parse(argv)
    config = SandboxConfig.build(args.api_key, credits=args.credits, speed=args.speed,
                                 time_scale=args.time_scale, url_ttl=args.url_ttl, data_dir=args.data_dir,
                                 rate_limit=args.rate_limit, max_upload_mb=args.max_upload_mb,
                                 quirks=args.quirks)
    try:
        server = SandboxServer(config, args.host, args.port)
    except OSError:
        if args.port != DEFAULT_PORT:
            raise
        server = SandboxServer(config, args.host, 0)
    print("Phaya sandbox (offline, play credits). Use these with any Phaya client:", flush=True)
    print(f"PHAYA_BASE={server.base_url}")
    keys = server.api_keys
    print(f"PHAYA_API_KEY={keys[0]}")
    for key in keys[1:]:
        print(f"# another key: {key} ({credits_text(config.keys[key])})")
    print(f"PHAYA_SANDBOX_ADMIN={server.admin_token}")
    print(f"# API docs: {server.root_url}/docs  -  Ctrl-C stops the sandbox", flush=True)
    # uvicorn re-raises SIGTERM after shutting down; exit normally so files are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
