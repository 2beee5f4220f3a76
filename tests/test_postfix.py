"""smtp_logger behind a REAL Postfix (Debian's), configured with deploy/postfix/ as shipped: a
client talks SMTP to Postfix, which verifies the recipient against our LMTP port and relays the
logging domain to it; the message ends LOGGED on the timeline, an unknown token is refused at
Postfix's RCPT, and while smtp_logger is down Postfix answers "try later". Postfix runs with its
own config, queue and data folders in a temporary folder (never the system's) and is stopped at
the end; the test skips where it cannot run."""

from __future__ import annotations

import os
import shutil
import smtplib
import subprocess
import tempfile
from pathlib import Path

import pytest

from .conftest import Cli, free_port
from .deployment import BIN, REPO, port_answers, start_serving, stop, wait_for
from .mailers import message, msgid

POSTFIX = "/usr/sbin/postfix"
DEPLOY = REPO / "deploy" / "postfix"
BCC_DOMAIN, FORWARD_DOMAIN = "bcc.smtp-logger.example", "fwd.smtp-logger.example"  # as in deploy/postfix/
TABLES = ("smtp_logger_transport", "smtp_logger_recipients")

# An instance of our own: folders under `root`, listening on 127.0.0.1 only, no local delivery,
# and 127.0.0.1 outside mynetworks, so the test client is treated like any host on the Internet.
INSTANCE_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-smtp-logger-test
myhostname = mx.postfix-test.localhost
mydomain = postfix-test.localhost
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 192.0.2.1/32
alias_maps =
alias_database =
local_recipient_maps =
biff = no
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
# smtpd polls the verify service every 3 s by default; the probe itself takes milliseconds
address_verify_poll_delay = 1s
"""
INSTANCE_MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
lmtp      unix - - n - - lmtp
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


def _why_not() -> str | None:
    if not Path(POSTFIX).exists() or not shutil.which("postmap"):
        return f"Postfix is not installed ({POSTFIX}; apt-get install postfix)"
    if os.geteuid() != 0:
        return "Postfix's master must be started as root"
    if not Path("/etc/postfix/postfix-files").exists():  # meta_directory: the package's file list
        return "/etc/postfix/postfix-files is missing (Debian's postfix package installs it)"
    try:
        import grp
        import pwd
        pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
    except KeyError:
        return "the postfix user or postdrop group is missing (Debian's postfix package creates them)"
    return None


def _deployed(text: str, root: Path, lmtp_port: int) -> str:
    """A deploy/postfix file as an operator would install it here: tables in our config folder,
    smtp_logger's LMTP port the one this test's receiver listens on."""
    return text.replace("/etc/postfix/", f"{root}/conf/").replace("127.0.0.1:2525", f"127.0.0.1:{lmtp_port}")


@pytest.fixture
def postfix_root():
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    # not under pytest's tmp_path: that is 0700, and Postfix's daemons drop to the postfix user
    root = Path(tempfile.mkdtemp(prefix="smtp-logger-postfix-"))
    root.chmod(0o755)
    yield root
    if (root / "conf" / "main.cf").exists():
        subprocess.run([POSTFIX, "-c", str(root / "conf"), "stop"], capture_output=True, timeout=60)
    shutil.rmtree(root, ignore_errors=True)


def _start_postfix(root: Path, smtp_port: int, lmtp_port: int) -> None:
    conf = root / "conf"
    for folder in ("conf", "queue", "data"):
        (root / folder).mkdir()
    shutil.chown(root / "data", "postfix")
    (conf / "main.cf").write_text(INSTANCE_MAIN_CF.format(root=root) + "\n"
                                  + _deployed((DEPLOY / "main.cf").read_text(), root, lmtp_port))
    (conf / "master.cf").write_text(INSTANCE_MASTER_CF.format(port=smtp_port) + "\n" + (DEPLOY / "master.cf").read_text())
    for table in TABLES:
        (conf / table).write_text(_deployed((DEPLOY / table).read_text(), root, lmtp_port))
        subprocess.run(["postmap", "-c", str(conf), f"hash:{conf / table}"], check=True, timeout=60)
    for action in ("check", "start"):
        result = subprocess.run([POSTFIX, "-c", str(conf), action], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = (root / "postfix.log").read_text() if (root / "postfix.log").exists() else ""
            raise AssertionError(f"postfix {action}: {result.stderr}\n{log[-3000:]}")
    assert wait_for(lambda: port_answers(smtp_port), timeout=30), "Postfix's smtpd did not listen"


def test_client_to_postfix_to_smtp_logger_lmtp_is_logged_and_unknown_tokens_are_refused(tmp_path, postfix_root):
    lmtp_port, smtp_port = free_port(), free_port()
    env = {"SMTP_LOGGER_CONFIG": str(REPO / "config" / "smtp_logger.toml"), "SMTP_LOGGER_DATA_DIR": str(tmp_path / "data"),
           "SMTP_LOGGER_LMTP": "true", "SMTP_LOGGER_PORT": str(lmtp_port), "SMTP_LOGGER_BCC_DOMAIN": BCC_DOMAIN,
           "SMTP_LOGGER_FORWARD_DOMAIN": FORWARD_DOMAIN, "SMTP_LOGGER_WORKER_PROCESSES": "1",
           "SMTP_LOGGER_LOG_FORMAT": "json"}
    cli = Cli(env)
    user = cli.json("users", "add", "demo@example.com")
    receiver = start_serving([str(BIN), "serve"], {**os.environ, **env}, lmtp_port)
    try:
        _start_postfix(postfix_root, smtp_port, lmtp_port)
        m = message("demo@example.com", "Customer <customer@acme.example>", subject="Our proposal")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=60) as client:
            client.ehlo("client.example")
            assert client.mail("demo@example.com")[0] == 250
            code, text = client.rcpt(f"nosuchtoken@{BCC_DOMAIN}")
            assert code == 550 and b"No such logging address" in text, (code, text)
            code, text = client.rcpt("someone@elsewhere.example")
            assert code in (454, 554) and b"Relay access denied" in text  # and Postfix relays nothing else
            assert client.rcpt(user["bcc_address"])[0] == 250
            code, text = client.data(m.as_bytes())
            assert code == 250 and b"queued as" in text
        decisions = wait_for(lambda: cli.json("why", msgid(m)), timeout=60)
        assert decisions and decisions[0]["reason"] == "LOGGED", decisions
        assert [e["message_id"] for e in cli.json("timeline", "customer@acme.example")] == [msgid(m)]
        assert len(cli.json("recent")) == 1  # the refused token never reached smtp_logger's DATA
        log = (postfix_root / "postfix.log").read_text()
        assert "postfix/smtp-logger/lmtp" in log and "status=sent (250 2.1.5" in log
        assert f"to=<nosuchtoken@{BCC_DOMAIN}>" in log and "status=undeliverable" in log  # the probe's answer
    finally:
        code, _, err = stop(receiver)
    assert code == 0, err[-2000:]
    # smtp_logger down: Postfix cannot ask, so it says "try later" (never accepts, never bounces)
    forward = cli.json("users", "add", "other@example.com")["forward_address"]
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=60) as client:
        client.ehlo("client.example")
        assert client.mail("other@example.com")[0] == 250
        code, text = client.rcpt(forward)
        assert code == 450, (code, text)
