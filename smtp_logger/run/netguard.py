"""The webhook URL guard against server-side request forgery: a URL is used only when every address
its host resolves to is public (loopback, private, link-local, multicast, reserved and their
IPv4-mapped forms are refused, and so is plain http) unless webhook_allow_private_networks is set.
Checked at creation and before every attempt, which then connects to the address it checked.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


class UrlRefused(ValueError):
    pass


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    port: int
    address: str  # the checked IP to connect to


def system_resolve(host: str, port: int) -> list[str]:
    return list(dict.fromkeys(info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback)


def check(url: str, allow_private: bool, resolve=system_resolve) -> Target:
    """The URL's target, or UrlRefused saying why."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UrlRefused("not a valid URL") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UrlRefused("only http(s) URLs with a host")
    if parts.scheme == "http" and not allow_private:
        raise UrlRefused("plain http is refused; use https")
    if parts.username or parts.password:
        raise UrlRefused("credentials in the URL are refused")
    try:
        addresses = resolve(parts.hostname, port)
    except (OSError, UnicodeError) as exc:
        raise UrlRefused(f"the host does not resolve ({exc.__class__.__name__})") from exc
    if not addresses:
        raise UrlRefused("the host does not resolve")
    if not allow_private:
        try:
            inward = [a for a in addresses if not _public(a)]
        except ValueError as exc:
            raise UrlRefused("the host resolves to something that is not an address") from exc
        if inward:
            raise UrlRefused("the host resolves to a loopback, private or link-local address")
    return Target(url, parts.hostname, port, addresses[0])
