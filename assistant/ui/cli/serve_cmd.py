"""`academichub serve` (the Chainlit app) and `academichub hash-password` (users for its login)."""

from __future__ import annotations

import os
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import typer

from assistant.ui.auth import hash_password, parse_auth_users
from assistant.ui.cli.common import UserError, app, console, err_console, friendly_errors, settings

PACKAGE_DIR = Path(__file__).resolve().parents[2]  # assistant/
APP_FILE = PACKAGE_DIR / "ui" / "chat" / "app.py"


def app_root() -> Path:
    """The folder holding chainlit.md, .chainlit/config.toml and public/: the project folder for a source
    (editable) install, the package folder for a wheel (which carries chainlit.md inside the package).
    Chainlit reads them relative to CHAINLIT_APP_ROOT, so `serve` works from any working directory."""
    for candidate in (PACKAGE_DIR.parent, PACKAGE_DIR):
        if (candidate / "chainlit.md").is_file():
            return candidate
    raise UserError(f"chainlit.md not found next to {PACKAGE_DIR}: the installation is incomplete")


def use_private_files_dir() -> Path:
    """Give this server its own folder for the files Chainlit serves (source panels, exports).

    Chainlit keeps them in APP_ROOT/.files and deletes that whole folder when it stops, so two servers of
    one installation (a developer's and a test's) would delete each other's files mid-session, and every
    answer with sources would then fail with "No such file or directory". Chainlit still deletes this
    folder at shutdown. Call after CHAINLIT_APP_ROOT is set."""
    import chainlit.config
    import chainlit.server

    files = Path(tempfile.mkdtemp(prefix="academichub-chainlit-files-"))
    chainlit.config.FILES_DIRECTORY = files  # read by sessions when they store a file
    chainlit.server.FILES_DIRECTORY = files  # deleted by the server at shutdown
    return files


def own_origins(host: str, port: int, extra: str = "") -> list[str]:
    """The origins allowed to call the app with a user's cookie: its own address (and its loopback alias),
    then the configured extra ones. Never "*"."""
    origins = [f"http://{'[' + host + ']' if ':' in host else host}:{port}"]
    if host in ("127.0.0.1", "localhost", "::1"):
        origins += [f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}"]
    origins += [o.strip().rstrip("/") for o in extra.split(",") if o.strip()]
    return list(dict.fromkeys(o for o in origins if o != "*"))


def restrict_origins(origins: list[str]) -> None:
    """Apply the allowed origins to Chainlit's CORS middleware and to its socket.io server.

    Chainlit passes `config.project.allow_origins` to Starlette's CORSMiddleware when `chainlit.server` is
    imported (so call this first), and starts socket.io with origin checks off (`cors_allowed_origins=[]`):
    a page anywhere could open a websocket with the user's cookie. The socket now accepts the origins
    above and the page's own origin (its Host header: a server on 0.0.0.0 is reached by many names)."""
    import sys

    from chainlit.config import config

    if "chainlit.server" in sys.modules:
        raise RuntimeError("restrict_origins must run before chainlit.server is imported")
    config.project.allow_origins = list(origins)
    import chainlit.server

    def same_or_listed(origin: str | None, environ: dict[str, str]) -> bool:
        host = environ.get("HTTP_HOST", "")
        scheme = environ.get("wsgi.url_scheme", "http")
        return origin is None or origin in origins or origin == f"{scheme}://{host}"

    chainlit.server.sio.eio.cors_allowed_origins = same_or_listed


def own_hosts(host: str, extra: str = "", public_url: str = "") -> list[str]:
    """The host names (any port) the app answers to: its bind address (unless it is a wildcard), the
    loopback names, the host of the configured public address, then the configured extra ones. A request
    naming another host is a page elsewhere reaching the app through DNS rebinding."""
    hosts = ["localhost", "127.0.0.1", "::1"]
    if host not in ("0.0.0.0", "::", ""):
        hosts.insert(0, host)
    public_host = urlsplit(public_url.strip()).hostname if public_url.strip() else None
    if public_host:
        hosts.append(public_host)
    hosts += [h.strip() for h in extra.split(",") if h.strip()]
    return list(dict.fromkeys(h.lower().strip("[]") for h in hosts))


def restrict_hosts(hosts: list[str]) -> None:
    """Answer 400 to any request (pages, the API, the feeds, socket.io polling and its websocket upgrade)
    whose Host header names none of `hosts`. Chainlit mounts socket.io inside its FastAPI app, so one
    middleware on that app covers everything it serves. Call before the server starts."""
    from chainlit.server import app as server
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    server.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False)


STOP_GRACE_SECONDS = 3.0


