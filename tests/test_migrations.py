"""Schema migrations keep the data: migration 0003 renames received_messages.way (which held
the logging address's kind) to address_kind, on SQLite (batch mode: the table is rebuilt) and
PostgreSQL, and can be undone; 0004 (the sender check's verdict, after 0006) comes and goes
while decisions and notices refer to the received message; 0011 (issue 18) drops three
indexes a unique constraint covers and, on PostgreSQL, compresses bodies with lz4, and both come
back with a downgrade. One head."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from smtp_logger.store.db import alembic_config, get_engine, upgrade


def _migrate(url: str, step, revision: str) -> None:
    with get_engine(url).begin() as connection:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = connection
        step(cfg, revision)


def _columns(url: str) -> set[str]:
    with get_engine(url).connect() as connection:
        return {c["name"] for c in inspect(connection).get_columns("received_messages")}


def test_received_messages_keep_their_address_kind_across_0003(db_url):
    _migrate(db_url, command.downgrade, "0002")
    assert "way" in _columns(db_url) and "address_kind" not in _columns(db_url)
    with get_engine(db_url).begin() as connection:
        connection.execute(text("INSERT INTO accounts (id, name, create_contacts, log_all_from_contacts, "
                                "directory_version, created_at) VALUES (1, 'a', true, false, 0, '2026-12-01')"))
        connection.execute(text("INSERT INTO users (id, account_id, email, created_at) "
                                "VALUES (1, 1, 'alice@ours.example', '2026-12-01')"))
        for i, kind in enumerate(("bcc", "forward"), start=1):
            connection.execute(text(
                "INSERT INTO received_messages (id, account_id, user_id, spool_id, logging_address, way, "
                "mail_from, raw_sha256, size, subject, received_at, status, reason) VALUES "
                f"({i}, 1, 1, 's{i}', 'x{i}@log.example', '{kind}', '', 'h', 1, '', '2026-12-01', "
                "'held', 'SENDER_NOT_CONTACT')"))

    upgrade(db_url)
    assert "address_kind" in _columns(db_url) and "way" not in _columns(db_url)
    with get_engine(db_url).connect() as connection:
        rows = connection.execute(text("SELECT id, address_kind FROM received_messages ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, "bcc"), (2, "forward")]

    _migrate(db_url, command.downgrade, "0002")
    with get_engine(db_url).connect() as connection:
        rows = connection.execute(text("SELECT id, way FROM received_messages ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, "bcc"), (2, "forward")]
    upgrade(db_url)


AUTH_COLUMNS = {"from_address", "auth_method", "auth_spf", "auth_dkim", "auth_dmarc", "auth_verdict"}


def test_one_head_and_0004_after_the_notices(db_url):
    script = ScriptDirectory.from_config(alembic_config(db_url))
    assert script.get_heads() == ["0011"]
    assert [r.revision for r in script.walk_revisions("base", "heads")] == ["0011", "0010", "0009", "0008", "0007", "0004", "0006", "0003", "0002", "0001"]


def test_received_messages_keep_their_rows_across_0004(db_url):
    assert AUTH_COLUMNS <= _columns(db_url)
    with get_engine(db_url).begin() as connection:
        connection.execute(text("INSERT INTO accounts (id, name, create_contacts, log_all_from_contacts, "
                                "directory_version, created_at) VALUES (1, 'a', true, false, 0, '2026-12-01')"))
        connection.execute(text("INSERT INTO users (id, account_id, email, created_at) "
                                "VALUES (1, 1, 'alice@ours.example', '2026-12-01')"))
        connection.execute(text(
            "INSERT INTO received_messages (id, account_id, user_id, spool_id, logging_address, address_kind, "
            "mail_from, raw_sha256, size, subject, received_at, status, reason, from_address, auth_method, "
            "auth_spf, auth_dkim, auth_dmarc, auth_verdict) VALUES (1, 1, 1, 's1', 'x1@log.example', 'bcc', "
            "'', 'h', 1, '', '2026-12-01', 'not_logged', 'AUTH_FAILED', 'alice@ours.example', 'verify', "
            "'fail', 'none', 'fail', 'fail')"))
        connection.execute(text(
            "INSERT INTO decisions (id, account_id, received_message_id, logging_address, reason, detail, "
            "decided_at) VALUES (1, 1, 1, 'x1@log.example', 'AUTH_FAILED', '', '2026-12-01')"))
        connection.execute(text(
            "INSERT INTO notices (id, account_id, user_id, received_message_id, kind, reason, mode, status, "
            "recipient, facts, attempts, created_at) VALUES (1, 1, 1, 1, 'notice', 'AUTH_FAILED', "
            "'immediate', 'sent', 'alice@ours.example', '{}', 1, '2026-12-01')"))

    _migrate(db_url, command.downgrade, "0006")
    assert not AUTH_COLUMNS & _columns(db_url)
    upgrade(db_url)
    assert AUTH_COLUMNS <= _columns(db_url)
    with get_engine(db_url).connect() as connection:
        row = connection.execute(text("SELECT id, reason, from_address, auth_verdict FROM received_messages")).one()
        refs = connection.execute(text("SELECT (SELECT received_message_id FROM decisions), "
                                       "(SELECT received_message_id FROM notices)")).one()
    assert tuple(row) == (1, "AUTH_FAILED", None, None) and tuple(refs) == (1, 1)


def _indexes(url: str, table: str) -> set[str]:
    with get_engine(url).connect() as connection:
        return {i["name"] for i in inspect(connection).get_indexes(table)}


def _compression(url: str, table: str, column: str) -> str | None:
    with get_engine(url).connect() as connection:
        return connection.scalar(text(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attname = :c"),
            {"t": table, "c": column}) or None


def test_0011_drops_covered_indexes_and_compresses_bodies_with_lz4(db_url):
    assert "ix_engagements_account_id" not in _indexes(db_url, "engagements")
    assert "ix_contact_emails_account_id" not in _indexes(db_url, "contact_emails")
    postgres = db_url.startswith("postgresql")
    if postgres:  # 'l' is lz4; '' (None here) the server's default, pglz
        assert [_compression(db_url, "engagements", c) for c in ("body_text", "body_html", "reply_text")] == ["l"] * 3
        assert _compression(db_url, "blob_chunks", "data") == "l"
    _migrate(db_url, command.downgrade, "0010")
    assert "ix_engagements_account_id" in _indexes(db_url, "engagements")
    assert "ix_companies_account_id" in _indexes(db_url, "companies")
    if postgres:
        assert _compression(db_url, "engagements", "body_text") == "p"
    upgrade(db_url)
    assert "ix_engagements_account_id" not in _indexes(db_url, "engagements")
