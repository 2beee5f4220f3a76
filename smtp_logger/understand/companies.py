"""Which email domains make a company: every domain except free-mail and ISP domains.
Pure data and one function; the store creates the company rows."""

FREE_MAIL_DOMAINS = frozenset("""
gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de yahoo.es yahoo.it ymail.com
rocketmail.com hotmail.com hotmail.co.uk hotmail.fr hotmail.de hotmail.nl hotmail.it hotmail.es
outlook.com outlook.fr outlook.de outlook.nl outlook.es live.com live.nl live.fr live.de
live.co.uk msn.com aol.com aim.com icloud.com me.com mac.com mail.com email.com gmx.com gmx.de
gmx.net gmx.at gmx.ch web.de t-online.de freenet.de protonmail.com proton.me pm.me tutanota.com
tuta.io zoho.com yandex.com yandex.ru mail.ru inbox.ru list.ru bk.ru rambler.ru qq.com 163.com
126.com sina.com naver.com daum.net hanmail.net orange.fr wanadoo.fr free.fr laposte.net sfr.fr
libero.it virgilio.it tiscali.it alice.it seznam.cz centrum.cz wp.pl onet.pl interia.pl o2.pl
ziggo.nl kpnmail.nl planet.nl home.nl telenet.be skynet.be bluewin.ch hey.com fastmail.com
fastmail.fm hushmail.com mailbox.org posteo.de posteo.net btinternet.com sky.com comcast.net
verizon.net att.net sbcglobal.net bellsouth.net cox.net charter.net earthlink.net shaw.ca rogers.com
bigpond.com optusnet.com.au xtra.co.nz uol.com.br bol.com.br terra.com.br ig.com.br rediffmail.com
""".split())


def company_domain(domain: str) -> str | None:
    """The domain a company is keyed by, or None for free-mail domains."""
    domain = domain.lower().strip(".")
    if not domain or domain in FREE_MAIL_DOMAINS or "." not in domain:
        return None
    return domain


def company_name(domain: str) -> str:
    label = domain.split(".")[-2] if domain.count(".") >= 1 else domain
    return label.replace("-", " ").title()
