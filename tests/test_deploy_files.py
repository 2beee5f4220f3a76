"""The deployment files, read as data and then run: the Dockerfile's entrypoint with the
image's environment and no privilege, compose.yaml's migration and receiver commands against
a real PostgreSQL, the systemd unit through `systemd-analyze verify` and its ExecStart with only
CAP_NET_BIND_SERVICE on port 25. No Docker engine or systemd runs here: what needs one (building
the image, `useradd` in it, compose's ordering, systemd's sandbox) is checked as data only."""

from __future__ import annotations

import json
import os
import re
import shutil
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import PG_ADMIN_URL, PG_SKIP, Cli, free_port
from .deployment import (
    BIN,
    REPO,
    command_of,
    docker_env,
    dockerfile,
    effective_capabilities,
    healthcheck_command,
    instruction,
    port_answers,
    start_serving,
    stop,
    unit_file,
    unit_values,
    unprivileged,
    wait_for,
)
from .mailers import message, msgid, send

DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "compose.yaml"
UNIT = REPO / "deploy" / "systemd" / "smtp-logger.service"
SYSUSERS = REPO / "deploy" / "systemd" / "smtp-logger.sysusers.conf"


def _image_env(tmp_path: Path) -> dict:
    """The image's ENV, as `docker run -e` would adjust it here: the config file from the
    repository (the image copies it to /app), a fresh data folder, free ports."""
    env = docker_env(dockerfile(DOCKERFILE))
    env["SMTP_LOGGER_CONFIG"] = str(REPO / Path(env["SMTP_LOGGER_CONFIG"]).relative_to("/app"))
    env["SMTP_LOGGER_DATA_DIR"] = str(tmp_path / "data")
    env["SMTP_LOGGER_PORT"] = str(free_port())
    env["SMTP_LOGGER_METRICS_PORT"] = str(free_port())
    env["SMTP_LOGGER_HOST"] = "127.0.0.1"  # the image says 0.0.0.0; this machine is shared
    return env


def _argv(command: list[str]) -> list[str]:
    assert command[0] == "smtp-logger", command
    return [str(BIN), *command[1:]]


def _healthcheck(env: dict) -> int:
    """The image's HEALTHCHECK command, run for real with the container's environment."""
    argv = healthcheck_command(dockerfile(DOCKERFILE))
    assert argv[0] == "python"
    return subprocess.run([sys.executable, *argv[1:]], env={**os.environ, **env}, capture_output=True,
                          timeout=30).returncode


# -- Dockerfile -------------------------------------------------------------------------------

def test_dockerfile_runs_as_a_user_with_a_healthcheck_a_volume_and_an_unprivileged_port():
    text = DOCKERFILE.read_text()
    instructions = dockerfile(DOCKERFILE)
    env = docker_env(instructions)
    [user] = instruction(instructions, "USER")
    name = user.split(":")[0]
    assert name not in ("root", "0") and instructions[-1][0] == "CMD"
    assert instructions.index(("USER", user)) > max(i for i, (k, _) in enumerate(instructions) if k == "RUN")
    assert any("useradd" in run and name in run for run in instruction(instructions, "RUN"))
    assert env["SMTP_LOGGER_DATA_DIR"] in instruction(instructions, "VOLUME")
    port = int(env["SMTP_LOGGER_PORT"])
    assert port >= 1024 and str(port) in instruction(instructions, "EXPOSE")[0].split()
    assert f"-p 25:{port}" in text  # port 25 comes from the port map, documented in the file
    health = instruction(instructions, "HEALTHCHECK")[0]
    assert "/healthz" in health and "SMTP_LOGGER_METRICS_PORT" in health and env["SMTP_LOGGER_METRICS_PORT"]
    assert command_of(instruction(instructions, "CMD")[0]) == ["smtp-logger", "serve"]
    # flanker's tables are built at build time (site-packages is not writable at run time)
    assert any("import smtp_logger.understand.addresses" in run for run in instruction(instructions, "RUN"))


