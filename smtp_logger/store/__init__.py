"""The CRM's schema (models.py, migrations/), every SQL statement, the status lifecycle
(lifecycle.py) and the attachment blob store (blobs.py). May import decide's data types and
reason codes (rules.py, reasons.py: never candidate building), understand's pure helpers
(addresses, the parsed attachment part) and base; never run/ or cli/."""
