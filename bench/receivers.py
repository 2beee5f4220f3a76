"""Receivers that add up (issue 18): two `smtp-logger serve` on one fresh PostgreSQL database,
each with its own data folder and port, fed in parallel with bench/run.py's LOGGED load (our
aiosmtplib client, 10 KB messages BCC'd by one user of one account, a connection per message),
beside one receiver alone given the same total messages over the same total senders, and (unless
--no-smtp-processes) one receiver with smtp_processes = 2. All in one run, one after the other.

For each phase: decided per second (all messages acknowledged and their decisions in the
database), CPU ms per message of each receiver's process tree (/proc), of the database's
backends, of the load generator (this process) and of the whole machine, and after the run a
count in the database: one engagement and one decision per message sent, no Message-ID twice.
Usage: .venv/bin/python bench/receivers.py [--count N] [--senders N] [--no-smtp-processes]
`make bench` (bench/run.py) runs it after its targets when PostgreSQL answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loads  # noqa: E402
import targets  # noqa: E402
from procmem import machine_cpu_s, proc_cpu_s, wait_quiet, wait_tree_idle  # noqa: E402
from report import compare  # noqa: E402
from scenario import CpuPerMessage, decision_latencies, wait_decided  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ONE, TWO, SMTP2 = "one receiver", "two receivers", "one, smtp_processes=2"


def _ms(seconds: float, n: int) -> float | None:
    return round(seconds * 1000 / n, 3) if n else None


class Machine:
    """CPU seconds over a phase: the whole machine, this process alone (the load generator; the
    receivers are its children, measured apart) and the database's backends (PgBackends, shared
    by the receivers of the phase)."""

    def __init__(self, pg: targets.PgBackends):
        self.pg = pg
        pg.begin()
        self.machine0, self.gen0, self.wall0 = machine_cpu_s(), proc_cpu_s(os.getpid()), time.monotonic()

    def end(self, decided: int, receivers_s: float) -> dict:
        pg = self.pg.end()
        machine, gen = machine_cpu_s() - self.machine0, proc_cpu_s(os.getpid()) - self.gen0
        wall, bench = time.monotonic() - self.wall0, receivers_s + pg + gen
        return {"receivers": _ms(receivers_s, decided), "pg_server": _ms(pg, decided),
                "load_generator": _ms(gen, decided), "bench": _ms(bench, decided),
                "machine": _ms(machine, decided), "others": _ms(max(machine - bench, 0), decided),
                "machine_busy": round(machine / wall / os.cpu_count(), 3),
                "cores_allow_per_s": round(os.cpu_count() * decided / bench, 1) if bench else None}


async def phase(rxs: list[targets.Target], pg: targets.PgBackends, tag: str, count: int,
                senders: int) -> dict:
    """`count` messages over `senders` senders, split evenly over the receivers `rxs` (tag
    <tag><k> for receiver k), sent at once; until every acknowledged one is decided."""
    k = len(rxs)
    shares = [count // k + (i < count % k) for i in range(k)]
    meters = [CpuPerMessage(t) for t in rxs]
    machine = Machine(pg)
    t0 = time.monotonic()
    results = await asyncio.gather(*(loads.small_load(t.port, t.rcpt, f"{tag}{i}", n, senders // k)
                                     for i, (t, n) in enumerate(zip(rxs, shares))))
    acked_s = time.monotonic() - t0
    for meter, res in zip(meters, results):
        meter.acked(res.ok)
    ok = sum(r.ok for r in results)
    d = await wait_decided(rxs[0], f"bench.{tag}%", ok)
    elapsed = d["t_mono"] - t0
    per_rx = []
    for i, (t, meter) in enumerate(zip(rxs, meters)):
        n = await asyncio.to_thread(t.decisions.count, f"bench.{tag}{i}.%")
        per_rx.append(dict(meter.decided(n), name=t.name, alive=t.proc.poll() is None))
    receivers_s = sum((r["decided_tree"] or 0) * r["decided"] / 1000 for r in per_rx)
    starts = {m: s for r in results for m, s in r.starts.items()}
    lat = [x for r in results for x in r.latencies]
    return {"tag": tag, "receivers": len(rxs), "senders": senders, "sent": sum(r.sent for r in results),
            "acked": ok, "errors": _merged(r.errors for r in results), "decided": d["decided"],
            "complete": d["complete"], "reasons": d["reasons"], "acked_s": round(acked_s, 3),
            "until_decided_s": round(elapsed, 3), "acked_per_s": round(ok / acked_s, 1),
            "decided_per_s": round(d["decided"] / elapsed, 1),
            "p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99),
            **decision_latencies(rxs[0], f"bench.{tag}%", starts),
            "cpu_ms_per_message": machine.end(d["decided"], receivers_s), "per_receiver": per_rx}


def _merged(dicts) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for key, n in d.items():
            out[key] = out.get(key, 0) + n
    return out


def _pct(values: list[float], p: float) -> float | None:
    v = loads.percentile(values, p)
    return None if v is None else round(v * 1000, 1)


def _check_once(t: targets.Target, phase_result: dict) -> None:
    """Exactly once, counted in the database: engagements == decisions == messages acknowledged,
    each Message-ID once."""
    c = t.decisions.once(f"bench.{phase_result['tag']}%")
    c["exactly_once"] = (c["engagements"] == c["engagement_message_ids"] == c["decisions"]
                         == c["decided_message_ids"] == phase_result["acked"])
    phase_result["once"] = c


def _serve(stack: ExitStack, name: str, env: dict, ctx: dict) -> targets.Target:
    return targets.start_serve(stack, name, env, ctx["log_dir"], ctx["pg_url"], ctx["rcpt"],
                               measure_pg=False)


def _backends(stack: ExitStack, rxs: list[targets.Target]) -> targets.PgBackends:
    """The database's backends, less every receiver's read-only bench connection."""
    pg = targets.PgBackends(rxs[0].decisions.database, *(t.decisions.backend_pid for t in rxs))
    stack.callback(pg.close)
    return pg


def _measure(rxs: list[targets.Target], phases: list[tuple[str, list[targets.Target]]],
             run_id: str, count: int, senders: int, stack: ExitStack) -> dict:
    """Warm every receiver up, then run the phases one after the other."""
    pg = _backends(stack, rxs)
    for t in rxs:
        asyncio.run(phase([t], pg, f"warm{run_id}{t.name[-1]}", 20, 5))
    for t in rxs:  # every worker up, nothing left over from the warm-up
        wait_tree_idle(t.pid)
    out = {}
    for label, group in phases:
        print(f"  {label}: {count} messages ...", flush=True)
        r = asyncio.run(phase(group, pg, f"{run_id}p{len(out)}x", count, senders))
        _check_once(group[0], r)
        out[label] = r
        print(f"  {label}: {r['decided_per_s']} decided/s, exactly once: {r['once']['exactly_once']}",
              flush=True)
    return out


def run(count: int, senders: int, log_dir: Path, smtp_processes: bool = True) -> dict:
    """The phases on one fresh database; a dict of phase label -> figures."""
    run_id = uuid.uuid4().hex[:6]
    with ExitStack() as stack:
        pg_url = targets.fresh_database(stack)
        env_a = targets.serve_env(stack, "rx-a", pg_url)
        ctx = {"log_dir": log_dir, "pg_url": pg_url, "rcpt": targets.add_user(env_a)}
        with ExitStack() as pair:
            a = _serve(pair, "receiver-a", env_a, ctx)
            b = _serve(pair, "receiver-b", targets.serve_env(pair, "rx-b", pg_url), ctx)
            out = _measure([a, b], [(ONE, [a]), (TWO, [a, b])], run_id, count, senders, pair)
        if smtp_processes:
            with ExitStack() as single:
                env = targets.serve_env(single, "rx-c", pg_url, smtp_processes=2)
                c = _serve(single, "receiver-c", env, ctx)
                out.update(_measure([c], [(SMTP2, [c])], run_id + "s", count, senders, single))
    return out


def _cpu(key: str):
    return lambda r: (r.get("cpu_ms_per_message") or {}).get(key)


def _rx(i: int, key: str):
    def get(r: dict):
        rx = r.get("per_receiver") or []
        return rx[i].get(key) if i < len(rx) else None
    return get


ROWS = [
    ("(a) our client (aiosmtplib), BCC'd 10 KB, LOGGED, PostgreSQL", None),
    ("  receivers (serve processes, own data folder each)", lambda r: r.get("receivers")),
    ("  senders in all", lambda r: r.get("senders")),
    ("  messages acknowledged (250)", lambda r: r.get("acked")),
    ("  msgs/s acknowledged", lambda r: r.get("acked_per_s")),
    ("  msgs/s until every one decided", lambda r: r.get("decided_per_s")),
    ("  seconds until every one decided", lambda r: r.get("until_decided_s")),
    ("  p50 ms connect..QUIT", lambda r: r.get("p50_ms")),
    ("  p99 ms connect..QUIT", lambda r: r.get("p99_ms")),
    ("  p99 ms connect..decision", lambda r: r.get("decision_p99_ms")),
    ("  errors (SMTP codes, exceptions)", lambda r: sum((r.get("errors") or {}).values())),
    ("  decisions", lambda r: " ".join(f"{k}:{v}" for k, v in sorted((r.get("reasons") or {}).items()))),
    ("exactly once (counted in the database after the phase)", None),
    ("  engagements", lambda r: r.get("once", {}).get("engagements")),
    ("  distinct Message-IDs of engagements", lambda r: r.get("once", {}).get("engagement_message_ids")),
    ("  decisions", lambda r: r.get("once", {}).get("decisions")),
    ("  engagements == decisions == acknowledged", lambda r: r.get("once", {}).get("exactly_once")),
    ("CPU ms per decided message (/proc)", None),
    ("  receivers' process trees, summed", _cpu("receivers")),
    ("    receiver A: SMTP side per acknowledged", _rx(0, "ack_smtp_side")),
    ("    receiver A: whole tree per decided", _rx(0, "decided_tree")),
    ("    receiver B: whole tree per decided", _rx(1, "decided_tree")),
    ("  PostgreSQL server (the database's backends)", _cpu("pg_server")),
    ("  load generator (this process)", _cpu("load_generator")),
    ("  these three: receivers + PostgreSQL + load generator", _cpu("bench")),
    ("  everything else on the machine (other sessions too)", _cpu("others")),
    ("  whole machine", _cpu("machine")),
    ("  machine busy (share of all cores)", _cpu("machine_busy")),
    ("decided/s the cores allow with nobody else (cores x 1000 / these three)", _cpu("cores_allow_per_s")),
]

NOTES = """\
Notes: every phase sends the same number of messages over the same number of concurrent senders
(split evenly over the receivers), from one asyncio load generator in this process, to receivers
sharing one PostgreSQL database and one account; a message counts once its decision is in the
database. CPU ms per message is user+system time from /proc over the phase divided by the
messages decided: the receivers' trees (serve, its SMTP processes and workers), the backends of
the bench's database (PostgreSQL's shared WAL writer and checkpointer, and in the first phase
the idle receiver B, are under 'everything else', with other sessions' load). Where the machine
is busy near 100% in every column, decided/s is about (cores x 1000) / (whole machine CPU ms per
message): a second receiver adds throughput only by putting idle cores to work or by lowering
the CPU per message; the last row is that bound for these three alone on this machine."""


def table(res: dict) -> str:
    cols = [c for c in (ONE, TWO, SMTP2) if c in res]
    return compare(ROWS, res, cols, ONE, lambda c: f"{'two' if c == TWO else 'smtp2'}/one") + "\n\n" + NOTES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="messages per phase (default 3000)")
    parser.add_argument("--senders", type=int, default=20, help="concurrent senders in all (default 20)")
    parser.add_argument("--no-smtp-processes", action="store_true", help="skip the smtp_processes=2 phase")
    parser.add_argument("--wait-quiet", type=float, default=30, help="seconds to wait for a quiet CPU first")
    args = parser.parse_args()
    command = shlex.join([sys.executable, *sys.argv])
    print(f"command: {command}", flush=True)
    if not targets.pg_available():
        print("PostgreSQL not reachable at 127.0.0.1:5432: nothing to measure", file=sys.stderr)
        return 2
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_dir = RESULTS / f"{stamp}-receivers-logs"
    log_dir.mkdir(parents=True)
    busy = wait_quiet(timeout=args.wait_quiet)
    res = run(args.count, args.senders, log_dir, not args.no_smtp_processes)
    text = table(res)
    out = {"command": command, "started": stamp, "nproc": os.cpu_count(), "cpu_busy_before": round(busy, 2),
           "count": args.count, "senders": args.senders, "phases": res, "table": text}
    path = RESULTS / f"{stamp}-receivers.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"\n{text}\n\nJSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
