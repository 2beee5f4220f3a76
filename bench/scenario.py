"""The measurements run against one target (sink or ours), in this order on a fresh process:
warm-up, (b) the 49 MiB message alone (time and memory), (a) smtp-source and our client at 20
concurrent senders, (c) small messages at 5 senders without, then with, a big message in flight.
For ours every phase waits until each accepted message has its decision in the database.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import loads
from procmem import PeakSampler, side_cpu_s, tree_cpu_s, tree_hwm, tree_pss, tree_rss
from targets import Target

MiB = 1024 * 1024


async def wait_decided(t: Target, like: str, expected: int, interval: float = 0.05,
                   stall: float = 60, cap: float = 900) -> dict:
    """Poll until `expected` distinct messages matching `like` have a decision, or nothing new
    was decided for `stall` s (or `cap` s in all): count, when, completeness, reasons."""
    last, t0 = -1, time.monotonic()
    last_change = t0
    while True:
        n = await asyncio.to_thread(t.decisions.count, like)
        now = time.monotonic()
        complete = n >= expected
        if n != last:
            last, last_change = n, now
        gone = t.proc.poll() is not None and now - last_change > 2  # no more decisions coming
        if complete or gone or now - last_change > stall or now - t0 > cap:
            break
        await asyncio.sleep(interval)
    return {"decided": n, "t_mono": now, "complete": complete,
            "reasons": await asyncio.to_thread(t.decisions.reasons, like)}


def decision_latencies(t: Target, like: str, starts: dict[str, float]) -> dict:
    at = t.decisions.decided_at(like)
    lat = [at[m] - s for m, s in starts.items() if m in at]
    ms = lambda v: None if v is None else round(v * 1000, 1)  # noqa: E731
    return {"decision_p50_ms": ms(loads.percentile(lat, 50)),
            "decision_p99_ms": ms(loads.percentile(lat, 99))}


async def _small(t: Target, tag: str, count: int, conc: int, stop=None, cpu: bool = False) -> dict:
    meter = CpuPerMessage(t) if cpu else None
    t0 = time.monotonic()
    res = await loads.small_load(t.port, t.rcpt, tag, count, conc, stop)
    out = res.summary()
    if meter is not None:
        meter.acked(res.ok)
    if t.decisions is not None:
        like = f"bench.{tag}.%"
        d = await wait_decided(t, like, res.ok)
        if meter is not None:
            out["cpu_ms_per_message"] = meter.decided(d["decided"], d["reasons"].get("LOGGED", 0))
        out.update(decided=d["decided"], complete=d["complete"], reasons=d["reasons"],
                   until_decided_s=round(d["t_mono"] - t0, 3),
                   decided_per_s=round(d["decided"] / (d["t_mono"] - t0), 1))
        out.update(decision_latencies(t, like, res.starts))
        out["logged_per_s"] = round(d["reasons"].get("LOGGED", 0) / (d["t_mono"] - t0), 1)
    else:
        out.update(until_decided_s=out["elapsed_s"], decided_per_s=out["msgs_per_s"],
                   logged_per_s=out["msgs_per_s"])
        if meter is not None:
            out["cpu_ms_per_message"] = meter.out
    return out


async def _write_big(path: Path, payload: bytes, tag: str) -> tuple[Path, str, int]:
    """The big message's file, written before any load it is measured against starts (the
    writing is CPU work in this process, where our client measures latencies)."""
    mid, wire = await asyncio.to_thread(loads.big_message_file, str(path), tag, payload)
    return path, mid, wire


async def _big(t: Target, written: tuple[Path, str, int]) -> dict:
    """Send the big message with smtp-source -F; time to 250 and (ours) to its decision."""
    path, mid, wire = written
    t0 = time.monotonic()
    src = await loads.smtp_source(t.port, t.rcpt, ["-s", "1", "-m", "1", "-F", str(path)], 600)
    out = {"wire_bytes": wire, "smtp": src, "to_250_s": round(time.monotonic() - t0, 3)}
    if t.decisions is not None:
        d = await wait_decided(t, mid, 1, interval=0.02)
        out.update(decided=d["complete"], reasons=d["reasons"],
                   to_decision_s=round(d["t_mono"] - t0, 3))
        out["attachments"] = await asyncio.to_thread(t.decisions.attachments, mid)
    else:
        out["to_decision_s"] = out["to_250_s"]
    path.unlink(missing_ok=True)
    return out


class CpuPerMessage:
    """CPU milliseconds per message of the server's process tree over one load (from /proc):
    `acked()` when every message has its 250 (the SMTP side: every process but the workers),
    `decided()` when every one has its decision (the whole tree), and the PostgreSQL backends
    of its database over the same span. CPU time, unlike a rate, hardly moves when other
    processes load the machine."""

    def __init__(self, t: Target):
        self.t = t
        self.side0, self.tree0 = side_cpu_s(t.pid), tree_cpu_s(t.pid)
        if t.pg is not None:
            t.pg.begin()
        self.out: dict = {}

    def acked(self, n: int) -> None:
        side = side_cpu_s(self.t.pid)
        smtp = side["smtp"] - self.side0["smtp"]
        self.out.update(acked=n, ack_smtp_side=_per(smtp, n),
                        ack_tree=_per(tree_cpu_s(self.t.pid) - self.tree0, n))

    def decided(self, n: int, logged: int | None = None) -> dict:
        side = side_cpu_s(self.t.pid)
        self.out.update(decided=n, decided_tree=_per(tree_cpu_s(self.t.pid) - self.tree0, n),
                        decided_smtp_side=_per(side["smtp"] - self.side0["smtp"], n),
                        decided_workers=_per(side["workers"] - self.side0["workers"], n))
        if self.t.pg is not None:
            pg = self.t.pg.end()
            self.out["pg_server_per_decided"] = _per(pg, n)
            if logged:
                self.out["pg_server_per_logged"] = _per(pg, logged)
        return self.out


def _per(seconds: float, n: int) -> float | None:
    return round(seconds * 1000 / n, 3) if n else None


class ServerDied(Exception):
    pass


def _check(t: Target, r: dict, phase: str) -> None:
    """Stop measuring (and say so) as soon as the server process is gone."""
    rc = t.proc.poll()
    if rc is not None:
        r["died"] = {"after_phase": phase, "returncode": rc}
        raise ServerDied(f"{t.name} exited with {rc} during/after {phase}")


async def run(t: Target, cfg: dict, payload: bytes, work: Path) -> dict:
    r: dict = {"target": t.name}
    try:
        await _phases(t, cfg, payload, work, r)
    except ServerDied as exc:
        r["error"] = str(exc)
    r["alive"] = t.proc.poll() is None
    r["returncode"] = t.proc.poll()
    r["log_tail"] = t.log_tail()
    return r


async def _phases(t: Target, cfg: dict, payload: bytes, work: Path, r: dict) -> None:
    run_id = uuid.uuid4().hex[:6]
    await _small(t, f"warm{run_id}", 20, 5)
    _check(t, r, "warm-up")
    await asyncio.sleep(1.0)
    big_file = await _write_big(work / f"big-{t.name}.eml", payload, f"bigB{run_id}")
    base, base_pss = tree_rss(t.pid), tree_pss(t.pid)
    with PeakSampler(t.pid) as sampler:
        big = await _big(t, big_file)
    hwm = tree_hwm(t.pid)
    big.update(idle_rss_mb=round(base / MiB, 1), idle_pss_mb=round(base_pss / MiB, 1), peak_rss_mb=round(sampler.peak / MiB, 1),
               rss_growth_mb=round((sampler.peak - base) / MiB, 1),
               hwm_growth_mb=round((hwm - base) / MiB, 1), rss_samples=sampler.samples)
    big["growth_per_size"] = round(max(sampler.peak - base, 0) / big["wire_bytes"], 2)
    r["big"] = big
    _check(t, r, "b")

    n = cfg["count"]
    host = f"srca{run_id}.bench.example"
    meter = CpuPerMessage(t)
    t0 = time.monotonic()
    src = await loads.smtp_source(t.port, t.rcpt, ["-s", "20", "-m", str(n), "-l", "10240",
                                                   "-M", host, "-S", "Quarterly proposal"], 900)
    accepted = n - src["error_lines"]
    meter.acked(accepted)
    src["cpu_ms_per_message"] = meter.out
    src["msgs_per_s"] = round(accepted / src["elapsed_s"], 1)
    if t.decisions is not None:
        d = await wait_decided(t, f"%@{host}", n)
        meter.decided(d["decided"])
        src.update(decided=d["decided"], complete=d["complete"], reasons=d["reasons"],
                   until_decided_s=round(d["t_mono"] - t0, 3),
                   decided_per_s=round(d["decided"] / (d["t_mono"] - t0), 1))
    else:
        src.update(until_decided_s=src["elapsed_s"], decided_per_s=src["msgs_per_s"])
    r["source"] = src
    _check(t, r, "a smtp-source")
    r["client"] = await _small(t, f"a{run_id}", n, 20, cpu=True)
    _check(t, r, "a client")

    big_file = await _write_big(work / f"big2-{t.name}.eml", payload, f"bigC{run_id}")
    r["c_alone"] = await _small(t, f"c0{run_id}", cfg["c_count"], 5)
    _check(t, r, "c alone")
    stop = asyncio.Event()
    small = asyncio.create_task(_small(t, f"c1{run_id}", cfg["c_cap"], 5, stop))
    await asyncio.sleep(0.2)  # small load running before the big one starts
    big2 = await _big(t, big_file)
    stop.set()
    r["c_during"] = await small
    r["c_big"] = big2
    _check(t, r, "c during big")
