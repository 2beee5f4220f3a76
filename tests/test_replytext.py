"""Hand-written reply bodies with exact expected reply text: attributions in eight languages,
Outlook header blocks, separators, signatures, inline replies, HTML replies, and bodies that must
stay whole. Table-driven; no corpus files.
"""

from __future__ import annotations

import pytest

from smtp_logger.understand.replytext import reply_text, reply_text_from_html

QUOTE = "> Can we meet next week?\n> \n> Jane\n"

ATTRIBUTIONS = {
    "en": "On Mon, Mar 4, 2024 at 10:15 AM Jane Roe <jane@acme.com> wrote:",
    "en-apple": "On 4 Mar 2024, at 10:15, Jane Roe <jane@acme.com> wrote:",
    "nl": "Op ma 4 mrt. 2024 om 10:15 schreef Jan Jansen <jan@voorbeeld.nl>:",
    "de": "Am Mo., 4. März 2024 um 10:15 Uhr schrieb Hans Müller <hans@beispiel.de>:",
    "fr": "Le lun. 4 mars 2024 à 10:15, Marie Dupont <marie@exemple.fr> a écrit :",
    "es": "El lun, 4 mar 2024 a las 10:15, Juan Pérez (<juan@ejemplo.es>) escribió:",
    "sv": "Den mån 4 mars 2024 kl 10:15 skrev Sven Svensson <sven@exempel.se>:",
    "pt": "Em seg., 4 de mar. de 2024 às 10:15, João Silva <joao@exemplo.pt> escreveu:",
    "it": "Il giorno lun 4 mar 2024 alle ore 10:15 Mario Rossi <mario@esempio.it> ha scritto:",
    "ru": "пн, 4 мар. 2024 г. в 10:15, Иван Петров <ivan@primer.ru>:",
    "pl": "W dniu 4.03.2024 o 10:15, Jan Kowalski <jan@przyklad.pl> napisał:",
}


@pytest.mark.parametrize("language", sorted(ATTRIBUTIONS))
def test_attribution_and_quote_are_removed(language):
    body = f"Thursday works for me.\n\n{ATTRIBUTIONS[language]}\n{QUOTE}"
    assert reply_text(body) == "Thursday works for me."


@pytest.mark.parametrize("language", sorted(ATTRIBUTIONS))
def test_attribution_followed_by_unquoted_history_is_cut(language):
    body = f"Thursday works for me.\n\n{ATTRIBUTIONS[language]}\n\nCan we meet next week?\nJane\n"
    assert reply_text(body) == "Thursday works for me."


def test_attribution_wrapped_over_two_lines():
    body = (
        "Sounds good.\n\nOn Mon, Mar 4, 2024 at 10:15 AM Jane Roe <\n"
        "jane.roe@very-long-company-domain.example.com> wrote:\n\n> Old text\n"
    )
    assert reply_text(body) == "Sounds good."


OUTLOOK_BLOCKS = {
    "en": "From: Jane Roe <jane@acme.com>\nSent: Monday, March 4, 2024 10:15 AM\n"
    "To: Bob Smith <bob@example.com>\nSubject: RE: Offer",
    "en-bold": "*From:* Jane Roe [mailto:jane@acme.com]\n*Sent:* Monday, March 4, 2024 10:15 AM\n"
    "*To:* bob@example.com\n*Subject:* Offer",
    "de": "Von: Hans Müller <hans@beispiel.de>\nGesendet: Montag, 4. März 2024 10:15\n"
    "An: Bob Smith <bob@example.com>\nBetreff: AW: Angebot",
    "fr": "De : Marie Dupont <marie@exemple.fr>\nEnvoyé : lundi 4 mars 2024 10:15\n"
    "À : Bob Smith <bob@example.com>\nObjet : RE: Offre",
    "nl": "Van: Jan Jansen <jan@voorbeeld.nl>\nVerzonden: maandag 4 maart 2024 10:15\n"
    "Aan: Bob Smith <bob@example.com>\nOnderwerp: RE: Offerte",
    "es": "De: Juan Pérez <juan@ejemplo.es>\nEnviado: lunes, 4 de marzo de 2024 10:15\n"
    "Para: Bob Smith <bob@example.com>\nAsunto: RE: Oferta",
}


@pytest.mark.parametrize("language", sorted(OUTLOOK_BLOCKS))
def test_outlook_header_block_is_cut(language):
    body = (
        "See the attached price list.\n\n________________________________\n"
        f"{OUTLOOK_BLOCKS[language]}\n\nPlease send prices.\n"
    )
    assert reply_text(body) == "See the attached price list."


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "----- Original Message -----",
        "-----Ursprüngliche Nachricht-----",
        "-------- Message d'origine --------",
        "---------- Forwarded message ---------",
    ],
)
def test_separator_line_cuts_history(separator):
    body = f"Agreed, let's sign.\n\n{separator}\nFrom: Jane Roe\nSubject: Contract\n\nOld text\n"
    assert reply_text(body) == "Agreed, let's sign."


@pytest.mark.parametrize(
    "footer",
    [
        "Sent from my iPhone",
        "Sent from my Samsung Galaxy smartphone.",
        "Get Outlook for iOS<https://aka.ms/o0ukef>",
        "Envoyé de mon iPhone",
        "Von meinem iPhone gesendet",
        "Verzonden vanaf mijn iPhone",
        "Enviado desde mi iPhone",
        "Enviado do meu iPhone",
        "Inviato da iPhone",
        "Skickat från min iPhone",
    ],
)
def test_mobile_footer_is_removed(footer):
    assert reply_text(f"On my way.\n\n{footer}\n") == "On my way."


