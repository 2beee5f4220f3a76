"""DNS for sender authentication: one dnspython resolver per settings (`dns_servers`: "host" or
"host:port", empty = the system's; `dns_timeout` seconds), and the one distinction the checks
need: an answer (records, or none: NXDOMAIN / no data) versus `TempDNSError` (time-out,
SERVFAIL, no server reachable), which is never taken for "no record". Queries only; no cache.
"""

from __future__ import annotations

from functools import lru_cache

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver


class TempDNSError(Exception):
    """No answer could be had now (time-out, SERVFAIL, refused): try again later."""


def _nameserver(entry: str) -> dns.nameserver.Nameserver:
    host, port = entry.strip(), 53
    if host.startswith("["):  # [IPv6]:port
        host, _, rest = host[1:].partition("]")
        port = int(rest.lstrip(":") or 53)
    elif host.count(":") == 1:
        host, _, number = host.partition(":")
        port = int(number)
    return dns.nameserver.Do53Nameserver(host, port)


@lru_cache(maxsize=8)
def resolver(servers: tuple[str, ...], timeout: float) -> dns.resolver.Resolver:
    """A resolver for these servers (the system's when empty); shared, dnspython's is thread-safe."""
    if servers:
        made = dns.resolver.Resolver(configure=False)
        made.nameservers = [_nameserver(entry) for entry in servers]
    else:
        made = dns.resolver.Resolver()
    made.timeout = made.lifetime = float(timeout)
    made.retry_servfail = False
    return made


def for_settings(settings) -> dns.resolver.Resolver:
    return resolver(tuple(settings.dns_servers), float(settings.dns_timeout))


def query(res: dns.resolver.Resolver, name: str, rdtype: str, lifetime: float | None = None):
    """The answer's records (empty for NXDOMAIN or no data); TempDNSError when none came."""
    try:
        return list(res.resolve(name, rdtype, lifetime=lifetime, search=False))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.YXDOMAIN):
        return []
    except (dns.name.EmptyLabel, dns.name.LabelTooLong, dns.name.NameTooLong, dns.name.IDNAException,
            UnicodeError, ValueError):
        return []  # a name that cannot be asked about has no records
    except (dns.exception.Timeout, dns.resolver.NoNameservers, OSError) as exc:
        raise TempDNSError(f"{rdtype} {name}: {exc.__class__.__name__}") from exc
    except dns.exception.DNSException as exc:  # a malformed answer: try again later
        raise TempDNSError(f"{rdtype} {name}: {exc.__class__.__name__}") from exc


def txt(res: dns.resolver.Resolver, name: str) -> list[str]:
    """The TXT records at `name`, each one's strings joined (RFC 7208 3.3, RFC 6376 3.6.2.2)."""
    return [b"".join(r.strings).decode("utf-8", "replace") for r in query(res, name, "TXT")]
