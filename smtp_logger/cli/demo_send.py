"""Send one demo email to the demo user's BCC address (for `make run` users without swaks):
`.venv/bin/python -m smtp_logger.cli.demo_send [--port 2525]`."""

from __future__ import annotations

import argparse
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from smtp_logger.base.config import load_settings
from smtp_logger.store import accounts
from smtp_logger.store.db import session_factory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--to", default="customer@acme.example")
    args = parser.parse_args()
    settings = load_settings()
    with session_factory(settings.db_url)() as session:
        user = accounts.find_user(session, accounts.default_account(session).id, "demo@example.com")
        bcc = accounts.current_addresses(session, user)["bcc"]
    msg = EmailMessage()
    msg["From"] = "Demo Salesperson <demo@example.com>"
    msg["To"] = f"Customer <{args.to}>"
    msg["Subject"] = "Our proposal"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="example.com")
    msg.set_content("Hello,\n\nhere is our proposal.\n\nBest regards,\nDemo")
    with smtplib.SMTP(settings.host, args.port or settings.port) as client:
        client.send_message(msg, to_addrs=[bcc])
    print(f"sent {msg['Message-ID']} to {bcc}")
    print(f"now: .venv/bin/smtp-logger timeline {args.to} --json")


if __name__ == "__main__":
    main()
