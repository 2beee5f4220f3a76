"""Workers decide several spooled deliveries in one transaction. A batch that cannot commit
(here: one delivery was already processed before a crash, so its row exists) is redone one
delivery at a time: the others are still logged, and nothing is logged twice."""

from __future__ import annotations

import shutil

from smtp_logger.base.config import load_settings
from smtp_logger.base.logsetup import configure
from smtp_logger.intake.spool import Spool
from smtp_logger.run.build import prepare
from smtp_logger.run.pipeline import Pipeline
from smtp_logger.store.db import session_factory

from .mailers import message, msgid
from .test_forward_e2e import SHAPES, forward_message

ALICE = "alice@ours.example"


def _spool(spool: Spool, rcpt: str, m) -> None:
    writer = spool.open_writer(ALICE, [rcpt], "127.0.0.1:1")
    writer.write(m.as_bytes())
    writer.commit()


def test_a_batch_with_an_already_processed_delivery_logs_each_message_once(cli):
    settings = load_settings(environ=cli.env)
    bcc = cli.json("users", "add", ALICE)["bcc_address"]
    spool = Spool(settings.data_path)
    pipeline = Pipeline(settings, session_factory(settings.db_url), spool)
    first, again, last = (message(ALICE, [f"buyer{i}@acme.example"], subject=f"Offer {i}") for i in range(3))

    _spool(spool, bcc, again)
    [entry] = spool.claim("w0", 10)
    kept = entry.path.with_name(entry.path.name + ".copy")
    shutil.copy(entry.path, kept)
    pipeline.process(entry)  # decided and committed ...
    kept.rename(entry.path.with_name(f"{entry.spool_id}.msg"))  # ... but a crash kept it in the spool
    _spool(spool, bcc, first)
    _spool(spool, bcc, last)

    batch = spool.claim("w0", 10)
    assert len(batch) == 3
    assert pipeline.process_batch(batch) == []

    for i, m in enumerate((first, again, last)):
        assert [d["reason"] for d in cli.json("why", msgid(m))] == ["LOGGED"]
        assert len(cli.json("timeline", f"buyer{i}@acme.example")) == 1
    assert spool.backlog() == 0


def test_a_batch_logs_every_delivery_and_empties_the_spool(cli):
    settings = load_settings(environ=cli.env)
    bcc = cli.json("users", "add", ALICE)["bcc_address"]
    spool = Spool(settings.data_path)
    pipeline = Pipeline(settings, session_factory(settings.db_url), spool)
    offer = message(ALICE, ["bob@acme.example"], subject="Offer")
    # the same message BCC'd twice in one batch (a client retry): one engagement, one DUPLICATE
    sent = [offer, offer, message(ALICE, ["carol@acme.example", "dan@globex.example"], subject="Other offer")]
    for m in sent:
        _spool(spool, bcc, m)
    assert pipeline.process_batch(spool.claim("w0", 10)) == []
    assert sorted(d["reason"] for d in cli.json("why", msgid(offer))) == ["DUPLICATE", "LOGGED"]
    [to_bob] = cli.json("timeline", "bob@acme.example")
    [to_carol] = cli.json("timeline", "carol@acme.example")
    # contacts and companies of every engagement in the batch, written together at its commit
    assert to_bob["contacts"] == ["bob@acme.example"]
    assert sorted(to_carol["contacts"]) == ["carol@acme.example", "dan@globex.example"]
    assert [c["domain"] for c in to_bob["companies"]] == ["acme.example"]
    assert [c["domain"] for c in to_carol["companies"]] == ["acme.example", "globex.example"]
    assert spool.backlog() == 0


def test_a_candidate_built_before_a_directory_change_is_built_again(cli):
    """Workers build a batch's candidates before taking the write lock; if the account's
    directory changes in between (here: the forwarder's address becomes Alice's alias, so her
    forward is a manual forward of the customer's email, not an automatic copy of hers), the
    decision uses the directory as it is when the batch is written."""
    settings = load_settings(environ=cli.env)
    forward_address = cli.json("users", "add", ALICE)["forward_address"]
    spool = Spool(settings.data_path)
    pipeline = Pipeline(settings, session_factory(settings.db_url), spool)
    forward = forward_message(*SHAPES[0][1:3], False)
    forward.replace_header("From", "Alice Private <alice.private@partner.example>")
    _spool(spool, forward_address, forward)
    [entry] = spool.claim("w0", 10)
    spool.keep_raw([entry])
    pipeline.raws.keep([entry])
    delivery = prepare(pipeline.raws, entry)
    pipeline.build([delivery])
    cli("users", "add-alias", ALICE, "alice.private@partner.example")
    with pipeline.sessions() as session:
        pipeline.deliverer.deliver(session, True, delivery, forward_address)
        session.commit()
    [logged] = cli.json("timeline", "anna@customer.example")
    assert logged["from"] == "anna@customer.example" and logged["direction"] == "incoming"


