"""The metrics port: Prometheus metrics (/metrics, and any other path, as before), liveness
(/healthz: the process answers) and readiness (/readyz: 200 only when the database answers,
the spool is writable and data_dir has more than min_free_bytes free; else 503 naming each
failing check in a JSON body). Served from its own threads; never touches the event loop.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, make_wsgi_app

from smtp_logger.intake.disk import free_bytes
from smtp_logger.intake.spool import Spool
from smtp_logger.store.health import database_error


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # probes every few seconds: not worth a log line each
        pass


def readiness(settings, spool: Spool) -> dict[str, dict]:
    """Each check: {"ok": bool, "detail": str}."""
    checks = {}
    error = database_error(settings.db_url)
    checks["database"] = {"ok": error is None, "detail": error or "answers"}
    probe = spool.tmp / f".readyz-{os.getpid()}-{threading.get_ident()}"
    try:
        with open(probe, "wb") as f:
            f.write(b"ready?")
            os.fsync(f.fileno())
        probe.unlink()
        checks["spool"] = {"ok": True, "detail": "writable"}
    except OSError as exc:
        checks["spool"] = {"ok": False, "detail": f"{exc.__class__.__name__}: {exc.strerror or exc}"}
    try:
        free = free_bytes(spool.root)
        checks["disk"] = {"ok": free > settings.min_free_bytes, "free_bytes": free,
                          "min_free_bytes": settings.min_free_bytes,
                          "detail": f"{free} bytes free, {settings.min_free_bytes} required"}
    except OSError as exc:
        checks["disk"] = {"ok": False, "detail": f"{exc.__class__.__name__}: {exc.strerror or exc}"}
    return checks


def _respond(start_response, status: str, body: bytes, content_type: str) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def wsgi_app(settings, spool: Spool):
    metrics = make_wsgi_app(REGISTRY)

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            return _respond(start_response, "200 OK", b"ok\n", "text/plain; charset=utf-8")
        if path == "/readyz":
            checks = readiness(settings, spool)
            failing = [name for name, check in checks.items() if not check["ok"]]
            body = json.dumps({"ready": not failing, "failing": failing, "checks": checks}, indent=2).encode()
            status = "503 Service Unavailable" if failing else "200 OK"
            return _respond(start_response, status, body + b"\n", "application/json")
        return metrics(environ, start_response)

    return app


class HealthServer:
    """The metrics port's HTTP server, in a daemon thread."""

    def __init__(self, settings, spool: Spool):
        self.server = make_server(settings.host, settings.metrics_port, wsgi_app(settings, spool),
                                  server_class=_Server6 if ":" in settings.host else _Server,
                                  handler_class=_QuietHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="smtp-logger-metrics", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
