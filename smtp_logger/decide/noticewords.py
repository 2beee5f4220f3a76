"""The words of our notices, in each language an account can choose (English and Dutch): the
subject lines, labels, the reason sentences (English from decide/reasons.py, Dutch here) and
the step that fixes each reason. Pure data and two look-ups; a missing translation falls back
to English, never to nothing.
"""

from __future__ import annotations

from smtp_logger.decide.reasons import LOGGED, explain

LANGUAGES = ("en", "nl")

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "not_logged": "Not logged: {subject}",
        "left_out": "Attachment not stored: {subject}",
        "digest": "Not logged: {count} emails (daily summary)",
        "digest_one": "Not logged: 1 email (daily summary)",
        "no_subject": "(no subject)",
        "intro": "An email you sent to your logging address {address} was not logged.",
        "intro_logged": "An email you sent to your logging address {address} was logged, but not "
                        "all of its attachments were stored.",
        "intro_digest": "These emails you sent to your logging addresses were not logged:",
        "subject": "Subject", "date": "Date", "from": "From", "message_id": "Message-ID",
        "details": "Details", "fix": "What to do",
        "footer": "Sent automatically by smtp-logger; replies to this message are not read.",
    },
    "nl": {
        "not_logged": "Niet gelogd: {subject}",
        "left_out": "Bijlage niet opgeslagen: {subject}",
        "digest": "Niet gelogd: {count} e-mails (dagelijks overzicht)",
        "digest_one": "Niet gelogd: 1 e-mail (dagelijks overzicht)",
        "no_subject": "(geen onderwerp)",
        "intro": "Een e-mail die je naar je logadres {address} stuurde, is niet gelogd.",
        "intro_logged": "Een e-mail die je naar je logadres {address} stuurde, is gelogd, maar "
                        "niet al zijn bijlagen zijn opgeslagen.",
        "intro_digest": "Deze e-mails die je naar je logadressen stuurde, zijn niet gelogd:",
        "subject": "Onderwerp", "date": "Datum", "from": "Van", "message_id": "Message-ID",
        "details": "Details", "fix": "Wat je kunt doen",
        "footer": "Automatisch verstuurd door smtp-logger; antwoorden op dit bericht worden niet gelezen.",
    },
}

SENTENCES_NL = {
    LOGGED: "Gelogd op de tijdlijn van de contactpersoon.",
    "SENDER_NOT_ALLOWED": "Niet gelogd: het is naar je BCC-adres gestuurd vanaf een adres dat niet "
                          "van jou is. Alleen e-mail vanaf je eigen adres of een geverifieerde alias "
                          "wordt gelogd.",
    "AUTH_FAILED": "Niet gelogd: het lijkt van jou te komen, maar de handtekening van je mailserver "
                   "(DKIM/SPF/DMARC) klopte niet, dus het kan vervalst zijn.",
    "FORWARDING_CONFIRMATION": "Niet gelogd: hiermee wordt gevraagd automatisch doorsturen te "
                               "bevestigen; we hebben je de code gestuurd.",
    "ORIGINAL_NOT_FOUND": "Nog niet gelogd: we konden het oorspronkelijke bericht van de klant niet "
                          "vinden in wat je doorstuurde. Stuur het door als bijlage, of stuur het "
                          "opnieuw door zonder de doorgestuurde kop te bewerken.",
    "ORIGINAL_SENDER_UNKNOWN": "Nog niet gelogd: de doorgestuurde e-mail toont de naam van de "
                               "afzender maar geen adres, en geen enkele contactpersoon heeft die "
                               "naam. Voeg de contactpersoon (of het adres) toe en het wordt gelogd.",
    "PROCESSING_FAILED": "Niet gelogd: het bericht kon niet worden verwerkt. Het is bewaard en de "
                         "beheerder kan het opnieuw proberen.",
    "FLOOD": "Nog niet gelogd: er kwamen in korte tijd ongewoon veel e-mails van deze afzender op je "
             "adres binnen; ze zijn bewaard en kunnen worden vrijgegeven.",
}

