"""Language tables for reply-text extraction: quote-header verbs, header-block labels, separators,
mobile "sent from" lines and closing phrases, compiled into regexes.

Data only, no logic beyond compiling. Every pattern is anchored and free of nested quantifiers so
that matching stays linear on hostile input.
"""

from __future__ import annotations

import re

# "On <date>, <name> wrote:" — the verb closes the attribution line, in every language we know.
QUOTE_VERBS = [
    "wrote", "writes", "a écrit", "a ecrit", "schrieb", "schreef", "ha scritto", "escribió",
    "escribio", "escreveu", "skrev", "kirjoitti", "napisał(a)", "napisała", "napisał", "napisal",
    "написал(а)", "написала", "написал", "napsal(a)", "napsala", "napsal", "írta", "yazdı",
    "scrise", "je napisao", "je napisal", "rašė", "rakstīja", "kirjutas", "έγραψε", "пише", "написа",
    "写道", "寫道", "が書きました", "님이 작성", "geschreven", "napísal", "yazdı", "kirjoitti",
]

# First words of an attribution line (it must start like this, so prose is never taken for one).
QUOTE_OPENERS = [
    "on", "le", "am", "op", "il", "in data", "el", "em", "den", "dne", "w dniu", "dnia", "pe",
    "ma", "ti", "ke", "to", "la", "lø", "sø", "må", "on", "ons", "tor", "fre", "lör", "sön", "mån",
    "tis", "man", "tir", "lun", "mar", "mer", "jeu", "ven", "sam", "dim", "mon", "tue", "wed",
    "thu", "fri", "sat", "sun", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
    "sunday", "пн", "вт", "ср", "чт", "пт", "сб", "вс", "el día", "il giorno", "kl", "citando",
]

# Outlook-style header blocks: the "From" label opens the block, any other label confirms it.
FROM_LABELS = [
    "from", "de", "von", "van", "da", "fra", "från", "od", "от", "lähettäjä", "kimden", "feladó",
    "expéditeur", "remitente", "mittente", "afzender", "absender", "nadawca", "message du", "від",
    "šalje", "de la", "差出人", "送信元", "보낸 사람", "发件人", "寄件者",
]
OTHER_LABELS = [
    "sent", "date", "to", "cc", "subject", "reply-to", "envoyé", "envoyé le", "date d'envoi", "à",
    "a", "objet", "sujet", "copie à", "cc", "gesendet", "an", "betreff", "datum", "verzonden", "aan",
    "onderwerp", "inviato", "oggetto", "data", "til", "emne", "dato", "sendt", "skickat", "till",
    "ämne", "enviado", "enviada", "para", "asunto", "assunto", "fecha", "wysłano", "do", "temat",
    "отправлено", "кому", "тема", "дата", "lähetetty", "vastaanottaja", "aihe", "päivämäärä",
    "gönderildi", "kime", "konu", "tarih", "elküldve", "címzett", "tárgy", "odesláno", "komu",
    "předmět", "trimis", "către", "subiect", "poslano", "prima", "predmet", "poslané", "kopie",
    "kopia", "kopio", "kopi", "kópia", "kopija", "копия", "копія", "bilgi", "pre", "naslov",
    "dată", "dátum", "másolat", "kome", "bcc", "cci", "ccn", "dw", "tema", "päiväys", "日付", "件名", "宛先",
    "送信日時", "받는 사람", "날짜", "제목", "收件人", "主题", "日期", "时间",
]

SEPARATOR_WORDS = [
    "original message", "message d'origine", "message original", "oprindelig besked",
    "oprindelig meddelelse", "forwarded message", "begin forwarded message",
    "début du message réexpédié", "anfang der weitergeleiteten nachricht", "inicio del mensaje reenviado",
    "inizio messaggio inoltrato", "vidarebefordrat mejl", "videresendt meddelelse", "message transmis", "ursprüngliche nachricht", "ursprungliche nachricht",
    "forwarded message", "mensaje original", "mensaje reenviado", "messaggio originale",
    "messaggio inoltrato", "oorspronkelijk bericht", "doorgestuurd bericht", "ursprungligt meddelande",
    "vidarebefordrat meddelande", "alkuperäinen viesti", "välitetty viesti", "wiadomość oryginalna",
    "oryginalna wiadomość", "mensagem original", "mensagem encaminhada", "opprinnelig melding",
    "videresendt melding", "исходное сообщение", "пересылаемое сообщение", "weitergeleitete nachricht",
    "message transféré", "původní zpráva", "eredeti üzenet", "orijinal mesaj", "reply message",
]

# Lines a mail app appends below the new text ("Sent from my iPhone" and friends).
MOBILE_SIGNATURES = [
    r"sent from (?:my )?[\w .'’&-]{1,40}",
    r"sent (?:with|via|using) [\w .'’&-]{1,40}",
    r"get outlook for (?:ios|android)",
    r"envoyé (?:de|depuis|à partir de) (?:mon |ma )?[\w .'’&-]{1,40}",
    r"(?:von meinem|gesendet von|gesendet mit) [\w .'’&-]{1,40}",
    r"verstuurd (?:vanaf|met|via) [\w .'’&-]{1,40}", r"verzonden (?:vanaf|met|via) [\w .'’&-]{1,40}",
    r"enviado (?:desde|do|de|con|com|pelo|via) [\w .'’&-]{1,40}", r"inviato da [\w .'’&-]{1,40}",
    r"skickat från [\w .'’&-]{1,40}", r"sendt fra [\w .'’&-]{1,40}", r"lähetetty [\w .'’&-]{1,40}",
    r"wysłane z [\w .'’&-]{1,40}", r"отправлено (?:с|из) [\w .'’&-]{1,40}",
    r"odesláno z [\w .'’&-]{1,40}", r"iphone'?(?:umdan|dan) gönderildi",
]

