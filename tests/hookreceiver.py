"""A real webhook receiver for the tests: an HTTP server on 127.0.0.1 that records every request
(headers and body) and answers from a script of status codes (then 200), optionally holding a
request open until released."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .conftest import free_port


class HookReceiver:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[tuple[str, dict, bytes, int]] = []
        self.script: list[int] = []
        self.arrived: list[dict] = []  # headers of every request, as it arrives
        self.hold = threading.Event()
        self.hold.set()  # set = answer at once
        self.got_one = threading.Event()
        self.server: ThreadingHTTPServer | None = None
        self.lock = threading.Lock()

    def start(self, script: list[int] = ()) -> "HookReceiver":
        self.script = list(script)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.arrived.append({k.lower(): v for k, v in self.headers.items()})
                receiver.got_one.set()
                receiver.hold.wait(60)
                with receiver.lock:
                    status = receiver.script.pop(0) if receiver.script else 200
                    receiver.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.hold.set()
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def delivered(self, path: str) -> list[tuple[dict, bytes]]:
        """Requests to `path` answered 2xx, in arrival order."""
        with self.lock:
            return [(h, b) for p, h, b, status in self.requests if p == path and 200 <= status < 300]

    def all_to(self, path: str) -> list[tuple[dict, bytes, int]]:
        with self.lock:
            return [(h, b, status) for p, h, b, status in self.requests if p == path]
