"""Everything before `250`: the SMTP/LMTP session on aiosmtpd, its limits, PROXY and TLS, and the
durable spool with its group committer ("250 means on disk"). Imports only base/: no parsing, no
database (the live logging addresses are asked of the application object it is given)."""
