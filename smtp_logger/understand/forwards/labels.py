"""Vocabulary of forwarded-message header blocks, per mail client and language.

Owns the data only: header labels ("From:", "Von:", "Lähettäjä:"...), the separator phrases
("Begin forwarded message", "Weitergeleitete Nachricht"...) and the "On <date>, <sender> wrote:"
attribution templates. No parsing logic beyond compiling these tables into regexes.
"""

from __future__ import annotations

import re

FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "from": (
        "From", "Od", "Fra", "Von", "De", "De la", "Lähettäjä", "Šalje", "Feladó", "Da", "Van",
        "Expeditorul", "Отправитель", "Från", "Kimden", "Від кого", "Від", "Saatja", "Gönderen",
        "От", "Mittente", "Nadawca", "送信元", "差出人", "发件人", "寄件者", "Afzender", "Remitente",
        "Expéditeur", "Absender", "Avsändare", "Afsender", "Avsender", "Remetente", "Pošiljatelj",
        "Pošiljalac", "Siuntėjas", "Sūtītājs", "Αποστολέας", "Από",
    ),
    "to": (
        "To", "Komu", "Til", "Till", "An", "Para", "Vastaanottaja", "À", "A", "Prima", "Címzett",
        "Aan", "Do", "Destinatarul", "Către", "Кому", "Pre", "Kime", "Pour", "Adresat", "送信先",
        "宛先", "收件人", "Destinatario", "Destinataire", "Empfänger", "Mottagare", "Modtager",
        "Mottaker", "Saaja", "Primatelj", "Gavėjas", "Adresāts", "Προς",
    ),
    "cc": (
        "Cc", "CC", "Kopie", "Kopie (CC)", "Kopie an", "Kopio", "Másolat", "Másolatot kap", "Kopi",
        "Dw", "Копия", "Копія", "Kopia", "Kópia", "Bilgi", "Copie à", "Copie", "Cópia", "Copia",
        "抄送", "Koopia", "Kopija", "Κοιν",
    ),
    "bcc": ("Bcc", "Blindkopie", "Cco", "Cci", "Ccn", "Bkopia", "Skjult kopi", "Piilokopio", "Ukryta kopia"),
    "date": (
        "Date", "Datum", "Dato", "Envoyé", "Envoyé le", "Fecha", "Päivämäärä", "Päiväys", "Dátum",
        "Data", "Dată", "Дата", "Tarih", "Sent", "Sendt", "Gesendet", "Enviado", "Enviado el",
        "Enviada", "Enviada em", "Lähetetty", "Elküldve", "Inviato", "Verzonden", "Wysłano",
        "Trimis", "Отправлено", "Odoslané", "Skickat", "Gönderilen", "Gönderildi", "Відправлено",
        "Odesláno", "Poslano", "Poslané", "日付", "送信日時", "发送时间", "日期", "Kuupäev",
        "Išsiųsta", "Nosūtīts", "Ημερομηνία", "Στάλθηκε",
    ),
    "subject": (
        "Subject", "Předmět", "Emne", "Betreff", "Asunto", "Aihe", "Objet", "Predmet", "Tárgy",
        "Oggetto", "Onderwerp", "Temat", "Assunto", "Subiectul", "Subiect", "Тема", "Ämne", "Konu",
        "Sujet", "Naslov", "件名", "主题", "主旨", "Teema", "Tema", "Tēma", "Θέμα",
    ),
    "reply_to": (
        "Reply-To", "Reply To", "Odgovori na", "Odpověď na", "Svar til", "Antwoord aan", "Vastaus",
        "Répondre à", "Antwort an", "Válaszcím", "Rispondi a", "Odpowiedź-do", "Responder A",
        "Responder a", "Răspuns către", "Ответ-Кому", "Odpovedať-Pre", "Svara till",
        "Yanıt Adresi", "Кому відповісти",
    ),
}

# Lines that introduce a forwarded block ("Begin forwarded message:", "---- Forwarded message ----").
FORWARD_PHRASES: tuple[str, ...] = (
    "Begin forwarded message", "Forwarded message", "Forwarded Message", "Forwarded e-mail",
    "Začátek přeposílané zprávy", "Start på videresendt besked", "Anfang der weitergeleiteten Nachricht",
    "Inicio del mensaje reenviado", "Välitetty viesti alkaa", "Début du message réexpédié",
    "Début du message transféré", "Započni proslijeđenu poruku", "Továbbított levél kezdete",
    "Inizio messaggio inoltrato", "Begin doorgestuurd bericht", "Videresendt melding",
    "Początek przekazywanej wiadomości", "Início da mensagem reencaminhada",
    "Início da mensagem encaminhada", "Începe mesajul redirecționat", "Начало переадресованного сообщения",
    "Začiatok preposlanej správy", "Vidarebefordrat mejl", "İleti başlangıcı",
    "Початок листа, що пересилається", "Přeposlaná zpráva", "Videresendt meddelelse",
    "Weitergeleitete Nachricht", "Mensaje reenviado", "Edelleenlähetetty viesti", "Message transmis",
    "Továbbított üzenet", "Messaggio inoltrato", "Doorgestuurd bericht", "Przekazana wiadomość",
    "Mensagem reencaminhada", "Mensagem encaminhada", "Mesaj redirecționat", "Пересылаемое сообщение",
    "Preposlaná správa", "Vidarebefordrat meddelande", "İletilmiş Mesaj", "Перенаправлене повідомлення",
    "Välitetty viesti / Fwd.Msg", "Message transféré", "Proslijeđena poruka", "Treść przekazanej wiadomości",
    "Перенаправленное сообщение", "İletilen İleti", "Переслане повідомлення", "メッセージを転送",
    "Wiadomość przesłana dalej", "Edasisaadetud kiri", "Edastatud kiri", "Proslijeđena poruka",
    "Originalnachricht", "转发的邮件", "轉寄的郵件",
)

