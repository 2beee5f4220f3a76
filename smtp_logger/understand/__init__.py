"""understand: raw bytes -> a parsed message (MIME, large parts, forwards, classification, reply
text, addresses). No I/O but reading its input files and writing large parts' work files; no
database. Of the project it imports only smtp_logger.base (the import-linter layers hold it)."""
