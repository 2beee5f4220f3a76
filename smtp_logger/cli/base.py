"""The command line's shared parts: settings and sessions (`Context`), one-line errors,
JSON output, and the `smtp-logger` group every command hangs on. Exit codes: 1 for bad
command input (usage errors included), 2 for a bad configuration (`ConfigProblem`)."""

from __future__ import annotations

import json
from contextlib import contextmanager

import click

from smtp_logger.base.config import ConfigError, load_settings
from smtp_logger.base.logsetup import configure
from smtp_logger.intake.addresses import mark_changed
from smtp_logger.intake.spool import Spool
from smtp_logger.store import accounts
from smtp_logger.store.accounts import Conflict, NotFound
from smtp_logger.store.db import session_factory, upgrade
from smtp_logger.understand.addresses import is_valid_address, normalize_address


class UserError(click.ClickException):
    def show(self, file=None):
        click.echo(f"error: {self.message}", err=True)


class ConfigProblem(UserError):
    """A bad configuration (a key, a file it names, the database it points at): exit 2."""

    exit_code = 2


class BadUsage(UserError):
    """click's usage errors (unknown option, missing argument) as one line, exit 1."""

    def __init__(self, error: click.UsageError):
        where = f" (see {error.ctx.command_path} --help)" if error.ctx else ""
        super().__init__(error.format_message() + where)


class Commands(click.Group):
    """The `smtp-logger` group: usage errors exit 1 like other bad input, not click's 2, which
    means a bad configuration here. Showing help for a bare group is left to click."""

    group_class = type  # sub-groups (users, contacts, ...) are Commands too

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            if _shown_as_is(exc):
                raise
            raise BadUsage(exc) from exc

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if _shown_as_is(exc):
                raise
            raise BadUsage(exc) from exc


def _shown_as_is(exc: click.UsageError) -> bool:
    """A bare `smtp-logger users` shows its help (click's NoArgsIsHelpError), not an error."""
    return isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ()))


def emit(data, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False) if as_json else text)


def valid_address(value: str) -> str:
    value = normalize_address(value)
    if not is_valid_address(value):
        raise UserError(f"not a valid email address: {value!r}")
    return value


class Context:
    def __init__(self, config_file):
        self.config_file = config_file
        self._settings = None
        self.sessions = None
        self.account_choice: int | None = None

    @property
    def settings(self):
        """Loaded when a command first needs them (so `config check` can report a bad file)."""
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_file)
            except ConfigError as exc:
                raise ConfigProblem(str(exc)) from exc
            configure(self._settings.log_format, self._settings.log_level)
        return self._settings

    def prepare(self):
        if self.sessions is None:
            if self.settings.is_embedded:
                upgrade(self.settings.db_url)
            self.sessions = session_factory(self.settings.db_url)
        return self.sessions

    @contextmanager
    def session(self):
        sessions = self.prepare()
        with sessions() as session:
            try:
                yield session
                session.commit()
                if session.info.pop(accounts.ADDRESSES_CHANGED, False):
                    mark_changed(self.settings.data_path)  # a running receiver on this host asks again
            except (NotFound, Conflict) as exc:
                session.rollback()
                raise UserError(str(exc)) from exc
            except Exception as exc:
                session.rollback()
                if exc.__class__.__name__ in ("OperationalError", "ProgrammingError"):
                    raise UserError(f"database error: {str(exc).splitlines()[0]}") from exc
                raise

    def pipeline(self):
        """The pipeline (imported on demand: `serve` with worker processes never needs it here)."""
        from smtp_logger.run.pipeline import Pipeline
        return Pipeline(self.settings, self.prepare(), Spool(self.settings.data_path))

    def account_id(self, session) -> int:
        """`--account ID` when given, else the only account (an error naming them when there are several)."""
        if self.account_choice is not None:
            return accounts.get_account(session, self.account_choice).id
        return accounts.only_account(session).id


pass_ctx = click.make_pass_decorator(Context)

# Commands that read or change no one account's data get no --account option.
ACCOUNT_FREE = {"serve", "api", "db upgrade", "config check", "held purge", "accounts add", "accounts list",
                "blobs migrate", "blobs check"}


def _remember_account(ctx, _param, value):
    if value is not None:
        ctx.find_object(Context).account_choice = value
    return value


class AccountGroup(Commands):
    """Gives every command below it `--account ID` (so commands added later get it too)."""

    def add_command(self, cmd, name=None):
        if not isinstance(cmd, click.Group) and not {cmd.name, f"{self.name} {cmd.name}"} & ACCOUNT_FREE:
            cmd.params.append(click.Option(
                ["--account", "account_choice"], type=click.IntRange(min=1), expose_value=False,
                callback=_remember_account, help="The account's id (default: the only account)."))
        super().add_command(cmd, name)


@click.group(cls=AccountGroup)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="TOML configuration file (default: config/smtp_logger.toml; SMTP_LOGGER_* override).")
@click.pass_context
def main(ctx, config_file):
    """smtp_logger: log BCC'd and forwarded sales email on CRM contact timelines."""
    ctx.obj = Context(config_file)
