"""The printed table of bench/run.py: one row per figure, columns sink, ours-sqlite,
ours-postgres and the ratios ours/sink (throughput: higher is better; times, memory: lower).
Values come from the JSON dict that run.py writes.
"""

from __future__ import annotations


def _g(d: dict, *path):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _errors(d: dict | None) -> int | None:
    return None if d is None else sum(d.values())


def _reasons(d: dict | None) -> str | None:
    return None if not d else " ".join(f"{k}:{v}" for k, v in sorted(d.items()))


def _p99_ratio(r: dict):
    a, b = _g(r, "c_alone", "p99_ms"), _g(r, "c_during", "p99_ms")
    return round(b / a, 2) if a and b is not None else None


def _c_count(r: dict):
    c = r.get("c_during") or {}
    return f"{c.get('ok')} ok / {_errors(c.get('errors'))} err" if c else None


def _stored(r: dict):
    att = _g(r, "big", "attachments")
    if not att:
        return None
    return "; ".join(f"{'yes' if a['stored'] else 'NO'} ({a['size']})" for a in att)


def _cpu(load: str, key: str):
    """A CPU-per-message figure of a load; the sink decides nothing, so for it every
    'decided' figure is its CPU per acknowledged message (the whole process)."""
    def get(r: dict):
        cpu = _g(r, load, "cpu_ms_per_message") or {}
        return cpu.get(key, cpu.get("ack_tree") if key == "decided_tree" else None)
    return get


ROWS = [
    ("CPU ms per message (user+system of the server's process tree, /proc)", None),
    ("  smtp-source: acknowledging (SMTP side)", _cpu("source", "ack_smtp_side")),
    ("  smtp-source: ack + decided NO_EXTERNAL_RECIPIENTS", _cpu("source", "decided_tree")),
    ("    of which workers", _cpu("source", "decided_workers")),
    ("  our client: acknowledging (SMTP side)", _cpu("client", "ack_smtp_side")),
    ("  our client: ack + decided LOGGED", _cpu("client", "decided_tree")),
    ("    of which workers", _cpu("client", "decided_workers")),
    ("  PostgreSQL server per LOGGED message", _cpu("client", "pg_server_per_logged")),
    ("  PostgreSQL server per NO_EXTERNAL_RECIPIENTS", _cpu("source", "pg_server_per_decided")),
    ("(a) smtp-source, 20 sessions, 10 KB, conn/msg", None),
    ("  msgs/s acknowledged (250)", lambda r: _g(r, "source", "msgs_per_s")),
    ("  msgs/s until every one decided", lambda r: _g(r, "source", "decided_per_s")),
    ("  seconds until every one decided", lambda r: _g(r, "source", "until_decided_s")),
    ("  smtp-source error lines", lambda r: _g(r, "source", "error_lines")),
    ("  decisions", lambda r: _reasons(_g(r, "source", "reasons"))),
    ("(a) our client (aiosmtplib), 20 senders, BCC", None),
    ("  msgs/s acknowledged (250)", lambda r: _g(r, "client", "msgs_per_s")),
    ("  msgs/s until every one LOGGED", lambda r: _g(r, "client", "logged_per_s")),
    ("  p50 ms connect..QUIT", lambda r: _g(r, "client", "p50_ms")),
    ("  p99 ms connect..QUIT", lambda r: _g(r, "client", "p99_ms")),
    ("  p50 ms connect..decision", lambda r: _g(r, "client", "decision_p50_ms")),
    ("  p99 ms connect..decision", lambda r: _g(r, "client", "decision_p99_ms")),
    ("  errors (SMTP codes, exceptions)", lambda r: _errors(_g(r, "client", "errors"))),
    ("  decisions", lambda r: _reasons(_g(r, "client", "reasons"))),
    ("(b) one message with a big attachment (smtp-source -F)", None),
    ("  seconds to 250", lambda r: _g(r, "big", "to_250_s")),
    ("  seconds to decision (sink: 250)", lambda r: _g(r, "big", "to_decision_s")),
    ("  decision", lambda r: _reasons(_g(r, "big", "reasons"))),
    ("  attachment stored (decoded bytes)", _stored),
    ("  idle RSS MB (summed over the process tree)", lambda r: _g(r, "big", "idle_rss_mb")),
    ("  idle PSS MB (shared pages counted once)", lambda r: _g(r, "big", "idle_pss_mb")),
    ("  peak RSS growth MB (20 ms samples)", lambda r: _g(r, "big", "rss_growth_mb")),
    ("  VmHWM growth MB", lambda r: _g(r, "big", "hwm_growth_mb")),
    ("  peak growth / wire size", lambda r: _g(r, "big", "growth_per_size")),
    ("(c) small msgs, 5 senders (our client)", None),
    ("  p99 ms alone", lambda r: _g(r, "c_alone", "p99_ms")),
    ("  p99 ms while big message in flight", lambda r: _g(r, "c_during", "p99_ms")),
    ("  p99 during / alone", _p99_ratio),
    ("  small msgs during big", _c_count),
    ("  errors alone", lambda r: _errors(_g(r, "c_alone", "errors"))),
    ("  big: seconds to decision under load", lambda r: _g(r, "c_big", "to_decision_s")),
    ("server alive at the end", lambda r: r.get("alive")),
    ("server died (phase, exit code)", lambda r: r.get("died") and
     f"{r['died']['after_phase']}, {r['died']['returncode']}"),
    ("CPU busy before start (not us)", lambda r: r.get("cpu_busy_before")),
    ("CPU used by other processes during", lambda r: r.get("others_cpu")),
]


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


