"""schemathesis against the served /v1/openapi.json, on SQLite and PostgreSQL, with a bounded
number of examples per operation: no answer is a 5xx, and every answer (status, content type,
headers, body) is one the document describes. The account is seeded through the real paths
(a user, a contact, an engagement with an attachment, a held message) so that generated ids hit
real rows. Webhook URLs resolve only literal IP addresses here (no DNS query leaves the machine)
and no deliverer runs, so nothing is ever sent to a generated URL."""

from __future__ import annotations

import itertools
import socket

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from smtp_logger.api.app import create_app

from .apisupport import new_key, start_api
from .mailers import message, send

EXAMPLES = 12  # per operation and mode
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)  # data the document allows, and data it does not
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


def numeric_only(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                       flags=socket.AI_NUMERICHOST)]


@pytest.fixture
def seeded(receiver):
    alice = receiver.add_user("alice@ours.example")
    receiver.cli("contacts", "add", "bob@acme.example", "--name", "Bob")
    m = message("alice@ours.example", "bob@acme.example", subject="Seed")
    m.add_attachment(b"%PDF-seed", maintype="application", subtype="pdf", filename="seed.pdf")
    assert send(receiver.port, m, [alice["bcc_address"]], mail_from="alice@ours.example") == {}
    stranger = message("Eve <eve@elsewhere.example>", "alice@ours.example", subject="Held")
    assert send(receiver.port, stranger, [alice["forward_address"]], mail_from="eve@elsewhere.example") == {}
    receiver.drain()
    api = start_api(receiver.settings, create_app(receiver.settings, resolve=numeric_only))
    yield api, new_key(receiver.cli)
    api.stop()


def test_no_5xx_and_no_answer_outside_the_document(seeded):
    api, key = seeded
    schema = schemathesis.openapi.from_url(f"{api.url}/v1/openapi.json")
    failures, tried, statuses = {}, [], []
    for result, mode in itertools.product(list(schema.get_all_operations()), MODES):
        operation = result.ok()

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)
            statuses.append(response.status_code)

        try:
            check()
        except Exception as exc:  # report every operation that failed, not just the first
            failures[operation.label] = str(exc)[:1500]
        tried.append(operation.label)
    assert len(set(tried)) == 28, tried  # every operation of the document
    assert len(statuses) >= 5 * len(tried) and {200, 201, 404, 409, 422} <= set(statuses), sorted(set(statuses))
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
