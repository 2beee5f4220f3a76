"""Starting the real HTTP API (uvicorn on a free 127.0.0.1 port, the app `smtp-logger serve` and
`smtp-logger api` build) beside a real receiver, and talking to it with httpx."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx
import uvicorn

from smtp_logger.cli.companions import api_server

from .conftest import free_port


@dataclass
class Api:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def start_api(settings, app=None) -> Api:
    port = free_port()
    if app is None:
        server = api_server(settings, "127.0.0.1", port)
    else:
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "API did not start"
        time.sleep(0.02)
    return Api(f"http://127.0.0.1:{port}", server, thread)


def new_key(cli, account: int | None = None, name: str = "crm") -> str:
    args = ["api-keys", "create", "--name", name] + (["--account", str(account)] if account else [])
    created = cli.json(*args)
    assert set(created) >= {"id", "key"}
    return created["key"]


def problem(response: httpx.Response, status: int, slug: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == f"/v1/problems/{slug}" and body["status"] == status and body["title"]
    return body
