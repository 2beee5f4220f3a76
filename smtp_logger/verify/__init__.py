"""Is the sender who the message claims? SPF, DKIM and DMARC against DNS, or a trusted upstream's
Authentication-Results. May do DNS; imports understand/ and base/ only, and writes nothing."""