# What fixes each reason; placeholders come from the notice's facts.
FIXES: dict[str, dict[str, str]] = {
    "en": {
        "ORIGINAL_NOT_FOUND": "Forward it again to {address} as an attachment (Gmail: More > Forward "
                              "as attachment; Outlook: More actions > Forward as attachment), or "
                              "forward it without editing the forwarded header. This copy is kept "
                              "for {retention_days} days.",
        "ORIGINAL_SENDER_UNKNOWN": "Add {name} as a contact with their email address (your "
                                   "administrator can run: smtp-logger contacts add ADDRESS --name "
                                   "\"{name}\"). The email is kept for {retention_days} days and is "
                                   "logged automatically, in its conversation, once the contact exists.",
        "SENDER_NOT_ALLOWED": "If {sender} is your address, have it added as one of yours (your "
                              "administrator can run: smtp-logger users add-alias {user} {sender}), "
                              "then send or BCC the email again. If it is not yours, ignore this message.",
        LOGGED: "The email is on the timeline without these files; share them with a link instead:",
        "AUTH_FAILED": "If you sent it, ask your administrator to check your domain's DKIM, SPF and "
                       "DMARC set-up, then send it again. If you did not send it, someone may be "
                       "sending mail in your name: tell your administrator.",
        "FORWARDING_CONFIRMATION": "{requester} asked {provider} to forward mail automatically to "
                                   "your forwarding address {address}. If that was you, confirm it "
                                   "yourself: open the link below, or enter the confirmation code in "
                                   "{provider}'s settings (Forwarding and POP/IMAP). We never open the "
                                   "link. If it was not you, ignore this message: nothing is forwarded "
                                   "without the confirmation.",
        "PROCESSING_FAILED": "It is kept; your administrator can retry it (smtp-logger spool retry).",
        "FLOOD": "They are kept; your administrator can release them (smtp-logger held release "
                 "--reason FLOOD).",
    },
    "nl": {
        "ORIGINAL_NOT_FOUND": "Stuur het opnieuw door naar {address} als bijlage (Gmail: Meer > "
                              "Doorsturen als bijlage; Outlook: Meer acties > Doorsturen als "
                              "bijlage), of stuur het door zonder de doorgestuurde kop te bewerken. "
                              "Deze kopie wordt {retention_days} dagen bewaard.",
        "ORIGINAL_SENDER_UNKNOWN": "Voeg {name} toe als contactpersoon met zijn of haar e-mailadres "
                                   "(je beheerder kan uitvoeren: smtp-logger contacts add ADRES "
                                   "--name \"{name}\"). De e-mail wordt {retention_days} dagen bewaard "
                                   "en automatisch in zijn gesprek gelogd zodra de contactpersoon bestaat.",
        "SENDER_NOT_ALLOWED": "Is {sender} jouw adres, laat het dan als jouw adres toevoegen (je "
                              "beheerder kan uitvoeren: smtp-logger users add-alias {user} {sender}) "
                              "en stuur of BCC de e-mail opnieuw. Is het niet van jou, negeer dit bericht dan.",
        LOGGED: "De e-mail staat op de tijdlijn zonder deze bestanden; deel ze liever met een link:",
        "AUTH_FAILED": "Heb je het zelf verstuurd, vraag je beheerder dan de DKIM-, SPF- en "
                       "DMARC-instellingen van je domein na te kijken en stuur het opnieuw. Heb je "
                       "het niet verstuurd, dan verstuurt iemand misschien e-mail uit jouw naam: "
                       "meld het je beheerder.",
        "FORWARDING_CONFIRMATION": "{requester} heeft {provider} gevraagd e-mail automatisch door te "
                                   "sturen naar je doorstuuradres {address}. Was jij dat, bevestig "
                                   "het dan zelf: open de link hieronder, of vul de bevestigingscode "
                                   "in bij de instellingen van {provider} (Doorsturen en POP/IMAP). "
                                   "Wij openen de link nooit. Was jij het niet, negeer dit bericht "
                                   "dan: zonder bevestiging wordt niets doorgestuurd.",
        "PROCESSING_FAILED": "Het is bewaard; je beheerder kan het opnieuw proberen (smtp-logger "
                             "spool retry).",
        "FLOOD": "Ze zijn bewaard; je beheerder kan ze vrijgeven (smtp-logger held release "
                 "--reason FLOOD).",
    },
}


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else "en"


def words(language: str) -> dict[str, str]:
    return WORDS.get(language, WORDS["en"])


def sentence(reason: str, language: str) -> str:
    """The reason sentence a salesperson reads, in their language (English when not translated)."""
    if language == "nl" and reason in SENTENCES_NL:
        return SENTENCES_NL[reason]
    return explain(reason)


def fix(reason: str, language: str, **values: object) -> str:
    template = FIXES.get(language, {}).get(reason) or FIXES["en"].get(reason, "")
    return template.format(**values)
