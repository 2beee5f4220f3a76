"""A real DNS server for the tests (dnslib's, on 127.0.0.1, UDP and TCP on one free port) serving
the SPF, DKIM and DMARC records of the test domains, and a DKIM key the tests generate. It can be
stopped and started again on the same port, or made to answer SERVFAIL."""

from __future__ import annotations

import base64
import socket
import time

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dnslib import AAAA, MX, QTYPE, RCODE, RR, TXT, A, DNSLabel
from dnslib.server import BaseResolver, DNSLogger, DNSServer

_TYPES = {"A": (QTYPE.A, A), "AAAA": (QTYPE.AAAA, AAAA), "MX": (QTYPE.MX, MX), "TXT": (QTYPE.TXT, None)}


def _txt(value: str) -> TXT:
    data = value.encode()
    return TXT([data[i:i + 255] for i in range(0, len(data), 255)] or [b""])


class ZoneResolver(BaseResolver):
    def __init__(self):
        self.records: dict[str, list[tuple[str, str]]] = {}
        self.servfail = False
        self.queries: list[tuple[str, str]] = []

    def add(self, name: str, rtype: str, value: str) -> None:
        self.records.setdefault(name.lower().rstrip("."), []).append((rtype, value))

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        qtype = QTYPE[request.q.qtype]
        self.queries.append((name, qtype))
        if self.servfail:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if name not in self.records and not any(n.endswith("." + name) for n in self.records):
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for rtype, value in self.records.get(name, []):
            if rtype != qtype:
                continue
            code, make = _TYPES[rtype]
            rdata = _txt(value) if rtype == "TXT" else MX(DNSLabel(value)) if rtype == "MX" else make(value)
            reply.add_answer(RR(request.q.qname, code, rdata=rdata, ttl=0))
        return reply


def _quiet(*_args) -> None:
    pass


def _free_udp_tcp_port() -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port for UDP and TCP")


class DnsServer:
    """The server: `address` is what `dns_servers` names."""

    def __init__(self):
        self.zone = ZoneResolver()
        self.port = _free_udp_tcp_port()
        self.servers: list[DNSServer] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "DnsServer":
        for tcp in (False, True):
            for _attempt in range(50):  # the port of a stopped server may take a moment to free
                try:
                    server = DNSServer(self.zone, address="127.0.0.1", port=self.port, tcp=tcp,
                                       logger=DNSLogger("-request,-reply,-truncated,-error", logf=_quiet))
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise RuntimeError(f"cannot bind DNS port {self.port}")
            server.start_thread()
            self.servers.append(server)
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
            server.server.server_close()
        self.servers = []


class DkimKey:
    """An RSA key the test generates; `record` is its DNS TXT value."""

    def __init__(self, selector: str = "sel"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.selector = selector
        self.private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                         serialization.NoEncryption())
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        self.record = "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode()

    def sign(self, message: bytes, domain: str) -> bytes:
        """The message (CRLF line ends) with a DKIM-Signature by `domain` prepended."""
        message = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        signature = dkim.sign(message, self.selector.encode(), domain.encode(), self.private,
                              include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        return signature + message