def stop_within(grace: float = STOP_GRACE_SECONDS) -> None:
    """Make SIGTERM and SIGINT stop the server at any moment, within `grace` seconds.

    Before Chainlit's web server runs, either signal raises KeyboardInterrupt in the main thread (`serve`
    says "stopped." and exits 0). Once uvicorn runs, it takes the signals itself and shuts down (Chainlit
    then ends the process, status 0), but a start-up step running in a worker thread (loading the embedding
    model, the index checks) cannot be interrupted, and both uvicorn's start-up and the interpreter's exit
    wait for it: the server ignored SIGTERM for 40 s. So the first signal also starts a timer that ends the
    process after `grace` seconds, whatever is still running. Serving writes its state only in SQLite
    transactions, so such a stop loses nothing but this server's temporary folders."""
    import uvicorn

    def arm() -> None:
        if not any(t.name == "academichub-stop" for t in threading.enumerate()):
            threading.Thread(target=_exit_after, args=(grace,), name="academichub-stop", daemon=True).start()

    def interrupt(signum: int, frame: object) -> None:
        arm()
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, interrupt)
    uvicorn_exit = uvicorn.Server.handle_exit

    def handle_exit(self: uvicorn.Server, sig: int, frame: object) -> None:
        arm()
        uvicorn_exit(self, sig, frame)  # type: ignore[arg-type]

    uvicorn.Server.handle_exit = handle_exit  # type: ignore[method-assign]


_STOPPED = threading.Event()


def say_stopped() -> None:
    """Print "stopped." once, whichever of the main thread and the stop timer gets there first."""
    if not _STOPPED.is_set():
        _STOPPED.set()
        console.print("stopped.")


def _exit_after(grace: float) -> None:
    time.sleep(grace)
    say_stopped()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def force_language(language: str) -> None:
    """ACADEMICHUB_LANGUAGE=en or zh-CN: Chainlit's own interface and Readme in that language for every
    browser (its `[UI] language`), and the page script told so (it picks its tab names and placeholders by
    the browser's language otherwise). `auto` leaves both to the browser."""
    from chainlit.config import config

    if language == "auto":
        return
    config.ui.language = "zh-CN" if language == "zh-CN" else "en-US"
    if config.ui.custom_js:
        config.ui.custom_js = f"{config.ui.custom_js.split('?', 1)[0]}?lang={config.ui.language}"


def check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as err:
            raise UserError(f"cannot listen on {host}:{port} ({err.strerror}): pick another --port") from None


def check_login_settings() -> int:
    users = parse_auth_users(settings().app.auth_users)
    if users and not os.environ.get("CHAINLIT_AUTH_SECRET"):
        raise UserError(
            "ACADEMICHUB_AUTH_USERS is set but CHAINLIT_AUTH_SECRET is not: make one with "
            "`chainlit create-secret` and export it (or put it in .env)"
        )
    return len(users)


@app.command()
@friendly_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 = all)."),
    port: int = typer.Option(8000, "--port", "-p", min=1, max=65535, help="Port to listen on."),
) -> None:
    """Start the chat app (Ask, Briefing, Radar) at http://HOST:PORT."""
    stop_within()
    try:
        run_server(host, port)
    except KeyboardInterrupt:  # SIGINT or SIGTERM, at any step of the start-up or while serving
        say_stopped()


def run_server(host: str, port: int) -> None:
    """Check the settings and the port, set Chainlit up, then serve until stopped."""
    cfg = settings()
    users = check_login_settings()
    check_port(host, port)
    root = app_root()
    # Chainlit resolves its config, welcome screen and public files from CHAINLIT_APP_ROOT at import time,
    # so set it (and the address) before importing chainlit.
    os.environ["CHAINLIT_APP_ROOT"] = str(root)
    os.environ["CHAINLIT_HOST"] = host
    os.environ["CHAINLIT_PORT"] = str(port)
    from chainlit.cli import run_chainlit
    from chainlit.config import config

    config.run.headless = True
    restrict_origins(own_origins(host, port, cfg.app.allow_origins))
    hosts = own_hosts(host, cfg.app.allowed_hosts, cfg.delivery.public_url)
    restrict_hosts(hosts)
    use_private_files_dir()
    force_language(cfg.app.language)
    mode = "language model" if cfg.llm.configured else "extractive mode (no language model configured)"
    login = f"password login for {users} user(s)" if users else "no login"
    history = "chat history on" if cfg.app.chat_history else "chat history off"
    console.print(
        f"AcademicHub on [bold]http://{host}:{port}[/] · data {cfg.storage.location} · {mode} · {login} · "
        f"{history}",
        highlight=False,
    )
    if host in ("0.0.0.0", "::") and not cfg.app.allowed_hosts.strip():
        console.print(
            "Answering only to localhost and 127.0.0.1: set ACADEMICHUB_ALLOWED_HOSTS to the names this "
            "machine is reached by.",
            style="yellow",
        )
    console.print("Loading the embedding model, then serving. Ctrl+C stops.", style="dim")
    run_chainlit(str(APP_FILE))


@app.command("hash-password")
@friendly_errors
def hash_password_cmd(
    user: str = typer.Argument(..., help="User name for the login."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
) -> None:
    """Print USER:bcrypt-hash for ACADEMICHUB_AUTH_USERS (comma-separate several users)."""
    if not user.strip() or any(ch in user for ch in ":,"):
        raise UserError("the user name must be non-empty and contain no ':' or ','")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = f"{user.strip()}:{hash_password(password)}"
    sys.stdout.write(line + "\n")
    err_console.print("Add this to ACADEMICHUB_AUTH_USERS (and set CHAINLIT_AUTH_SECRET).", style="dim")
