"""A local HTTP server for the protocol stand-ins: 127.0.0.1 only, a free port, a daemon thread.

Stand-ins give it their request handler; tests stop it (or use it as a context manager).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHTTPServer(ThreadingHTTPServer):
    """Drops errors from clients that hung up mid-reply (timeout tests do that on purpose)."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return


class LocalHTTPServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str) -> None:
        self.handler = handler
        self.name = name
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        """http://127.0.0.1:PORT"""
        assert self._server is not None, f"{self.name} not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalHTTPServer:
        self._server = QuietHTTPServer(("127.0.0.1", 0), self.handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
