"""Every SMTP reply the server sends that is ours (code, enhanced code, text), in one place so
tests and the server say the same thing. aiosmtpd's own defaults are mapped here too."""

OK_QUEUED = "250 2.0.0 OK: queued as {spool_id}"
OK_LMTP = "250 2.1.5 OK: delivered as {spool_id}"
OK_RCPT = "250 2.1.5 OK"
ERR_UNKNOWN_RCPT = "550 5.1.1 No such logging address here (we never relay)"
ERR_TOO_MANY_RCPTS = "452 4.5.3 Too many recipients"
ERR_TOO_BIG = "552 5.3.4 Message size exceeds fixed maximum message size"
ERR_LINE_TOO_LONG = "500 5.5.6 Line too long"
ERR_TEMP_LOCAL = "451 4.3.0 Local error, message not accepted, please retry later"
ERR_TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections, try again later"
ERR_NO_SPACE = "452 4.3.1 Insufficient system storage, try again later"
ERR_SHUTTING_DOWN = "421 4.3.2 Service shutting down, try again later"
ERR_TOO_MANY_FROM_IP = "421 4.7.0 Too many connections from your address, try again later"
ERR_TOO_MANY_MESSAGES = "421 4.7.0 Too many messages in one connection, closing"
ERR_RATE_LIMITED = "451 4.7.1 Too many messages from your address, try again later"
ERR_TOO_MANY_UNKNOWN = "421 4.7.0 Too many unknown recipients, closing"
ERR_HARVESTING = "421 4.7.0 Too many unknown recipients from your address, try again later"
ERR_LOOP = "554 5.4.6 Too many Received: header fields: mail loop"

# aiosmtpd's own texts for limits we configure, rewritten with enhanced codes.
AIOSMTPD_REWRITES = {
    "552 Error: message size exceeds fixed maximum message size": ERR_TOO_BIG,
    "552 Error: Too much mail data": ERR_TOO_BIG,
    "500 Line too long (see RFC5321 4.5.3.1.6)": ERR_LINE_TOO_LONG,
}
