"""A small SMTP client on a raw socket, for what smtplib cannot do: a PROXY header before the
greeting, a chosen HELO name, and every reply seen (including the 421 before a close)."""

from __future__ import annotations

import socket


class RawSMTP:
    def __init__(self, port: int, proxy_ip: str | None = None, timeout: float = 30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if proxy_ip:
            self.sock.sendall(f"PROXY TCP4 {proxy_ip} 127.0.0.1 40000 25\r\n".encode())
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> str:
        """One whole reply (the last line of a multi-line one); '' when the server closed."""
        while True:
            line = self.file.readline().decode("utf-8", "replace")
            if not line or line[3:4] != "-":
                return line.strip()

    def command(self, text: str) -> str:
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def send(self, mail_from: str, rcpts: list[str], data: bytes, helo: str = "client.test") -> str:
        """A whole transaction; returns the reply to the end of data (or the first refusal)."""
        for command in (f"HELO {helo}", f"MAIL FROM:<{mail_from}>"):
            answer = self.command(command)
            if not answer.startswith("250"):
                return answer
        accepted = 0
        for rcpt in rcpts:
            answer = self.command(f"RCPT TO:<{rcpt}>")
            accepted += answer.startswith("250")
            if not accepted and not answer.startswith(("250", "550")):
                return answer
        if not accepted:
            return answer
        answer = self.command("DATA")
        if not answer.startswith("354"):
            return answer
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        stuffed = b"".join(b"." + line if line.startswith(b".") else line for line in data.splitlines(True))
        self.sock.sendall(stuffed + (b"" if stuffed.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        return self.reply()

    def close(self) -> None:
        try:
            self.sock.sendall(b"QUIT\r\n")
        except OSError:
            pass
        self.sock.close()

    def __enter__(self) -> "RawSMTP":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def send_raw(port: int, mail_from: str, rcpts: list[str], data: bytes, helo: str = "client.test",
             proxy_ip: str | None = None) -> str:
    with RawSMTP(port, proxy_ip) as client:
        return client.send(mail_from, rcpts, data, helo)