def test_dockerfile_entrypoint_serves_with_no_privilege_and_passes_its_healthcheck(tmp_path):
    prefix, why = unprivileged()
    if prefix is None:
        pytest.skip(why)
    env = _image_env(tmp_path)
    cli = Cli(env)
    user = cli.json("users", "add", "alice@ours.example")
    cmd = command_of(instruction(dockerfile(DOCKERFILE), "CMD")[0])
    proc = start_serving(prefix + _argv(cmd), {**os.environ, **env}, int(env["SMTP_LOGGER_PORT"]))
    try:
        assert effective_capabilities(proc.pid) == 0
        assert wait_for(lambda: _healthcheck(env) == 0, timeout=30), "HEALTHCHECK failed on a running receiver"
        m = message("alice@ours.example", "bob@acme.example")
        send(int(env["SMTP_LOGGER_PORT"]), m, [user["bcc_address"]], mail_from="alice@ours.example")
        assert wait_for(lambda: cli.json("why", msgid(m)))[0]["reason"] == "LOGGED"
    finally:
        code, out, err = stop(proc)
    assert code == 0, err[-2000:]
    assert _healthcheck(env) != 0  # and the same check notices a receiver that is gone
    for line in err.splitlines():  # log_format = json: nothing but log events on stderr
        assert json.loads(line)["event"], line


# -- compose.yaml -----------------------------------------------------------------------------

def _interpolate(value, variables: dict):
    """compose's ${VAR}, ${VAR:-default} and ${VAR:?error} in every string of a document."""
    if isinstance(value, dict):
        return {k: _interpolate(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, variables) for v in value]
    if not isinstance(value, str):
        return value

    def one(match):
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        if op == ":?":
            raise AssertionError(f"compose would refuse to start: {name}: {arg}")
        return arg if op == ":-" else ""
    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", one, value)


def _compose(variables: dict | None = None) -> dict:
    return _interpolate(yaml.safe_load(COMPOSE.read_text()), {"POSTGRES_PASSWORD": "pw-from-env"} if variables is None else variables)