def test_forwards_of_one_conversation_in_one_batch_share_a_thread(cli):
    """An engagement's contacts are written at the end of its batch's transaction; a later
    forward without thread headers in the same batch still finds the conversation through
    them (same subject, same contact) instead of starting a second thread."""
    settings = load_settings(environ=cli.env)
    forward_address = cli.json("users", "add", ALICE)["forward_address"]
    spool = Spool(settings.data_path)
    pipeline = Pipeline(settings, session_factory(settings.db_url), spool)
    block = SHAPES[0][2]
    reply_block = block.replace("Mon, Nov 23, 2026 at 10:15 AM", "Mon, Nov 23, 2026 at 11:40 AM") \
        .replace("Subject: Quote for 2027", "Subject: Re: Quote for 2027")
    for outer, each in (("Fwd: Quote for 2027", block), ("Fwd: Re: Quote for 2027", reply_block)):
        _spool(spool, forward_address, forward_message(outer, each, False))

    batch = spool.claim("w0", 10)
    assert len(batch) == 2
    assert pipeline.process_batch(batch) == []

    timeline = cli.json("timeline", "anna@customer.example")
    assert sorted(e["subject"] for e in timeline) == ["Quote for 2027", "Re: Quote for 2027"]
    assert len({e["thread_id"] for e in timeline}) == 1


def test_a_batch_of_new_contacts_threads_replies_and_attachments_commits_as_one(cli, capfd):
    """A batch's received messages, threads, engagements, contacts and attachments are written
    together at its commit, with ids taken beforehand: a reply in the same batch still joins its
    thread, an email to a customer known before and one to a new customer each land on theirs,
    an attachment is listed, and the batch is not redone one delivery at a time. The first
    email is internal: its decision row waits before any engagement row it could refer to."""
    settings = load_settings(environ=cli.env)
    bcc = cli.json("users", "add", ALICE)["bcc_address"]
    cli("users", "add", "bob@ours.example")
    cli("contacts", "add", "known@acme.example")
    spool = Spool(settings.data_path)
    pipeline = Pipeline(settings, session_factory(settings.db_url), spool)
    internal = message(ALICE, ["bob@ours.example"], subject="Lunch")
    to_known = message(ALICE, ["known@acme.example"], subject="Renewal")
    to_new = message(ALICE, ["new@globex.example"], subject="Quote")
    reply = message(ALICE, ["new@globex.example"], subject="Re: Quote", in_reply_to=to_new["Message-ID"])
    with_file = message(ALICE, ["other@initech.example"], subject="Terms")
    with_file.add_attachment(b"%PDF-1.4 terms\n", maintype="application", subtype="pdf", filename="terms.pdf")
    for m in (internal, to_known, to_new, reply, with_file):
        _spool(spool, bcc, m)

    configure("json")  # the server's log lines to this test's stderr (the cli's went to its runner)
    capfd.readouterr()
    assert pipeline.process_batch(spool.claim("w0", 10)) == []
    logged = capfd.readouterr().err
    assert logged.count('"event": "decision"') == 5 and "batch_retried_one_by_one" not in logged
    assert [d["reason"] for d in cli.json("why", msgid(internal))] == ["NO_EXTERNAL_RECIPIENTS"]

    [renewal] = cli.json("timeline", "known@acme.example")
    assert renewal["subject"] == "Renewal"
    quote, again = sorted(cli.json("timeline", "new@globex.example"), key=lambda e: e["subject"])
    assert (quote["subject"], again["subject"]) == ("Quote", "Re: Quote")
    assert quote["thread_id"] == again["thread_id"] != renewal["thread_id"]
    [terms] = cli.json("timeline", "other@initech.example")
    assert [a["filename"] for a in terms["attachments"]] == ["terms.pdf"]
    ids = {cli.json("why", msgid(m))[0]["engagement_id"] for m in (to_known, to_new, reply, with_file)}
    assert len(ids) == 4 and None not in ids
    assert spool.backlog() == 0