NOTES = """\
Notes: CPU ms per message is user+system time of the server's processes (the sink's one process;
our server and its worker processes; the 'SMTP side' is every process but the workers) from
/proc over the load, divided by the messages acknowledged (or decided, once all are): other
processes on the machine hardly move it, unlike the rates below, which follow whatever else
runs on the 2 cores. Its ratio column is the figure over the sink's CPU per acknowledged
message of the same load. 'PostgreSQL server' is the CPU of the database server's backends
serving our database (the bench's own reader left out; the WAL writer and checkpointer, shared
with every database, too).
'ours' figures for (a) count a message only when its decision is in the database (read
only, polled every 50 ms); the sink has no decisions, so its 'decided' figures are its 250s.
smtp-source writes its own headers (From: <sender>, To: <the envelope recipient> = the BCC
address), so ours decides NO_EXTERNAL_RECIPIENTS for that load: it is the raw throughput through
the whole pipeline; LOGGED throughput and the percentiles come from our aiosmtplib client (Python,
on the same 2 cores as the server)."""
OVER_CAP = """\
The (b) attachment is {n:,} decoded bytes, over the 50,000,000-byte cap: per SPEC ours lists it as
not stored (row 'attachment stored'); --big-mib 47 measures a stored one."""


def table(out: dict) -> str:
    res = out["targets"]
    big = out.get("config", {}).get("big_attachment_bytes", 0)
    cols = [c for c in ("sink", "ours-sqlite", "ours-postgres") if c in res]
    return "\n".join([compare(ROWS, res, cols, "sink", lambda c: f"{c[5:]}/sink"), "", NOTES]
                     + ([OVER_CAP.format(n=big)] if big > 50_000_000 else []))


def compare(rows, res: dict, cols: list[str], base: str, ratio_head) -> str:
    """The figures `rows` ((label, fn of a column's dict) or (heading, None)) of the columns
    `cols` of `res`, then for each column but `base` its ratio to base (header ratio_head(col))."""
    others = [c for c in cols if c != base]
    head = ["figure", *cols, *(ratio_head(c) for c in others)]
    lines = []
    for label, fn in rows:
        if fn is None:
            lines.append([label] + [""] * (len(head) - 1))
            continue
        vals = [fn(res[c]) for c in cols]
        row = [label, *(_fmt(v) for v in vals)]
        ref = vals[cols.index(base)] if base in cols else None
        for c in others:
            v = vals[cols.index(c)]
            ok = isinstance(v, (int, float)) and isinstance(ref, (int, float)) and not isinstance(v, bool)
            row.append(f"{v / ref:.2f}x" if ok and ref else "")
        lines.append(row)
    widths = [max(len(r[i]) for r in [head, *lines]) for i in range(len(head))]
    fmt = lambda r: "  ".join(x.ljust(w) if i == 0 else x.rjust(w)  # noqa: E731
                              for i, (x, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(head), "-" * (sum(widths) + 2 * len(widths) - 2), *map(fmt, lines)])
