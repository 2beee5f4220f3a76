"""Load generators for bench/run.py: realistic 10 KB BCC'd messages and a 49 MiB attachment,
our asyncio SMTP client (aiosmtplib, one connection per message, per-message latency) and a
wrapper around Postfix's `smtp-source` (the independent C client used for raw throughput).
Everything connects to 127.0.0.1 only, with bounded counts and timeouts.
"""

from __future__ import annotations

import asyncio
import base64
import math
import os
import random
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate

import aiosmtplib

HOST = "127.0.0.1"
SENDER = "bench@ours.example"
BIG_MIB = 49
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
WORDS = ("proposal pricing renewal quarter contract licence seats discount support onboarding "
         "timeline milestone invoice budget approval meeting agenda follow-up integration pilot "
         "security review legal signature volume tier forecast roadmap").split()


def small_message(tag: str, i: int, size: int = 10_240) -> tuple[str, bytes]:
    """(Message-ID without brackets, bytes) of an outgoing sales email of about `size` bytes."""
    mid = f"bench.{tag}.{i}.{uuid.uuid4().hex[:12]}@ours.example"
    n = i % 50
    rng = random.Random(i)
    head = (f"From: Bench Seller <{SENDER}>\r\n"
            f"To: Customer {n} <buyer{n}@customer{n % 10}.example>\r\n"
            f"Subject: Re: {rng.choice(WORDS).title()} for Q{1 + i % 4} (#{i})\r\n"
            f"Date: {formatdate(localtime=True)}\r\n"
            f"Message-ID: <{mid}>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            "User-Agent: bench/1.0\r\n\r\n")
    lines, total = [f"Hello Customer {n},", ""], len(head)
    while total < size - 80:
        line = " ".join(rng.choice(WORDS) for _ in range(11)).capitalize() + "."
        lines.append(line)
        total += len(line) + 2
    lines += ["", "Best regards,", "Bench Seller"]
    return mid, (head + "\r\n".join(lines) + "\r\n").encode()


def big_message_file(path: str, tag: str, payload: bytes) -> tuple[str, int]:
    """Write a BCC'd message with `payload` as a base64 attachment to `path`, LF line ends (the
    form smtp-source -F wants). Returns (Message-ID, size on the wire with CRLF)."""
    mid = f"bench.{tag}.{uuid.uuid4().hex[:12]}@ours.example"
    head = (f"From: Bench Seller <{SENDER}>\nTo: Customer Big <big@customer-big.example>\n"
            f"Subject: Drawings {tag}\nDate: {formatdate(localtime=True)}\nMessage-ID: <{mid}>\n"
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"=_bench_boundary\"\n\n"
            "--=_bench_boundary\nContent-Type: text/plain; charset=utf-8\n\n"
            "Hello, the drawings are attached.\n\n--=_bench_boundary\n"
            "Content-Type: application/octet-stream; name=\"drawings.bin\"\n"
            "Content-Transfer-Encoding: base64\n"
            "Content-Disposition: attachment; filename=\"drawings.bin\"\n\n").encode()
    body = base64.encodebytes(payload)
    tail = b"--=_bench_boundary--\n"
    with open(path, "wb") as f:
        f.write(head + body + tail)
    n = len(head) + len(body) + len(tail)
    return mid, n + (head + body + tail).count(b"\n")


def big_payload(mib: float = BIG_MIB) -> bytes:
    return os.urandom(int(mib * 1024 * 1024))


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class SmallResult:
    sent: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)   # seconds, connect..QUIT, 250 only
    starts: dict[str, float] = field(default_factory=dict)  # Message-ID -> wall time of connect
    elapsed: float = 0.0
    wall_start: float = 0.0

    def summary(self) -> dict:
        ms = lambda v: None if v is None else round(v * 1000, 1)  # noqa: E731
        return {"sent": self.sent, "ok": self.ok, "errors": self.errors,
                "elapsed_s": round(self.elapsed, 3),
                "msgs_per_s": round(self.ok / self.elapsed, 1) if self.elapsed else None,
                "p50_ms": ms(percentile(self.latencies, 50)),
                "p99_ms": ms(percentile(self.latencies, 99))}


async def _send_one(port: int, rcpt: str, mid: str, data: bytes, res: SmallResult) -> None:
    res.sent += 1
    res.starts[mid] = time.time()
    t0 = time.perf_counter()
    smtp = aiosmtplib.SMTP(hostname=HOST, port=port, timeout=120, start_tls=False)
    try:
        await smtp.connect()
        await smtp.sendmail(SENDER, [rcpt], data)
        await smtp.quit()
        res.latencies.append(time.perf_counter() - t0)
        res.ok += 1
    except aiosmtplib.SMTPResponseException as exc:
        key = f"{exc.code}"
        res.errors[key] = res.errors.get(key, 0) + 1
        res.starts.pop(mid, None)
    except Exception as exc:  # connection refused/reset, timeouts: counted, never hidden
        key = type(exc).__name__
        res.errors[key] = res.errors.get(key, 0) + 1
        res.starts.pop(mid, None)
    finally:
        smtp.close()


async def small_load(port: int, rcpt: str, tag: str, count: int, concurrency: int,
                     stop: asyncio.Event | None = None) -> SmallResult:
    """`count` messages over `concurrency` senders (a connection each); stops early when
    `stop` is set (messages already started finish)."""
    res = SmallResult(wall_start=time.time())
    queue = iter(range(count))
    messages = {}

    async def sender() -> None:
        for i in queue:
            if stop is not None and stop.is_set():
                return
            mid, data = messages.pop(i, None) or small_message(tag, i)
            await _send_one(port, rcpt, mid, data, res)

    for i in range(min(count, 2000)):  # pre-build (most of) the messages outside the timing
        messages[i] = small_message(tag, i)
    t0 = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    res.elapsed = time.perf_counter() - t0
    return res


async def smtp_source(port: int, rcpt: str, args: list[str], timeout: float) -> dict:
    """Run smtp-source (-A: go on after a refusal) and time it; stderr lines are its errors."""
    cmd = [SMTP_SOURCE, "-A", *args, "-f", SENDER, "-t", rcpt, f"{HOST}:{port}"]
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
        timed_out = False
    except asyncio.TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        timed_out = True
    finally:  # cancelled (Ctrl-C) or failed: never leave it running
        if proc.returncode is None:
            try:
                proc.kill()
            except ProcessLookupError:
                pass
    elapsed = time.perf_counter() - t0
    lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
    codes: dict[str, int] = {}
    for ln in lines:
        m = re.search(r"\b([45]\d\d)\b", ln)
        key = m.group(1) if m else "other"
        codes[key] = codes.get(key, 0) + 1
    return {"cmd": " ".join(cmd), "elapsed_s": round(elapsed, 3), "rc": proc.returncode,
            "timed_out": timed_out, "error_lines": len(lines), "errors": codes,
            "stderr_head": lines[:5]}
