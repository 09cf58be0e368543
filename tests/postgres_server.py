"""A real PostgreSQL server for the tests: a throwaway cluster (initdb) in a temporary directory, listening on
127.0.0.1 only (no Unix socket in a shared place), run as an unprivileged OS user (the server refuses to
run as root; when the tests run as root, the `academichub-pg` system user is made once), stopped by the
test session that started it.

`ACADEMICHUB_TEST_DATABASE_URL` points the tests at a server someone else runs instead (a superuser URL:
each test makes its own database). Debian's `postgresql` package provides the binaries (`make
postgres-deps` installs it where missing); without them, the PostgreSQL tests are skipped, except in CI
(`CI=true`), where a missing server fails them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

SERVER_USER = "academichub-pg"


def postgres_bindir() -> Path | None:
    """The newest installed server's binaries (Debian keeps them out of PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _server_user() -> str | None:
    """The OS user the server runs as: this one, or (as root) an unprivileged system user made once."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
            check=True,
            capture_output=True,
        )
    return SERVER_USER


@dataclass
class PostgresServer:
    """One cluster: `start()` (initdb + pg_ctl start, trust auth on 127.0.0.1), `url(database)`,
    `create_database()`, `stop()`/`start_again()` for the outage tests, `remove()`."""

    port: int
    bindir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="academichub-pg-")))
    user: str | None = None
    external_url: str | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> PostgresServer:
        self.user = _server_user()
        if self.user:
            subprocess.run(["chown", self.user, str(self.root)], check=True)
        os.chmod(self.root, 0o755)
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
            )
        self.start_again()
        return self

    def start_again(self) -> None:
        log = str(self.root / "server.log")
        result = self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", log, "-w", "-t", "60", "start", check=False
        )
        if result.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()}\n{log}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop", check=False)

    def remove(self) -> None:
        if self.external_url is None:
            self.stop()
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        if self.external_url:
            base = self.external_url.rsplit("/", 1)[0]
            return f"{base}/{database}"
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        """One statement as the superuser (outside a transaction: CREATE DATABASE, roles)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def wait_ready(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def start_server(port: int) -> PostgresServer | str:
    """A started server, or why there is none (no binaries)."""
    external = os.environ.get("ACADEMICHUB_TEST_DATABASE_URL")
    if external:
        server = PostgresServer(port=0, bindir=Path("/"), external_url=external)
        server.wait_ready()
        return server
    bindir = postgres_bindir()
    if bindir is None:
        return "PostgreSQL is not installed (make postgres-deps installs Debian's package)"
    return PostgresServer(port=port, bindir=bindir).start()
