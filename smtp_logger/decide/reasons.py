"""Reason codes: their order of precedence, which ones hold a message for later, and the
sentence a salesperson reads for each (`smtp-logger why`, and the README's table).
Meanings are stable: add codes, never change one."""

LOGGED = "LOGGED"
FORWARDING_CONFIRMATION = "FORWARDING_CONFIRMATION"  # not held: the user is sent its code and link
OWN_NOTICE = "OWN_NOTICE"  # never logged, never answered, not held (understand/classify/notices.py)

# In SPEC.md's order of precedence.
NOT_LOGGED = (
    OWN_NOTICE, "SENDER_NOT_ALLOWED", "AUTH_FAILED", FORWARDING_CONFIRMATION, "FLOOD", "DUPLICATE",
    "BOUNCE", "AUTO_REPLY", "SPAM", "NEVER_LOG",
    "ORIGINAL_NOT_FOUND", "ORIGINAL_SENDER_UNKNOWN", "NO_EXTERNAL_RECIPIENTS",
    "SENDER_NOT_CONTACT", "NOT_IN_LOGGED_THREAD", "THREAD_OWNED_BY_OTHER_USER", "UNPARSEABLE",
)

# Reasons that may stop applying later (a contact is created, an address added, contacts
# merged, the answered email arrives): such messages are held and retried automatically.
HELD_REASONS = frozenset({
    "FLOOD",  # released by `smtp-logger held release`, never by a change in the CRM
    "ORIGINAL_NOT_FOUND", "ORIGINAL_SENDER_UNKNOWN", "SENDER_NOT_CONTACT",
    "NOT_IN_LOGGED_THREAD", "UNPARSEABLE",
})

# Not a rule's verdict: what the lifecycle records when a held message leaves the hold unlogged.
HELD_EXPIRED = "HELD_EXPIRED"
# Not a rule's verdict either: recorded when processing a delivery kept failing and it was
# quarantined (data_dir/spool/failed); a retry that succeeds records the real decision after it.
PROCESSING_FAILED = "PROCESSING_FAILED"

EXPLANATIONS = {
    LOGGED: "Logged on the contact's timeline.",
    OWN_NOTICE: "Not logged: it is a notice smtp_logger sent itself. Notices are never logged "
                "or answered.",
    "SENDER_NOT_ALLOWED": "Not logged: it was sent to your BCC address from an address that is not "
                          "yours. Only mail from your own address or a verified alias is logged.",
    "AUTH_FAILED": "Not logged: it claims to come from you, but your mail server's signature "
                   "(DKIM/SPF/DMARC) did not check out, so it may be forged.",
    FORWARDING_CONFIRMATION: "Not logged: this asks you to confirm automatic forwarding; we sent "
                             "you the code.",
    "FLOOD": "Not logged yet: an unusual number of emails from this sender reached your address in a "
             "short time; they are kept and can be released.",
    "DUPLICATE": "Not logged again: this email is already on the timeline.",
    "BOUNCE": "Not logged: it is a delivery failure notice from a mail server, not a conversation.",
    "AUTO_REPLY": "Not logged: it is an automatic reply (for example an out-of-office message).",
    "SPAM": "Not logged: a spam filter marked it as spam or junk.",
    "NEVER_LOG": "Not logged: the person or domain is on a never-log list.",
    "ORIGINAL_NOT_FOUND": "Not logged yet: we could not find the customer's original message in "
                          "what you forwarded. Forward it as an attachment, or forward it again "
                          "without editing the forwarded header.",
    "ORIGINAL_SENDER_UNKNOWN": "Not logged yet: the forwarded email shows the sender's name but "
                               "no address, and no single contact has that name. Add the contact "
                               "(or their address) and it will be logged.",
    "NO_EXTERNAL_RECIPIENTS": "Not logged: nobody outside your company took part in this email.",
    "SENDER_NOT_CONTACT": "Not logged yet: the sender is not a contact. Add their address to a "
                          "contact (or merge contacts) and it will be logged automatically.",
    "NOT_IN_LOGGED_THREAD": "Not logged yet: it does not answer an email that was logged. Forward "
                            "it to your forwarding address to log it.",
    "THREAD_OWNED_BY_OTHER_USER": "Not logged: the conversation was started by another user, so "
                                  "it is logged for them, not for you.",
    "UNPARSEABLE": "Not logged: the message could not be read. It is kept for the administrator.",
    HELD_EXPIRED: "Not logged: it was held longer than the retention time without becoming "
                  "loggable, so it was deleted. Forward it again to log it.",
    PROCESSING_FAILED: "Not logged: the message could not be processed. It is kept, and the "
                       "administrator can retry it.",
}


def explain(reason: str, detail: str = "") -> str:
    sentence = EXPLANATIONS.get(reason, reason)
    return f"{sentence} ({detail})" if detail else sentence
