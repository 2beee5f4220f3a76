"""What runs beside the receiver: the webhook deliverer (always: events are written whether or
not an API runs here) and, when api_port is set, the HTTP API on api_host in its own thread.
The cli does not import the api package (siblings in the layers): uvicorn loads the app by its
import string, as it loads any ASGI app.
"""

from __future__ import annotations

import threading

import uvicorn
from uvicorn.importer import import_from_string

from smtp_logger.run.webhooks import Deliverer

APP = "smtp_logger.api.app:create_app"


def api_server(settings, host: str | None = None, port: int | None = None) -> uvicorn.Server:
    app = import_from_string(APP)(settings)
    return uvicorn.Server(uvicorn.Config(app, host=host or settings.api_host, port=port or settings.api_port,
                                         log_config=None, access_log=False, server_header=False))


class Companions:
    def __init__(self, settings):
        self.deliverer = Deliverer(settings).start()
        self.api: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        if settings.api_port:
            self.api = api_server(settings)
            self.thread = threading.Thread(target=self.api.run, name="smtp-logger-api", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        if self.api is not None:
            self.api.should_exit = True
            self.thread.join(15)
        self.deliverer.stop()