def test_compose_runs_migrations_once_then_the_receiver_on_a_named_volume():
    services = _compose()["services"]
    postgres, migrate, receiver = services["postgres"], services["migrate"], services["receiver"]
    assert postgres["image"].startswith("postgres:") and postgres["healthcheck"]["test"]
    assert migrate["command"] == ["smtp-logger", "db", "upgrade"] and migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert receiver["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                      "migrate": {"condition": "service_completed_successfully"}}
    assert receiver["image"] == migrate["image"] and receiver["command"] == ["smtp-logger", "serve"]
    image_env = docker_env(dockerfile(DOCKERFILE))
    assert f"25:{image_env['SMTP_LOGGER_PORT']}" in receiver["ports"]
    [volume] = [v for v in receiver["volumes"] if v.endswith(":" + image_env["SMTP_LOGGER_DATA_DIR"])]
    assert volume.split(":")[0] in yaml.safe_load(COMPOSE.read_text())["volumes"]  # named, not a bind mount
    from sqlalchemy.engine import make_url
    url = make_url(receiver["environment"]["SMTP_LOGGER_DATABASE_URL"])
    assert url == make_url(migrate["environment"]["SMTP_LOGGER_DATABASE_URL"])
    assert (url.host, url.username, url.password, url.database) == (
        "postgres", postgres["environment"]["POSTGRES_USER"], "pw-from-env", postgres["environment"]["POSTGRES_DB"])
    with pytest.raises(AssertionError, match="POSTGRES_PASSWORD"):
        _compose({})  # no password, no start


@pytest.fixture
def pg_database():
    if PG_SKIP:
        pytest.skip(PG_SKIP)
    import secrets

    import psycopg
    name = f"sl_compose_{secrets.token_hex(4)}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_compose_migration_and_receiver_commands_work_against_postgresql(tmp_path, pg_database):
    from sqlalchemy.engine import make_url
    services = _compose()["services"]
    admin = make_url(PG_ADMIN_URL)

    def service_env(service: str) -> dict:
        """The service's environment, its `postgres` host and credentials pointed at this machine's."""
        env = dict(services[service]["environment"])
        url = make_url(env["SMTP_LOGGER_DATABASE_URL"]).set(
            host=admin.host, port=admin.port, username=admin.username, password=None, database=pg_database)
        env["SMTP_LOGGER_DATABASE_URL"] = url.render_as_string(hide_password=False)
        return {**_image_env(tmp_path), **env, "SMTP_LOGGER_WORKER_PROCESSES": "1"}

    migrate = subprocess.run(_argv(services["migrate"]["command"]), env={**os.environ, **service_env("migrate")},
                             capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    env = service_env("receiver")
    cli = Cli(env)
    user = cli.json("users", "add", "alice@ours.example")
    assert user["bcc_address"].endswith("@bcc.smtp-logger.example")  # compose's default BCC_DOMAIN
    proc = start_serving(_argv(services["receiver"]["command"]), {**os.environ, **env}, int(env["SMTP_LOGGER_PORT"]))
    try:
        assert wait_for(lambda: _healthcheck(env) == 0, timeout=30)
        m = message("alice@ours.example", "bob@acme.example")
        send(int(env["SMTP_LOGGER_PORT"]), m, [user["bcc_address"]], mail_from="alice@ours.example")
        assert wait_for(lambda: cli.json("why", msgid(m)))[0]["reason"] == "LOGGED"
    finally:
        code, _, err = stop(proc)
    assert code == 0, err[-2000:]


# -- systemd ----------------------------------------------------------------------------------

def test_systemd_unit_is_hardened_and_runs_as_its_own_user():
    unit = unit_file(UNIT)

    def one(key):
        [value] = unit_values(unit, "Service", key)
        return value
    assert one("Type") in ("simple", "notify") and one("Restart") == "on-failure"
    assert one("NoNewPrivileges") == "yes" and one("ProtectSystem") == "strict"
    assert one("AmbientCapabilities") == "CAP_NET_BIND_SERVICE" == one("CapabilityBoundingSet")
    assert one("RestartPreventExitStatus") == "2"  # a bad configuration is not restarted in a loop
    environment = dict(v.split("=", 1) for v in unit_values(unit, "Service", "Environment"))
    data_dir = environment["SMTP_LOGGER_DATA_DIR"]
    assert one("ReadWritePaths") == data_dir and data_dir == "/var/lib/" + one("StateDirectory")
    user = one("User")
    assert user not in ("root", "0")
    [sysuser] = [line.split() for line in SYSUSERS.read_text().splitlines() if line.startswith("u ")]
    assert sysuser[1] == user and data_dir in sysuser
    assert one("ExecStart").endswith("/smtp-logger serve")
    assert unit_values(unit, "Install", "WantedBy") == ["multi-user.target"]


def _unit_here(tmp_path: Path) -> Path:
    """The unit with its ExecStart pointing at this checkout's smtp-logger (verify checks it)."""
    path = tmp_path / UNIT.name
    exec_start = unit_values(unit_file(UNIT), "Service", "ExecStart")[0].split()[0]
    path.write_text(UNIT.read_text().replace(exec_start, str(BIN)))
    return path


def test_systemd_analyze_verify_is_clean(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    result = subprocess.run(["systemd-analyze", "verify", str(_unit_here(tmp_path))], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


def test_sysusers_file_creates_the_dedicated_user(tmp_path):
    if not shutil.which("systemd-sysusers") or os.geteuid() != 0:
        pytest.skip("systemd-sysusers is not installed, or not root")
    (tmp_path / "etc").mkdir()
    result = subprocess.run(["systemd-sysusers", f"--root={tmp_path}", str(SYSUSERS)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    user = unit_values(unit_file(UNIT), "Service", "User")[0]
    [entry] = [line for line in (tmp_path / "etc" / "passwd").read_text().splitlines() if line.startswith(user + ":")]
    assert entry.endswith(":/var/lib/smtp-logger:/usr/sbin/nologin")


def test_systemd_exec_start_listens_on_25_with_only_cap_net_bind_service(tmp_path):
    granted, why = unprivileged(("net_bind_service",))
    bare, _ = unprivileged()
    if granted is None:
        pytest.skip(why)
    if port_answers(25):
        pytest.skip("something already listens on 127.0.0.1:25")
    unit = unit_file(UNIT)
    env = dict(v.split("=", 1) for v in unit_values(unit, "Service", "Environment"))
    env.update(SMTP_LOGGER_CONFIG=str(REPO / "config" / "smtp_logger.toml"), SMTP_LOGGER_DATA_DIR=str(tmp_path / "data"),
               SMTP_LOGGER_HOST="127.0.0.1", SMTP_LOGGER_PORT="25", SMTP_LOGGER_WORKER_PROCESSES="1")
    argv = [str(BIN), *unit_values(unit, "Service", "ExecStart")[0].split()[1:]]
    env = {**os.environ, **env}
    # without the capability: a bad configuration, one line naming the port, exit 2
    refused = subprocess.run(bare + argv, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith("error: port: cannot listen on 127.0.0.1:25") and "CAP_NET_BIND_SERVICE" in refused.stderr
    proc = start_serving(granted + argv, env, 25)
    try:
        assert effective_capabilities(proc.pid) == 1 << 10  # CAP_NET_BIND_SERVICE, nothing else
        with smtplib.SMTP("127.0.0.1", 25, timeout=30) as client:
            assert client.noop()[0] == 250
    finally:
        code, _, err = stop(proc)
    assert code == 0, err[-2000:]
