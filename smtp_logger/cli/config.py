"""`smtp-logger config check`, and the start-up checks that open what the settings name: the
TLS certificate and key, the data folder, the database. A bad configuration stops a command
with exit 2 and one line naming the key or the file, before anything is listened on or written.
Secrets never reach the output: URL passwords and settings named like a password are masked.
"""

from __future__ import annotations

import errno
import json
import re
import socket
import ssl
import tempfile
from pathlib import Path

import click

from smtp_logger.base.config import Problem, Settings, is_secret, read_config
from smtp_logger.cli.base import ConfigProblem, main, pass_ctx

URL_PASSWORD = re.compile(r"(://[^/@:\s]*:)[^@/\s]*@")
MASK = "***"
DB_CONNECT_TIMEOUT = 5  # seconds


def mask(name: str, value):
    """A setting's value as it may be shown: secrets replaced by ***."""
    if isinstance(value, list):
        return [mask(name, item) for item in value]
    if not isinstance(value, str) or not value:
        return value
    if is_secret(name):
        return MASK
    return URL_PASSWORD.sub(rf"\g<1>{MASK}@", value)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def tls_problems(settings) -> list[Problem]:
    """The certificate and key are readable files that load as a pair."""
    if settings.tls_key and not settings.tls_cert:
        return [Problem("tls_cert", "", "empty, but tls_key is set")]
    if settings.require_tls and not settings.tls_cert:
        return [Problem("require_tls", "", "true, but no tls_cert is set")]
    problems = []
    for key in ("tls_cert", "tls_key"):
        path = getattr(settings, key)
        if path:
            try:
                with open(path, "rb") as handle:
                    handle.read(1)
            except OSError as exc:
                problems.append(Problem(key, "", f"cannot read {path}: {exc.strerror or exc}"))
    if problems or not settings.tls_cert:
        return problems
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(settings.tls_cert, settings.tls_key or None)
    except (ssl.SSLError, OSError, ValueError) as exc:
        pair = settings.tls_cert + (f" and {settings.tls_key}" if settings.tls_key else "")
        return [Problem("tls_cert", "", f"{pair}: not a certificate and key that belong together ({_first_line(exc)})")]
    return []


def _folder_problem(key: str, path: Path) -> Problem | None:
    """path is a folder we can write in, or one we could create (checked without creating it)."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return Problem(key, "", f"{path}: {existing} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return Problem(key, "", f"{path}: cannot write in {existing}: {exc.strerror or exc}")
    return None


def data_dir_problems(settings) -> list[Problem]:
    """data_dir (the spool, the embedded database, raw mail) can be written."""
    problem = _folder_problem("data_dir", settings.data_path)
    return [problem] if problem else []


def listen_problems(settings) -> list[Problem]:
    """The SMTP port and the metrics port can be bound (below 1024 that takes root or
    CAP_NET_BIND_SERVICE). Only `serve` asks: a running receiver holds them."""
    problems = []
    for key in ("port", "metrics_port"):
        port = getattr(settings, key)
        if not port:
            continue
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                settings.host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(address)
        except OSError as exc:
            hint = " (a port below 1024 needs root or CAP_NET_BIND_SERVICE)" if exc.errno == errno.EACCES else ""
            problems.append(Problem(key, "", f"cannot listen on {settings.host}:{port}: {exc.strerror or exc}{hint}"))
    return problems


def database_problems(settings, timeout: float = DB_CONNECT_TIMEOUT) -> list[Problem]:
    """The database answers. A SQLite file is made on demand: then its folder must be writable
    (the embedded one, in data_dir, is data_dir's check)."""
    if not settings.database_url:
        return []
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool
    url = settings.database_url
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url
        database = make_url(url).database
        if database and database != ":memory:" and not Path(database).exists():
            folder = Path(database).resolve().parent
            if not folder.is_dir():
                return [Problem("database_url", "", f"{folder} does not exist (SQLite does not make folders)")]
            problem = _folder_problem("database_url", folder)
            return [problem] if problem else []
    engine = None
    try:
        args = {"connect_timeout": max(1, int(timeout))} if url.startswith("postgresql") else {}
        engine = create_engine(url, poolclass=NullPool, connect_args=args)
        with engine.connect():
            pass
    except Exception as exc:  # any driver's error: the operator needs its first line, not a traceback
        message = URL_PASSWORD.sub(rf"\g<1>{MASK}@", _first_line(exc))
        return [Problem("database_url", "", f"cannot connect to {mask('database_url', url)}: {message}")]
    finally:
        if engine is not None:
            engine.dispose()
    return []


def start_problems(settings) -> list[Problem]:
    """What `config check` checks beyond the values: files the server opens, the folder it writes."""
    return tls_problems(settings) + data_dir_problems(settings)


def refuse(problems: list[Problem]) -> None:
    """Stop with exit 2 and one line (the first problem) when there is any."""
    if problems:
        more = f" (and {len(problems) - 1} more: smtp-logger config check)" if len(problems) > 1 else ""
        raise ConfigProblem(str(problems[0]) + more)


def check_report(config_file: str | None, environ=None) -> dict:
    """The effective configuration (masked), each value's source, and every problem."""
    loaded = read_config(config_file, environ)
    problems = list(loaded.problems)
    if not problems:
        settings = Settings(**loaded.values)
        problems += start_problems(settings) + database_problems(settings)
    return {
        "config_file": str(loaded.path) if loaded.path else None,
        "settings": {name: mask(name, value) for name, value in loaded.values.items()},
        "sources": loaded.sources,
        "ignored_environment": loaded.ignored,
        "problems": [{"key": p.key, "source": p.source, "message": p.message, "text": str(p)} for p in problems],
        "ok": not problems,
    }


def _text(report: dict) -> str:
    lines = [f"# configuration file: {report['config_file'] or '(none: built-in defaults)'}"]
    width = max(map(len, report["settings"]))
    for name, value in report["settings"].items():
        source = report["sources"][name]
        shown = "default" if source == "default" else ("file" if source == report["config_file"] else source)
        lines.append(f"{name.ljust(width)} = {json.dumps(value, ensure_ascii=False)}  # {shown}")
    for variable in report["ignored_environment"]:
        lines.append(f"# ignored: {variable} is not a setting")
    if report["ok"]:
        lines.append("# configuration OK")
    else:
        lines.append(f"# {len(report['problems'])} problem(s):")
        lines += [f"error: {problem['text']}" for problem in report["problems"]]
    return "\n".join(lines)


@main.group("config")
def config_group():
    """The configuration."""


@config_group.command("check")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def config_check(obj, as_json):
    """Print the effective configuration (secrets masked) and what is wrong with it; exit 2 if anything is."""
    report = check_report(obj.config_file)
    click.echo(json.dumps(report, indent=2, ensure_ascii=False) if as_json else _text(report))
    if not report["ok"]:
        raise click.exceptions.Exit(2)