def test_dash_dash_signature_is_removed():
    body = "Call me tomorrow.\n\n-- \nBob Smith\nSales Director, Acme\n+1 555 010 2030\n"
    assert reply_text(body) == "Call me tomorrow."


def test_name_and_contact_paragraph_is_removed():
    body = "Let's talk Friday.\n\nJane Roe\njane@acme.com\n(555) 010-2030\nwww.acme.com\n"
    assert reply_text(body) == "Let's talk Friday."


def test_closing_over_contact_details_is_removed():
    body = "Invoice attached.\n\nKind regards,\nJane Roe\nAcme Corp | +1 555 010 2030\n"
    assert reply_text(body) == "Invoice attached."


def test_closing_without_contact_details_is_kept():
    body = "Invoice attached.\n\nThanks,\nJane"
    assert reply_text(body) == body


def test_signature_then_quoted_history():
    body = (
        "Yes, please.\n\n-- \nBob\n\nOn Mon, Mar 4, 2024 at 10:15 AM Jane Roe <jane@acme.com> wrote:\n"
        + QUOTE
    )
    assert reply_text(body) == "Yes, please."


def test_inline_answers_are_kept_without_the_quotes():
    body = (
        "On Mon, Mar 4, 2024 at 10:15 AM Jane Roe <jane@acme.com> wrote:\n"
        "> What is the price?\n\n$500 per seat.\n\n> When can you start?\n\nNext Monday.\n"
    )
    assert reply_text(body) == "$500 per seat.\n\nNext Monday."


def test_bottom_posted_reply_keeps_text_below_quote():
    body = "On 04/03/2024 10:15, Jane Roe wrote:\n> Hi\nHello Jane"
    assert reply_text(body) == "Hello Jane"


def test_quote_without_attribution_is_dropped():
    body = "My answers:\n\n> Budget?\n\nApproved.\n"
    assert reply_text(body) == "My answers:\n\nApproved."


def test_email_without_quote_stays_whole():
    body = (
        "Hi Jane,\n\nOn the other hand, the data comes From: our CRM, not from: the ERP.\n"
        "On 4 March we signed 3 deals.\n\nThe notification was sent from my iPhone app.\n\n"
        "Here is my list:\n----\n1. Price\n2. Date\n\nBob"
    )
    assert reply_text(body) == body


def test_crlf_and_bom_are_normalised():
    body = "\ufeffThanks!\r\n\r\nOn Mon, Mar 4, 2024 at 10:15 AM Jane <jane@acme.com> wrote:\r\n> Hi\r\n"
    assert reply_text(body) == "Thanks!"


@pytest.mark.parametrize("body", ["", "   \n\n ", None, 42])
def test_empty_or_odd_input_gives_empty_text(body):
    assert reply_text(body) == ""


def test_only_history_gives_empty_text():
    assert reply_text("-----Original Message-----\nFrom: a@b.c\nSent: today\n\nold") == ""


GMAIL_HTML = (
    '<div dir="ltr">Sounds good, see you then.<div><br></div><div>Bob</div></div><br>'
    '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Mar 4, 2024 at 10:15 AM '
    'Jane Roe &lt;<a href="mailto:jane@acme.com">jane@acme.com</a>&gt; wrote:<br></div>'
    '<blockquote class="gmail_quote" style="margin:0 0 0 .8ex">Can we meet?</blockquote></div>'
)
OUTLOOK_WEB_HTML = (
    "<html><body><div>Works for me.</div><div id=\"appendonsend\"></div><hr>"
    '<div id="divRplyFwdMsg"><b>From:</b> Jane Roe &lt;jane@acme.com&gt;<br><b>Sent:</b> Monday'
    "<br><b>To:</b> Bob<br><b>Subject:</b> Meeting</div><div>Can we meet?</div></body></html>"
)
OUTLOOK_DESKTOP_HTML = (
    '<html><body><div class="WordSection1"><p class="MsoNormal">Agreed.</p>'
    '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in">'
    '<p class="MsoNormal"><b>From:</b> Jane Roe &lt;jane@acme.com&gt;<br><b>Sent:</b> Monday, '
    "March 4, 2024 10:15 AM<br><b>To:</b> Bob<br><b>Subject:</b> Terms</p></div>"
    '<p class="MsoNormal">Do you agree?</p></div></body></html>'
)
APPLE_HTML = (
    "<html><body>Yes.<br><br><div>On 4 Mar 2024, at 10:15, Jane Roe &lt;jane@acme.com&gt; wrote:"
    '<br><br></div><blockquote type="cite"><div>Shall we?</div></blockquote></body></html>'
)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (GMAIL_HTML, "Sounds good, see you then.\n\nBob"),
        (OUTLOOK_WEB_HTML, "Works for me."),
        (OUTLOOK_DESKTOP_HTML, "Agreed."),
        (APPLE_HTML, "Yes."),
        ("<p>Hello Jane,</p><p>Price is fine.</p>", "Hello Jane,\n\nPrice is fine."),
        ("<p>Part one</p><hr><p>Part two</p>", "Part one\n\nPart two"),
        ("", ""),
        (None, ""),
        ("<div><b>unclosed <i>tags", "unclosed tags"),
    ],
    ids=["gmail", "outlook-web", "outlook-desktop", "apple", "no-quote", "hr-in-content", "empty", "none", "broken"],
)
def test_reply_text_from_html(html, expected):
    assert reply_text_from_html(html) == expected
