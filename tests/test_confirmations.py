"""Forwarding confirmations read from our copies of the real formats (tests/confirmations/):
who sends them, the code, the confirming link (never the cancelling one), who asked; and what
only looks like one."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

import pytest

from smtp_logger.decide.rules import Candidate, CrmFacts, UserFacts, decide
from smtp_logger.understand.addresses import Mailbox
from smtp_logger.understand.classify import find_confirmation
from smtp_logger.understand.parse import POLICY

FIXTURES = Path(__file__).parent / "confirmations"
FORWARD = "t0ken@fwd.smtp-logger.localhost"


def load(name: str, forward: str = FORWARD):
    raw = (FIXTURES / name).read_bytes().replace(b"{{FORWARD}}", forward.encode())
    return message_from_bytes(raw, policy=POLICY)


@pytest.mark.parametrize("name,code,link,requester", [
    ("gmail_with_code.eml", "481516234",
     "https://mail-settings.google.com/mail/vf-%5BANGjdJ_Lq3cXfake7Rk%5D-Wq9nB2vHkfakeT0k", "bob.seller@gmail.com"),
    ("gmail_2026_no_code.eml", None,
     "https://mail.google.com/mail/vf-%5BANGjdJ9e4eXp5hFAKE8Wz%5D-158Amv9LHmEseFAKE", "carla.rep@gmail.com"),
    ("gmail_es.eml", "271828182",
     "https://mail-settings.google.com/mail/vf-%5BANGjdJ-esFAKE42%5D-Tk9FAKEes", "dana.ventas@gmail.com"),
])
def test_gmail_confirmations_are_read(name, code, link, requester):
    found = find_confirmation(load(name))
    assert found is not None
    assert (found.provider, found.code, found.link, found.requester) == ("Gmail", code, link, requester)
    assert "/uf-" not in found.link and "support.google.com" not in found.link


@pytest.mark.parametrize("name", ["lookalike_enquiry.eml", "forged_wrong_link.eml"])
def test_lookalikes_are_not_confirmations(name):
    assert find_confirmation(load(name)) is None


def test_a_confirmation_is_decided_right_after_auth_failed():
    found = find_confirmation(load("gmail_with_code.eml"))
    c = Candidate(delivery="auto_copy", direction="incoming", from_=Mailbox("Gmail Team", "forwarding-noreply@google.com"),
                  to=(Mailbox(None, FORWARD),), cc=(), subject="(#481516234) Gmail Forwarding Confirmation",
                  sent_at=None, thread_keys=("x@mail.gmail.com",), dedup_key="mid:x@mail.gmail.com",
                  subject_key="gmail forwarding confirmation", automatic=("AUTO_REPLY", "Auto-Submitted"),
                  confirmation=found)
    facts = CrmFacts(user=UserFacts(1, frozenset({"alice@ours.example"})), internal_addresses=frozenset(),
                     logging_domains=frozenset({"fwd.smtp-logger.localhost"}), never_log=frozenset(),
                     contacts={}, already_logged=True)
    decision = decide(c, facts)  # also a duplicate and automatic: the confirmation comes first
    assert decision.reason == "FORWARDING_CONFIRMATION" and not decision.held
    assert "481516234" in decision.detail and found.link in decision.detail
    # on a BCC address the sender check comes first: Google is not the user
    on_bcc = Candidate(**{**c.__dict__, "delivery": "bcc", "direction": "outgoing"})
    assert decide(on_bcc, facts).reason == "SENDER_NOT_ALLOWED"
