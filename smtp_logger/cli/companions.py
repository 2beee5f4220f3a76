"""What runs beside the receiver: the webhook deliverer (always: events are written whether or
not an API runs here) and, when api_port is set, the HTTP API on api_host in its own thread.
The cli does not import the api package (siblings in the layers): uvicorn loads the app by its
import string, as it loads any ASGI app.
"""

from __future__ import annotations

import signal
import threading

from smtp_logger.run.webhooks import WebhookSender

APP = "smtp_logger.api.app:create_app"


def api_server(settings, host: str | None = None, port: int | None = None):
    """The API's uvicorn server (uvicorn and FastAPI are imported only when an API runs)."""
    import uvicorn
    from uvicorn.importer import import_from_string
    app = import_from_string(APP)(settings)
    return uvicorn.Server(uvicorn.Config(app, host=host or settings.api_host, port=port or settings.api_port,
                                         log_config=None, access_log=False, server_header=False))


class Companions:
    def __init__(self, settings, host: str | None = None, port: int | None = None):
        self.deliverer = WebhookSender(settings).start()
        self.api = None  # a uvicorn.Server when the API runs here
        self.thread: threading.Thread | None = None
        if port or settings.api_port:
            self.api = api_server(settings, host, port)
            self.thread = threading.Thread(target=self.api.run, name="smtp-logger-api", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        if self.api is not None:
            self.api.should_exit = True
            self.thread.join(15)
        self.deliverer.stop()


def run_until_signalled(companions: Companions) -> None:
    """`smtp-logger api`: serve until SIGTERM or SIGINT, then stop both and return (exit 0)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if companions.thread is not None and not companions.thread.is_alive():
                raise RuntimeError("the API server stopped (is its port taken?)")
    finally:
        companions.stop()
