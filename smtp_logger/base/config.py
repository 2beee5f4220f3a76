"""Settings: the TOML file (`--config`, else config/smtp_logger.toml if present) overridden by
SMTP_LOGGER_* environment variables. Every command and the server read the same `Settings`,
so `serve` and the admin commands always see one database. A key that is unknown, of the wrong
type or out of its range is a `Problem` naming the key and where it came from; `load_settings`
refuses it (`ConfigError`). Pure data: reads the TOML file, opens nothing else.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

ENV_PREFIX = "SMTP_LOGGER_"
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "smtp_logger.toml"


# What `blocked_attachment_types` may name: executables by their headers, scripts, and
# "archive" (a zip or tar/gzip holding any of the kinds listed).
BLOCKABLE_TYPES = ("windows-executable", "macos-executable", "linux-executable", "script", "archive")


class ConfigError(ValueError):
    """A bad configuration; the message is one line naming the key or the file."""


@dataclass
class Settings:
    data_dir: str = "var"
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 2525
    lmtp: bool = False
    hostname: str = "smtp-logger.localhost"
    bcc_domain: str = "bcc.smtp-logger.localhost"
    forward_domain: str = "fwd.smtp-logger.localhost"
    max_message_size: int = 83_886_080
    max_attachment_size: int = 50_000_000
    # Attachments not stored for what their bytes are (understand/executables.py; listed "blocked").
    blocked_attachment_types: list[str] = field(default_factory=lambda: list(BLOCKABLE_TYPES))
    max_recipients: int = 100
    max_connections: int = 200
    max_line_length: int = 262_144
    session_timeout: int = 300
    tls_cert: str = ""
    tls_key: str = ""
    require_tls: bool = False
    proxy_protocol_timeout: float = 0
    sender_auth: str = "none"
    trusted_authserv_ids: list[str] = field(default_factory=list)
    dns_servers: list[str] = field(default_factory=list)  # "host" or "host:port"; empty = the system's
    dns_timeout: float = 5
    dns_retry_minutes: float = 30
    dns_retry_interval: float = 30
    trusted_networks: list[str] = field(default_factory=list)  # CIDR, exempt from the client limits
    max_connections_per_ip: int = 50
    max_messages_per_connection: int = 100
    rate_limit_per_ip: int = 0
    max_unknown_recipients: int = 20
    unknown_recipients_per_ip: int = 100
    max_received_headers: int = 50
    flood_limit: int = 0
    flood_window_minutes: float = 60
    held_retention_days: int = 30
    rotation_grace_hours: float = 0
    workers: int = 2
    worker_processes: int = 2
    smtp_processes: int = 1
    log_format: str = "auto"
    log_level: str = "info"
    metrics_port: int = 0
    # The HTTP API and webhooks (issue 16): the API listens when api_port is set.
    api_host: str = "127.0.0.1"
    api_port: int = 0
    webhook_retry_schedule: list[float] = field(default_factory=lambda: [5, 30, 120, 600, 1800, 3600])
    webhook_retry_hours: float = 72
    webhook_timeout: float = 10
    webhook_allow_private_networks: bool = False
    max_attempts: int = 5
    shutdown_grace_seconds: float = 30
    min_free_bytes: int = 1_073_741_824
    tls_check_seconds: float = 60
    address_sync_seconds: float = 5
    # Notices to users through the operator's relay (empty notify_smtp_host: no notices).
    notify_smtp_host: str = ""
    notify_smtp_port: int = 25
    notify_smtp_starttls: bool = False
    notify_smtp_username: str = ""
    notify_smtp_password: str = ""
    notify_smtp_timeout: float = 30
    notify_from: str = ""
    notify_max_per_hour: int = 10
    notify_digest_hour: int = 8
    notify_retry_seconds: float = 60
    # Where held raw mail and attachment files are kept (issue 19): "local" (this host's
    # data_dir) or "database"; empty: local on SQLite, database on PostgreSQL.
    blob_store: str = ""
    blob_grace_seconds: float = 3600

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).resolve()

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_path / 'smtp_logger.db'}"

    @property
    def notify_sender(self) -> str:
        """The From: of our notices (their envelope sender is always null, MAIL FROM:<>)."""
        return self.notify_from or f"smtp-logger@{self.hostname}"

    @property
    def notices_on(self) -> bool:
        return bool(self.notify_smtp_host)

    @property
    def is_embedded(self) -> bool:
        """SQLite (the default); asked on every RCPT, so without resolving the data path."""
        return not self.database_url or self.database_url.startswith("sqlite")


# Values a setting may take, beyond its type (a new mode of a setting goes here too).
CHOICES = {
    "sender_auth": ("none", "authentication-results", "dkim", "verify"),
    "log_format": ("auto", "json", "console"),
    "log_level": ("debug", "info", "warning", "error", "critical"),
    "blob_store": ("", "local", "database"),
}
# Inclusive ranges of numeric settings; every other integer setting must be >= 0.
RANGES = {"port": (1, 65535), "metrics_port": (0, 65535), "notify_smtp_port": (1, 65535),
          "notify_smtp_timeout": (1, 3600), "notify_digest_hour": (0, 23), "notify_retry_seconds": (0.1, 86400),
          "api_port": (0, 65535), "webhook_timeout": (0.1, 300), "webhook_retry_hours": (0, 8760),
          "max_attempts": (1, None), "smtp_processes": (1, 64)}
_TYPE_WORDS = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
               "list[str]": "a list of strings"}
_ENV_ONLY = {"CONFIG"}  # SMTP_LOGGER_CONFIG names the file; it is not a setting
# Settings whose values are never shown (in `config check`, or in a problem's message).
SECRET_NAME = re.compile(r"password|passwd|secret|token|(^|_)keys?($|_)")


def is_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def _shown(name: str, value) -> str:
    return "***" if is_secret(name) else repr(value)


@dataclass(frozen=True)
class Problem:
    """What is wrong with one setting: its key, where the value came from (the file's path, the
    environment variable, or "" when the key is checked as a whole) and a message."""

    key: str
    source: str
    message: str

    def __str__(self) -> str:
        """One line: "FILE: key: message", "SMTP_LOGGER_KEY: message" or "key: message"."""
        named = self.key if self.key and not self.source.startswith(ENV_PREFIX) else ""
        return ": ".join(part for part in (self.source, named, self.message) if part)


@dataclass
class Loaded:
    """The effective configuration before it becomes `Settings`: each key's value and source
    ("default", the file's path or the variable's name), what is wrong, what was ignored."""

    path: Path | None
    values: dict
    sources: dict
    problems: list[Problem]
    ignored: list[str]


def _type_name(typ) -> str:
    return typ if isinstance(typ, str) else getattr(typ, "__name__", str(typ))


def _coerce(name: str, raw: str, typ) -> object:
    """An environment variable's text as the setting's type (ValueError says what was expected)."""
    kind = _type_name(typ)
    if kind == "bool":
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
    elif kind in ("int", "float"):
        try:
            return int(raw) if kind == "int" else float(raw)
        except ValueError:
            pass
    elif kind.startswith("list"):
        return [item.strip() for item in raw.split(",") if item.strip()]
    else:
        return raw
    raise ValueError(f"expected {_TYPE_WORDS[kind]}, got {_shown(name, raw)}")


def _type_problem(name: str, value, typ) -> str | None:
    """Why a TOML value does not fit the setting's type (None: it fits, or the type is one this
    check does not know, which the dataclass then takes as given)."""
    kind = _type_name(typ)
    allowed = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "list[str]": (list,)}.get(kind)
    if allowed is None:
        return None
    fits = isinstance(value, allowed) and not (isinstance(value, bool) and kind != "bool")
    if fits and kind == "list[str]":
        fits = all(isinstance(item, str) for item in value)
    if fits:
        return None
    return f"expected {_TYPE_WORDS[kind]}, got {_shown(name, value)} ({type(value).__name__})"


def _value_problem(name: str, value) -> str | None:
    if name in CHOICES and value not in CHOICES[name]:
        return f"{_shown(name, value)} is not one of {', '.join(CHOICES[name])}"
    if name == "blocked_attachment_types" and isinstance(value, list):
        unknown = [item for item in value if item not in BLOCKABLE_TYPES]
        if unknown:
            return f"{unknown[0]!r} is not one of {', '.join(BLOCKABLE_TYPES)}"
    if name == "trusted_networks" and isinstance(value, list):
        for item in value:
            try:
                ipaddress.ip_network(str(item).strip(), strict=False)
            except ValueError:
                return f"{_shown(name, item)} is not a network (CIDR, e.g. 10.0.0.0/8)"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = RANGES.get(name, (0, None))
        if value < low or (high is not None and value > high):
            return f"{_shown(name, value)} is out of range ({low}..{high if high is not None else ''})"
    return None


def _read_file(path: Path, problems: list[Problem]) -> dict:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        problems.append(Problem("", str(path), f"cannot read the configuration file: {exc.strerror or exc}"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(Problem("", str(path), f"not valid TOML: {exc}"))
    return {}


def read_config(config_file: str | Path | None = None, environ: dict | None = None) -> Loaded:
    """Every key's effective value and source, and every problem (not just the first)."""
    environ = os.environ if environ is None else environ
    path = Path(config_file) if config_file else Path(environ.get(ENV_PREFIX + "CONFIG", DEFAULT_CONFIG))
    known = {f.name: f.type for f in fields(Settings)}
    problems: list[Problem] = []
    defaults = Settings()
    values = {name: getattr(defaults, name) for name in known}
    sources = dict.fromkeys(known, "default")
    read = bool(config_file) or ENV_PREFIX + "CONFIG" in environ or path.exists()
    for name, value in (_read_file(path, problems) if read else {}).items():
        if name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            problems.append(Problem(name, str(path), "unknown setting" + (f" (did you mean {hint[0]}?)" if hint else "")))
            continue
        values[name], sources[name] = value, str(path)
        wrong = _type_problem(name, value, known[name]) or _value_problem(name, value)
        if wrong:
            problems.append(Problem(name, str(path), wrong))
    for name, typ in known.items():
        variable = ENV_PREFIX + name.upper()
        if variable in environ:
            try:
                values[name], sources[name] = _coerce(name, environ[variable], typ), variable
            except ValueError as exc:
                values[name], sources[name] = environ[variable], variable
                problems.append(Problem(name, variable, str(exc)))
                continue
            wrong = _value_problem(name, values[name])
            if wrong:
                problems.append(Problem(name, variable, wrong))
    ignored = sorted(v for v in environ if v.startswith(ENV_PREFIX)
                     and v[len(ENV_PREFIX):].lower() not in known and v[len(ENV_PREFIX):] not in _ENV_ONLY)
    return Loaded(path if read else None, values, sources, problems, ignored)


def load_settings(config_file: str | Path | None = None, environ: dict | None = None) -> Settings:
    loaded = read_config(config_file, environ)
    if loaded.problems:
        more = len(loaded.problems) - 1
        raise ConfigError(str(loaded.problems[0]) + (f" (and {more} more: smtp-logger config check)" if more else ""))
    return Settings(**loaded.values)