# Closing phrases that open a signature when they stand alone near the end.
CLOSINGS = [
    "regards", "best regards", "kind regards", "warm regards", "warmest regards", "best wishes",
    "sincerely", "yours sincerely", "sincerely yours", "yours truly", "respectfully", "all the best",
    "met vriendelijke groet", "met vriendelijke groeten", "vriendelijke groet", "groeten", "groet",
    "mit freundlichen grüßen", "mit freundlichen grüssen", "freundliche grüße", "viele grüße",
    "beste grüße", "liebe grüße", "lg", "mfg", "gruß", "grüße", "cordialement", "bien cordialement",
    "bien à vous", "salutations", "sincères salutations", "meilleures salutations", "amitiés",
    "saludos", "saludos cordiales", "un saludo", "atentamente", "cordiales saludos",
    "cordiali saluti", "distinti saluti", "saluti", "un saluto", "med vänlig hälsning",
    "med vänliga hälsningar", "vänliga hälsningar", "hälsningar", "mvh", "venlig hilsen",
    "med venlig hilsen", "hilsen", "med vennlig hilsen", "vennlig hilsen", "atenciosamente",
    "cumprimentos", "abraços", "abraço", "com os melhores cumprimentos", "pozdrawiam",
    "z poważaniem", "с уважением", "ystävällisin terveisin", "terveisin", "s pozdravem",
]


def _plain(words: list[str]) -> str:
    return "|".join(sorted({re.escape(w) for w in words}, key=len, reverse=True))


def _trie(words: list[str]) -> str:
    """A group matching exactly the words (as `_plain` does), their common prefixes factored."""
    root: dict = {}
    for word in set(words):
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here
    return "(?:" + _trie_branches(root) + ")"


def _trie_branches(node: dict) -> str:
    branches = []
    for char in sorted(key for key in node if key):
        child = node[char]
        rest = _trie_branches(child) if any(child) else ""
        if "|" in rest or (rest and "" in child):  # a choice, or a longer word's optional rest
            rest = f"(?:{rest})" + ("?" if "" in child else "")
        branches.append(re.escape(char) + rest)
    return "|".join(branches)


# Verbs, lower-cased and plain, so a line's ending is checked with one str.endswith call.
VERB_ENDINGS = tuple(sorted(set(QUOTE_VERBS), key=len, reverse=True))
ATTRIBUTION_OPENER = re.compile(rf"^[-\s]*(?:\d|(?:{_plain(QUOTE_OPENERS)})\b)", re.IGNORECASE)
# '… "Name" <addr@host>:' without any verb (Russian Gmail, Yandex, Mail.ru, Crisp); tail only.
ADDRESS_ENDING = re.compile(r"[<(\[]\s*(?:mailto:)?[^\s<>()\[\]@]{1,100}@[^\s<>()\[\]]{1,100}\s*[>)\]]\s*:\s*$")

# "Label:" at the start of a line (also "*From:*", "> De :", "Envoyé le :"), looked up in sets.
LABEL = re.compile(r"^[\s>*]{0,10}(\w[\w'’-]{0,20}(?: \w[\w'’-]{0,20}){0,2})[ \t]{0,3}\*?[ \t]{0,3}[:：]")
FROM_LABEL_SET = frozenset(FROM_LABELS)
HEADER_LABEL_SET = frozenset(FROM_LABELS + OTHER_LABELS)
SEPARATOR_LINE = re.compile(
    rf"^[\s>]*[-=_*]{{2,}}\s*(?:{_plain(SEPARATOR_WORDS)})\s*:?\s*[-=_*]*\s*$", re.IGNORECASE
)
# "-------- <any short phrase> --------" (forward/original banners in any language), with the rest.
DASHED_BANNER = re.compile(r"^[\s>]*-{2,}[ \t]*([^\W\d_][^-\d\n]{1,60}?)[ \t]*-{2,}[ \t]*(.*)$")
# "Begin forwarded message:" and friends, alone on their line.
FORWARD_INTRO = re.compile(rf"^\s*(?:{_plain(SEPARATOR_WORDS)})\s*[:：]\s*$", re.IGNORECASE)
VERB_ANYWHERE = re.compile(rf"(?<!\w)(?:{_plain(QUOTE_VERBS)})(?!\w)", re.IGNORECASE)
RULE_LINE = re.compile(r"^\s*(?:[-=_*~—–]\s?){3,}\s*$")
MOBILE_LINE = re.compile(
    rf"^\s*(?:{'|'.join(MOBILE_SIGNATURES)})\s*(?:<[^<>\s]{{1,200}}>|\([^()\s]{{1,200}}\))?\s*\.?\s*$",
    re.IGNORECASE,
)
SIGNATURE_DELIMITER = re.compile(r"^(?:--|__)\s*$")
# How every line-level marker above can start (quote, attribution opener, separator, banner,
# signature delimiter, mobile line); the others hold a colon. A line with neither is ordinary
# prose: the quote stripper keeps it without trying each of them (see quotes.may_be_marker).
# The openers as a trie ('m(?:a(?:n|r)?|on(?:day)?)…'): the same words, but a prose line is
# turned down at its first letter instead of by each of a hundred alternatives in turn.
MARKER_START = re.compile(
    rf"[\s>]*(?:[-=_*>]|\d|{_trie(QUOTE_OPENERS)}\b|(?:{'|'.join(MOBILE_SIGNATURES)}))",
    re.IGNORECASE,
)
CLOSING_LINE = re.compile(rf"^\s*(?:{_plain(CLOSINGS)})\s*[,.!]?\s*$", re.IGNORECASE)
