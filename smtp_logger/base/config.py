"""Settings: the TOML file (`--config`, else config/smtp_logger.toml if present) overridden by
SMTP_LOGGER_* environment variables. Every command and the server read the same `Settings`,
so `serve` and the admin commands always see one database. Pure data; opens nothing.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

ENV_PREFIX = "SMTP_LOGGER_"
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "smtp_logger.toml"


class ConfigError(ValueError):
    pass


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
    log_format: str = "auto"
    log_level: str = "info"
    metrics_port: int = 0

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).resolve()

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_path / 'smtp_logger.db'}"

    @property
    def is_embedded(self) -> bool:
        """SQLite (the default); asked on every RCPT, so without resolving the data path."""
        return not self.database_url or self.database_url.startswith("sqlite")


def _coerce(name: str, raw: str, typ) -> object:
    if typ in (bool, "bool"):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}: not a boolean: {raw!r}")
    if typ in (int, "int"):
        return int(raw)
    if typ in (float, "float"):
        return float(raw)
    if str(typ).startswith("list"):
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def load_settings(config_file: str | Path | None = None, environ: dict | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    path = Path(config_file) if config_file else Path(environ.get(ENV_PREFIX + "CONFIG", DEFAULT_CONFIG))
    values: dict = {}
    if config_file or path.exists():
        try:
            values = tomllib.loads(path.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from exc
    known = {f.name: f.type for f in fields(Settings)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(f"unknown setting(s) in {path}: {', '.join(sorted(unknown))}")
    for name, typ in known.items():
        env_value = environ.get(ENV_PREFIX + name.upper())
        if env_value is not None:
            try:
                values[name] = _coerce(name, env_value, typ)
            except ValueError as exc:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()}: {exc}") from exc
    return Settings(**values)
