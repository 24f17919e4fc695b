"""A real, throw-away PostgreSQL server for the tests: initdb in a temp dir, 127.0.0.1, a free port.

Debian's ``postgresql`` package (installed by .ci/run) puts the server in
``/usr/lib/postgresql/<version>/bin``. PostgreSQL refuses to run as root, so as root the
cluster belongs to the ``postgres`` user the package creates and commands run through
``runuser``. Trust authentication on 127.0.0.1 only; fsync off (a test cluster).
Without a server binary the tests skip, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["PgServer", "pg_bin", "postgres_server"]


def pg_bin() -> str | None:
    """The directory of initdb/pg_ctl: ``$PG_BIN``, Debian's newest version, or the PATH."""
    env = os.environ.get("PG_BIN")
    if env and os.path.exists(os.path.join(env, "initdb")):
        return env
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _runuser() -> str:
    """util-linux's runuser lives in /usr/sbin, which a bare PATH (``env -i``) leaves out."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which("runuser", path=path) or "runuser"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One running cluster; :meth:`database` makes a fresh database and returns its URL."""

    def __init__(self, bindir: str, root: str, port: int, run_as: str | None):
        self.bindir, self.root, self.port, self.run_as = bindir, root, port, run_as
        self.data = os.path.join(root, "data")
        self.url = f"postgresql://phaya@127.0.0.1:{port}/postgres"

    def _cmd(self, *args: str) -> list[str]:
        cmd = [os.path.join(self.bindir, args[0]), *args[1:]]
        return [_runuser(), "-u", self.run_as, "--", *cmd] if self.run_as else cmd

    def start(self) -> PgServer:
        subprocess.run(self._cmd("initdb", "-D", self.data, "-U", "phaya", "-A", "trust", "-E", "UTF8",
                                 "--no-sync", "--no-instructions"),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.root)
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        subprocess.run(self._cmd("pg_ctl", "-D", self.data, "-o", opts, "-l", os.path.join(self.root, "log"),
                                 "-w", "-t", "60", "start"),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.root)
        return self

    def stop(self) -> None:
        subprocess.run(self._cmd("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url.rsplit("/", 1)[0] + "/" + name


@contextmanager
def postgres_server() -> Iterator[PgServer]:
    """A started cluster, stopped and deleted on the way out; raises FileNotFoundError without one."""
    bindir = pg_bin()
    if bindir is None:
        raise FileNotFoundError("no PostgreSQL server binaries (install Debian's postgresql package)")
    run_as = None
    root = tempfile.mkdtemp(prefix="phaya-pg-")
    if os.geteuid() == 0:  # the server refuses root: hand the cluster to the package's user
        import pwd

        run_as = "postgres"
        pw = pwd.getpwnam(run_as)
        os.chown(root, pw.pw_uid, pw.pw_gid)
    server = PgServer(bindir, root, _free_port(), run_as)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    try:
        yield server
    finally:
        server.stop()
