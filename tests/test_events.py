"""The outbox's two promises, on both databases with real sessions: an event exists exactly when
the transaction of its change commits (a rollback leaves none), and event ids follow commit
order per account, so a reader never sees a later event while an earlier one is still to come
(the cursor of the change feed and of every webhook endpoint would skip it)."""

from __future__ import annotations

import threading
import time

from sqlalchemy import event

from smtp_logger.store import accounts, events
from smtp_logger.store.db import session_factory


def _events(sessions, account_id):
    with sessions() as session:
        return [(e.id, e.data["n"]) for e in events.events_after(session, account_id, 0, 100)]


def test_an_event_commits_with_its_change_or_not_at_all(db_url):
    sessions = session_factory(db_url)
    with sessions() as session:
        account_id = accounts.add_account(session, "A").id
        session.commit()
    with sessions() as session:
        accounts.add_account(session, "the change")
        events.record(session, account_id, events.MESSAGE_HELD, {"n": 0})
        session.rollback()
    with sessions() as session:
        events.record(session, account_id, events.MESSAGE_HELD, {"n": 1})
        session.commit()
        assert [a.name for a in accounts.all_accounts(session)] == ["A"]
    assert [n for _id, n in _events(sessions, account_id)] == [1]


def test_event_ids_follow_commit_order(db_url):
    sessions = session_factory(db_url)
    with sessions() as session:
        account_id = accounts.add_account(session, "A").id
        session.commit()
    first = sessions()
    inserted, release, seen_meanwhile = threading.Event(), threading.Event(), []

    def pause(_session):  # runs after the outbox rows are inserted, before the commit
        inserted.set()
        release.wait(10)

    event.listen(first, "before_commit", pause)
    events.record(first, account_id, events.MESSAGE_HELD, {"n": 1})
    committing = threading.Thread(target=first.commit)
    committing.start()
    assert inserted.wait(10)

    def second():
        with sessions() as session:
            events.record(session, account_id, events.MESSAGE_HELD, {"n": 2})
            session.commit()

    later = threading.Thread(target=second)
    later.start()
    time.sleep(0.7)  # the second transaction tries to commit while the first holds its place
    seen_meanwhile = _events(sessions, account_id)
    release.set()
    committing.join(10)
    later.join(30)
    first.close()
    assert seen_meanwhile == []  # not event 2 before event 1
    found = _events(sessions, account_id)
    assert [n for _id, n in found] == [1, 2] and found[0][0] < found[1][0]
