"""smtp_logger: the mail server that logs salespeople's BCC'd and forwarded email onto CRM contact
timelines. The folders are the flow (README, "How a message flows"):
intake -> understand -> decide -> store, with verify beside decide, run, cli on top, base below."""