# "-----Original Message-----": Outlook puts it above replies and forwards alike (weak marker).
ORIGINAL_MESSAGE_PHRASES: tuple[str, ...] = (
    "Original Message", "Ursprüngliche Nachricht", "Message d'origine", "Mensaje original",
    "Messaggio originale", "Oorspronkelijk bericht", "Mensagem original", "Ursprungligt meddelande",
    "Oprindelig meddelelse", "Opprinnelig melding", "Alkuperäinen viesti", "Původní zpráva",
    "Pôvodná správa", "Wiadomość oryginalna", "Исходное сообщение", "Eredeti üzenet",
    "Mesaj original", "Orijinal İleti", "Оригінальне повідомлення", "Izvorna poruka", "元のメッセージ",
)

# Outlook for Mac/2019 forwards carry no header block, only an attribution line.
# {date} and {sender} are filled in by `attribution_regexes()`.
ATTRIBUTION_TEMPLATES: tuple[str, ...] = (
    "On {date}, {sender} wrote:",
    "Dne {date}, {sender} napsal(a):",
    "D. {date} skrev {sender}:",
    "Den {date} skrev {sender} følgende:",
    "Den {date} skrev {sender} följande:",
    "Am {date} schrieb {sender}:",
    "El {date}, {sender} escribió:",
    "Le {date}, {sender} a écrit :",
    "{sender} kirjoitti {date}:",
    "{date} időpontban {sender} ezt írta:",
    "Il giorno {date} {sender} ha scritto:",
    "Op {date} heeft {sender} geschreven:",
    "{sender} skrev følgende den {date}:",
    "Dnia {date} użytkownik {sender} napisał:",
    "Em {date}, {sender} escreveu:",
    "{date} пользователь {sender} написал:",
    "{date} používateľ {sender} napísal:",
    "{sender}, {date} tarihinde şunu yazdı:",
)

_QUOTED_NAME = r'(?:"[^"\n]{0,200}"|«[^»\n]{0,200}»|„[^”\n]{0,200}”|[^"«„<>()\[\],\n]{0,200}?)'
_BRACKETED_ADDRESS = r"[(<\[]{1,2}[^\s<>()\[\]]{1,200}@[^\s<>()\[\]]{1,200}[)>\]]{1,2}"
_SENDER = rf"(?P<sender>{_QUOTED_NAME}\s*{_BRACKETED_ADDRESS})"
_DATE = r"(?P<date>[^\n]{2,120}?)"


def _label_alternation(labels) -> str:
    ordered = sorted(set(labels), key=len, reverse=True)
    return "|".join(re.escape(label).replace(r"\ ", r"\s") for label in ordered)


LABEL_TO_FIELD: dict[str, str] = {
    label.casefold(): field for field, labels in FIELD_LABELS.items() for label in labels
}
ALL_LABELS = _label_alternation(LABEL_TO_FIELD.keys() | {label for labels in FIELD_LABELS.values() for label in labels})

# "From: x", "*From:* x", "Subject: \tx", "件名：x", "De : x"; optional leading '>' already removed.
HEADER_LINE = re.compile(
    rf"^[ \t]*\*?[ \t]*(?P<label>{ALL_LABELS})[ \t]?\*?[ \t]?[:：][ \t]*\*?[ \t]*(?P<value>.*)$",
    re.IGNORECASE,
)
# A label glued to the previous value (Yahoo: "...<john.doe@acme.com>To: ..."); colon optional.
GLUED_LABEL = re.compile(rf"(?P<label>{ALL_LABELS})(?:[ \t]?[:：]|(?=[ \t]))", re.IGNORECASE)

_PHRASES = _label_alternation(FORWARD_PHRASES)
_ORIGINAL = _label_alternation(ORIGINAL_MESSAGE_PHRASES)
# "---------- Forwarded message ---------", "Begin forwarded message:", "----- Forwarded Message ----- From: x"
FORWARD_SEPARATOR = re.compile(
    rf"^[ \t]*(?:-{{2,}}[ \t]*(?:{_PHRASES})[ \t]*:?[ \t]*-{{2,}}(?P<rest>.*)"
    rf"|(?:{_PHRASES})[ \t]*:[ \t]*)$",
    re.IGNORECASE,
)
ORIGINAL_SEPARATOR = re.compile(
    rf"^[ \t]*-{{2,}}[ \t]*(?:{_ORIGINAL})[ \t]*-{{2,}}[ \t]*$", re.IGNORECASE
)
OUTLOOK_RULE = re.compile(r"^[ \t]*_{20,}[ \t]*$")


def _template_regex(template: str) -> re.Pattern[str]:
    pattern = re.escape(template).replace(r"\ ", r"\s*")
    pattern = pattern.replace(r"\{date\}", _DATE).replace(r"\{sender\}", _SENDER)
    return re.compile(rf"^\s*{pattern}\s*$", re.IGNORECASE)


ATTRIBUTION_REGEXES: tuple[re.Pattern[str], ...] = tuple(_template_regex(t) for t in ATTRIBUTION_TEMPLATES)


def field_of(label: str) -> str | None:
    """The field ("from", "to", ...) a label stands for, or None."""
    return LABEL_TO_FIELD.get(re.sub(r"\s+", " ", label).casefold())
