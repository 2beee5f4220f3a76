"""Webhooks from the outbox, against a real HTTP receiver on 127.0.0.1: while the receiver is
down and then answering 500, events wait and are retried; once it answers 200 every event has
arrived, in commit order per endpoint, each signature verifies with the standardwebhooks
library, and a retried event carries the same webhook-id and body. 410 Gone disables an
endpoint; URLs that point inward are refused; a server killed between commit and delivery
(even mid-request) delivers the event after it restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from smtp_logger.run.webhooks import WebhookSender

from .apisupport import new_key, problem, start_api
from .conftest import Cli, free_port, make_env, start_receiver
from .hookreceiver import HookReceiver
from .mailers import message, send

ALICE, BOB, CAROL = "alice@ours.example", "bob@acme.example", "carol@globex.example"
FAST = dict(webhook_allow_private_networks=True, webhook_retry_schedule="0.2,0.4,0.8", webhook_timeout=2)
BIN = Path(sys.executable).parent / "smtp-logger"


def wait_for(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def verified(secret: str, requests) -> list[dict]:
    """Each request's payload, after its signature verified."""
    return [Webhook(secret).verify(body, headers) for headers, body in requests]


def first_arrivals(requests) -> list[str]:
    return list(dict.fromkeys(h["webhook-id"] for h, _ in requests))


@pytest.fixture
def setup(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url, **FAST)
    api = start_api(rx.settings)
    rx.add_user(ALICE)
    rx.cli("contacts", "add", BOB)
    client = api.client(new_key(rx.cli))
    yield rx, api, client
    client.close()
    api.stop()
    rx.stop()


def test_down_then_500_then_200_delivers_everything_signed_once_each_in_order(setup):
    rx, api, crm = setup
    hooks = HookReceiver()  # not listening yet: connections are refused
    everything = crm.post("/v1/webhooks", json={"url": hooks.url + "/all"}).json()
    logged_only = crm.post("/v1/webhooks", json={"url": hooks.url + "/logged", "events": ["engagement.logged"]}).json()
    assert everything["secret"].startswith("whsec_") and "secret" not in crm.get("/v1/webhooks").json()["items"][0]
    deliverer = WebhookSender(rx.settings).start()
    try:
        forward = rx.users[ALICE]["forward_address"]
        assert send(rx.port, message(f"Carol <{CAROL}>", ALICE, subject="Question"), [forward], mail_from=CAROL) == {}
        rx.drain()  # message.held
        assert send(rx.port, message(ALICE, BOB, subject="Offer"), [rx.users[ALICE]["bcc_address"]],
                    mail_from=ALICE) == {}
        rx.drain()  # engagement.logged
        crm.patch("/v1/account", json={"log_all_from_contacts": True}).raise_for_status()
        assert crm.post("/v1/contacts", json={"email": CAROL}).json()["retroactively_logged"] == 1  # logged, released
        assert send(rx.port, message("mallory@ours.example", BOB, subject="Forged"), [rx.users[ALICE]["bcc_address"]],
                    mail_from="mallory@ours.example") == {}
        rx.drain()  # message.not_logged (SENDER_NOT_ALLOWED)
        assert crm.post("/v1/never-log/acme.example/purge").json()["deleted"] == 1  # engagement.deleted
        wait_for(lambda: any(d["outcome"] == "failed" for d in
                             crm.get(f"/v1/webhooks/{everything['id']}/deliveries").json()["items"]), what="a refused try")
        hooks.start(script=[500, 500, 500])
        expected = ["message.held", "engagement.logged", "engagement.logged", "message.released",
                    "message.not_logged", "engagement.deleted"]
        wait_for(lambda: len(first_arrivals(hooks.delivered("/all"))) == len(expected), what="every event")
        wait_for(lambda: len(first_arrivals(hooks.delivered("/logged"))) == 2, what="the logged events")
    finally:
        deliverer.stop()
        hooks.stop()
    for path, secret, types in (("/all", everything["secret"], expected),
                                ("/logged", logged_only["secret"], ["engagement.logged"] * 2)):
        ok = hooks.delivered(path)
        payloads = verified(secret, ok)
        assert [p["type"] for p in payloads] == types  # commit order; each delivered once after its 200
        ids = [h["webhook-id"] for h, _ in ok]
        assert len(set(ids)) == len(ids) and [int(i.split("_")[1]) for i in ids] == sorted(int(i.split("_")[1]) for i in ids)
        tries = hooks.all_to(path)
        for headers, body, _status in tries:  # every try, answered 500 or not, is signed
            assert Webhook(secret).verify(body, headers)["type"] in types
        by_id = {}  # a retry is the same message: same id, same bytes
        for headers, body, _status in tries:
            by_id.setdefault(headers["webhook-id"], set()).add(body)
        assert all(len(bodies) == 1 for bodies in by_id.values())
        for _headers, body in ok:
            assert b"MIME-Version" not in body and b"Message-ID:" not in body  # never the raw message
    retried = [h["webhook-id"] for h, _b, status in hooks.all_to("/all") if status == 500]
    assert retried and set(retried) <= set(first_arrivals(hooks.delivered("/all")))
    held, logged = (json.loads(b)["data"] for _h, b in hooks.delivered("/all")[:2])
    assert held["reason"] == "SENDER_NOT_CONTACT" and held["explanation"]
    assert logged["subject"] == "Offer" and logged["to"] == [BOB] and logged["sent_at"].endswith("Z")
    outcomes = [d["outcome"] for d in crm.get(f"/v1/webhooks/{everything['id']}/deliveries", params={"limit": 500}).json()["items"]]
    assert outcomes.count("delivered") == len(expected) and "failed" in outcomes


