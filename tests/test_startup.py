"""Start-up hygiene, through the real `smtp-logger` console script: a bad configuration exits 2
with one line naming the key or the file (bad command input stays exit 1), `config check`
prints the effective configuration with its secrets masked and everything that is wrong, and
a first start prints no parser-generator noise."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from .conftest import PG_ADMIN_URL, PG_SKIP, free_port
from .deployment import BIN, REPO, port_answers, start_serving, stop

CONFIG = REPO / "config" / "smtp_logger.toml"


def _unpadded(text: str) -> str:
    """`config check` lines with the names' padding (as wide as the longest setting) taken out."""
    return re.sub(r"(?m)^(\w+) +=", r"\1 =", text)


def run(*args: str, env: dict | None = None, config: Path | None = None) -> subprocess.CompletedProcess:
    argv = [str(BIN), *(["--config", str(config)] if config else []), *args]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_LOGGER_")}
    return subprocess.run(argv, env={**clean, **(env or {})}, capture_output=True, text=True, timeout=120)


def one_error_line(result: subprocess.CompletedProcess, code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "smtp_logger.toml"
    path.write_text(CONFIG.read_text() + "\n" + text)
    return path


@pytest.mark.parametrize("extra, env, expected", [
    ("prot = 25\n", {}, ["FILE", "prot", "unknown setting", "did you mean port"]),
    ("", {"SMTP_LOGGER_PORT": "twenty-five"}, ["SMTP_LOGGER_PORT", "expected an integer", "'twenty-five'"]),
    ("", {"SMTP_LOGGER_LMTP": "maybe"}, ["SMTP_LOGGER_LMTP", "expected true or false"]),
    ("", {"SMTP_LOGGER_SENDER_AUTH": "dkm"}, ["SMTP_LOGGER_SENDER_AUTH", "'dkm' is not one of"]),
    ("", {"SMTP_LOGGER_MAX_RECIPIENTS": "-1"}, ["SMTP_LOGGER_MAX_RECIPIENTS", "out of range"]),
])
def test_a_bad_setting_exits_2_with_one_line_naming_it(tmp_path, extra, env, expected):
    path = _config(tmp_path, extra)
    line = one_error_line(run("users", "list", env={"SMTP_LOGGER_DATA_DIR": str(tmp_path / "d"), **env}, config=path), 2)
    for word in expected:
        assert word.replace("FILE", str(path)) in line, line
    assert not (tmp_path / "d").exists()  # refused before anything was written


def test_a_wrong_type_in_the_file_is_named_with_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('port = "2525"\nworkers = 2\n')
    line = one_error_line(run("users", "list", config=path), 2)
    assert line == f"error: {path}: port: expected an integer, got '2525' (str)"
    path.write_text("tls_key = 918273645\n")  # a secret's value is not shown, even when wrong
    line = one_error_line(run("users", "list", config=path), 2)
    assert line == f"error: {path}: tls_key: expected a string, got *** (int)"


def test_an_unreadable_or_invalid_configuration_file_is_named(tmp_path):
    missing = tmp_path / "nowhere.toml"
    assert str(missing) in one_error_line(run("users", "list", config=missing), 2)
    broken = tmp_path / "broken.toml"
    broken.write_text("port = \n")
    line = one_error_line(run("serve", env={"SMTP_LOGGER_CONFIG": str(broken)}), 2)
    assert str(broken) in line and "not valid TOML" in line


def test_serve_refuses_an_unreadable_or_mismatched_certificate_before_listening(tmp_path):
    import trustme
    port = free_port()
    env = {"SMTP_LOGGER_DATA_DIR": str(tmp_path / "d"), "SMTP_LOGGER_PORT": str(port)}
    line = one_error_line(run("serve", env={**env, "SMTP_LOGGER_TLS_CERT": str(tmp_path / "missing.pem")}), 2)
    assert line == f"error: tls_cert: cannot read {tmp_path / 'missing.pem'}: No such file or directory"
    cert = trustme.CA().issue_cert("mx.ours.example")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    trustme.CA().issue_cert("other.example").private_key_pem.write_to_path(str(tmp_path / "other.key"))
    line = one_error_line(run("serve", env={**env, "SMTP_LOGGER_TLS_CERT": str(tmp_path / "cert.pem"),
                                            "SMTP_LOGGER_TLS_KEY": str(tmp_path / "other.key")}), 2)
    assert line.startswith("error: tls_cert: ") and str(tmp_path / "other.key") in line
    assert not port_answers(port)


def test_serve_refuses_a_port_in_use_and_a_data_dir_it_cannot_write(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_error_line(run("serve", env={"SMTP_LOGGER_DATA_DIR": str(tmp_path / "d"),
                                                "SMTP_LOGGER_PORT": str(port)}), 2)
    assert line.startswith(f"error: port: cannot listen on 127.0.0.1:{port}: ") and "in use" in line
    (tmp_path / "file").write_text("not a folder")
    line = one_error_line(run("serve", env={"SMTP_LOGGER_DATA_DIR": str(tmp_path / "file" / "data"),
                                            "SMTP_LOGGER_PORT": str(free_port())}), 2)
    assert line.startswith("error: data_dir: ") and "is not a folder" in line


def test_db_upgrade_with_an_unreachable_database_exits_2_without_its_password(tmp_path):
    closed = free_port()
    url = f"postgresql+psycopg://smtp:hunter2@127.0.0.1:{closed}/crm"
    line = one_error_line(run("db", "upgrade", env={"SMTP_LOGGER_DATABASE_URL": url}), 2)
    assert line.startswith(f"error: database_url: cannot connect to postgresql+psycopg://smtp:***@127.0.0.1:{closed}/crm")
    assert "hunter2" not in line
    line = one_error_line(run("db", "upgrade", env={"SMTP_LOGGER_DATABASE_URL": f"sqlite:///{tmp_path}/no/crm.db"}), 2)
    assert line == f"error: database_url: {tmp_path}/no does not exist (SQLite does not make folders)"


def test_bad_command_input_still_exits_1_with_one_line(tmp_path):
    env = {"SMTP_LOGGER_DATA_DIR": str(tmp_path / "d")}
    assert "Missing argument 'EMAIL'" in one_error_line(run("users", "add", env=env), 1)
    assert "No such option '--bogus'" in one_error_line(run("recent", "--bogus", env=env), 1)
    assert "No such command 'nosuch'" in one_error_line(run("nosuch", env=env), 1)
    assert "not a valid email address" in one_error_line(run("users", "add", "not-an-address", env=env), 1)


def test_config_check_prints_the_effective_configuration_with_secrets_masked(tmp_path):
    url = f"postgresql+psycopg://smtp:hunter2@127.0.0.1:{free_port()}/crm"
    (tmp_path / "tls.key").write_text("-----BEGIN PRIVATE KEY-----\nKEYMATERIAL\n-----END PRIVATE KEY-----\n")
    env = {"SMTP_LOGGER_DATA_DIR": str(tmp_path / "d"), "SMTP_LOGGER_DATABASE_URL": url,
           "SMTP_LOGGER_TLS_KEY": str(tmp_path / "tls.key"), "SMTP_LOGGER_TLS_CERT": str(tmp_path / "c.pem"),
           "SMTP_LOGGER_PROT": "25"}
    text, as_json = run("config", "check", env=env), run("config", "check", "--json", env=env)
    assert text.returncode == as_json.returncode == 2 and not as_json.stderr
    report = json.loads(as_json.stdout)
    for secret in ("hunter2", "KEYMATERIAL"):
        assert secret not in text.stdout + as_json.stdout
    assert report["settings"]["database_url"] == url.replace("hunter2", "***")
    assert report["settings"]["tls_key"] == "***" and report["sources"]["tls_key"] == "SMTP_LOGGER_TLS_KEY"
    assert report["config_file"] == str(CONFIG) and report["sources"]["port"] == str(CONFIG)
    assert set(report["settings"]) >= {"data_dir", "port", "lmtp", "bcc_domain", "metrics_port"}
    assert report["ignored_environment"] == ["SMTP_LOGGER_PROT"] and not report["ok"]
    keys = [p["key"] for p in report["problems"]]
    assert keys == ["tls_cert", "database_url"], report["problems"]
    for problem in report["problems"]:
        assert f"error: {problem['text']}" in text.stdout
    assert f'database_url = "{url.replace("hunter2", "***")}"  # SMTP_LOGGER_DATABASE_URL' in _unpadded(text.stdout)
    assert "# ignored: SMTP_LOGGER_PROT is not a setting" in text.stdout


def test_config_check_lists_every_problem_of_a_bad_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('prot = 25\nport = "25"\nsender_auth = "dkm"\nrequire_tls = true\n')
    report = json.loads(run("config", "check", "--json", config=path).stdout)
    assert [(p["key"], p["source"]) for p in report["problems"]] == [
        ("prot", str(path)), ("port", str(path)), ("sender_auth", str(path))]


def test_config_check_of_a_good_configuration_exits_0(tmp_path):
    env = {"SMTP_LOGGER_DATA_DIR": str(tmp_path / "d"), "SMTP_LOGGER_PORT": "2600"}
    if not PG_SKIP:
        env["SMTP_LOGGER_DATABASE_URL"] = PG_ADMIN_URL  # the database answers
    result = run("config", "check", env=env)
    assert result.returncode == 0 and result.stdout.rstrip().endswith("# configuration OK"), result.stdout
    assert "port = 2600  # SMTP_LOGGER_PORT" in _unpadded(result.stdout)
    assert not (tmp_path / "d").exists()  # checking creates nothing


def test_a_first_start_prints_no_parser_generator_noise(tmp_path):
    """`make run` (serve --demo) in a fresh data folder, with flanker as freshly installed: its
    PLY tables absent, so they are generated during this start, as on a first start."""
    import flanker
    site = tmp_path / "site"
    shutil.copytree(Path(flanker.__file__).parent, site / "flanker")
    tables = site / "flanker" / "addresslib" / "_parser"
    for stale in [*tables.glob("*parsetab.py"), tables / "__pycache__"]:
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SMTP_LOGGER_")}, "PYTHONPATH": str(site),
           "SMTP_LOGGER_DATA_DIR": str(tmp_path / "fresh"), "SMTP_LOGGER_PORT": str(port)}
    proc = start_serving([str(BIN), "serve", "--demo"], env, port)
    code, out, err = stop(proc)
    assert code == 0 and "Demo user: demo@example.com" in out, err
    assert sorted(p.name for p in tables.glob("*parsetab.py")), "flanker did not build its tables: the test proves nothing"
    for line in (out + err).splitlines():
        assert "unreachable" not in line and "parsetab" not in line and "Symbol" not in line, line
    for line in err.splitlines():  # stderr is not a terminal: only JSON log events
        assert json.loads(line)["event"], line
