"""Is the sender who the message claims? DKIM (and the trusted upstream Authentication-Results)
today. May do DNS; imports understand/ and base/ only, and writes nothing."""