def test_410_gone_disables_the_endpoint(setup):
    rx, api, crm = setup
    hooks = HookReceiver().start(script=[410])
    hook = crm.post("/v1/webhooks", json={"url": hooks.url + "/gone"}).json()
    deliverer = WebhookSender(rx.settings).start()
    try:
        for subject in ("One", "Two"):
            assert send(rx.port, message(ALICE, BOB, subject=subject), [rx.users[ALICE]["bcc_address"]],
                        mail_from=ALICE) == {}
        rx.drain()
        wait_for(lambda: not crm.get("/v1/webhooks").json()["items"][0]["active"], what="disabled")
        time.sleep(1.5)  # several retry periods: nothing more is sent
    finally:
        deliverer.stop()
        hooks.stop()
    [endpoint] = crm.get("/v1/webhooks").json()["items"]
    assert endpoint["disabled_reason"] == "the receiver answered 410 Gone"
    assert len(hooks.all_to("/gone")) == 1
    assert [d["outcome"] for d in crm.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]] == ["gone"]


def test_urls_that_point_inward_are_refused(tmp_path, db_url):
    rx = start_receiver(tmp_path, db_url)  # webhook_allow_private_networks off (the default)
    api = start_api(rx.settings)
    try:
        with api.client(new_key(rx.cli)) as crm:
            for url in ("https://127.0.0.1/h", "https://localhost/h", "https://10.1.2.3/h", "https://192.168.0.9/h",
                        "https://169.254.169.254/latest", "https://[::1]/h", "https://[::ffff:127.0.0.1]/h",
                        "https://[fe80::1]/h", "http://203.0.113.9/h", "ftp://example.com/h", "https://user:pw@1.1.1.1/h"):
                body = problem(crm.post("/v1/webhooks", json={"url": url}), 422, "webhook-url-refused")
                assert body["detail"], url
            assert crm.get("/v1/webhooks").json()["items"] == []
    finally:
        api.stop()
        rx.stop()


def _serve(env: dict) -> subprocess.Popen:
    process = subprocess.Popen([str(BIN), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{env['SMTP_LOGGER_API_PORT']}/v1/openapi.json"

    def up():
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False
    wait_for(up, 60, "smtp-logger serve")
    return process


def test_an_event_committed_before_a_crash_is_delivered_after_the_restart(tmp_path, db_url):
    env = {**os.environ, **make_env(tmp_path, db_url, port=free_port(), api_port=free_port(), **FAST)}
    cli = Cli({k: v for k, v in env.items() if k.startswith("SMTP_LOGGER_")})
    cli("db", "upgrade")
    alice = cli.json("users", "add", ALICE)
    key = new_key(cli)
    hooks = HookReceiver().start()
    hooks.hold.clear()  # the first request is held open: the server dies during it
    server = _serve(env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{env['SMTP_LOGGER_API_PORT']}",
                          headers={"Authorization": f"Bearer {key}"}) as crm:
            hook = crm.post("/v1/webhooks", json={"url": hooks.url + "/crash"}).json()
        assert send(int(env["SMTP_LOGGER_PORT"]), message(ALICE, BOB, subject="Before the crash"),
                    [alice["bcc_address"]], mail_from=ALICE) == {}
        assert hooks.got_one.wait(60), "no delivery started"
        server.send_signal(signal.SIGKILL)  # committed, being delivered, not acknowledged
        server.wait(30)
        in_flight = hooks.arrived[0]["webhook-id"]
        hooks.hold.set()
        time.sleep(0.3)
        with hooks.lock:
            hooks.requests.clear()  # the answer to the killed request reached no one
        cli("never-log", "purge", BOB, "--yes")  # committed while no server runs at all
        server = _serve(env)
        wait_for(lambda: len(first_arrivals(hooks.delivered("/crash"))) == 2, 90, "both events after the restart")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        hooks.stop()
    delivered = hooks.delivered("/crash")
    payloads = verified(hook["secret"], delivered)
    assert [p["type"] for p in payloads] == ["engagement.logged", "engagement.deleted"]
    assert payloads[0]["data"]["subject"] == "Before the crash"
    assert payloads[1]["data"]["engagement_id"] == payloads[0]["data"]["engagement_id"]
    assert delivered[0][0]["webhook-id"] == in_flight  # the same message as the one the crash cut off
