"""The running receiver: the service (intake + workers), the workers, and the pipeline's named
steps (build: candidates and attachment files before the write transaction; deliver: one
logging address in it; retroactive: held mail decided again). May import every layer below
(store, decide, verify, understand, intake, base); only cli/ imports it; no SQL here."""
