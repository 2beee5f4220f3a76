"""Helpers for the deployment tests: the Dockerfile and the systemd unit read as data, a command
run with the privileges a container or a hardened unit would give it (setpriv), and the real
`smtp-logger serve` started and stopped as a process."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent / "smtp-logger"


# -- Dockerfile -------------------------------------------------------------------------------

def dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; comments dropped, continuation lines joined."""
    instructions, pending = [], ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        keyword, _, rest = text.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def instruction(instructions, keyword: str) -> list[str]:
    return [rest for key, rest in instructions if key == keyword]


def command_of(text: str) -> list[str]:
    """A CMD/HEALTHCHECK CMD argument as argv (exec form is JSON; shell form runs in /bin/sh)."""
    return json.loads(text) if text.startswith("[") else ["/bin/sh", "-c", text]


def docker_env(instructions) -> dict:
    env = {}
    for rest in instruction(instructions, "ENV"):
        for item in shlex.split(rest):
            key, _, value = item.partition("=")
            env[key] = value
    return env


def healthcheck_command(instructions) -> list[str]:
    [text] = instruction(instructions, "HEALTHCHECK")
    return command_of(text.split(" CMD ", 1)[1].strip())


# -- systemd unit -----------------------------------------------------------------------------

def unit_file(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) in order; a key may repeat (Environment=)."""
    entries, section = [], ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_values(entries, section: str, key: str) -> list[str]:
    return [value for sec, k, value in entries if sec == section and k == key]


# -- privileges -------------------------------------------------------------------------------

def unprivileged(capabilities: tuple[str, ...] = ()) -> tuple[list[str] | None, str]:
    """A command prefix that runs a program with no privilege but the given capabilities, like
    a container's non-root user or a unit's User= with AmbientCapabilities= and NoNewPrivileges=,
    and the reason when there is none. As root (this machine and CI, whose interpreter lives under
    /root where another user cannot read it), setpriv keeps the uid but sets SECBIT_NOROOT: uid 0
    then gains no capability at exec, so the process has only the ambient ones it is given."""
    if os.geteuid() != 0:
        return ([] if not capabilities else None), "not root: cannot grant capabilities"
    if not shutil.which("setpriv"):
        return None, "setpriv (util-linux) is not installed"
    caps = ",".join(f"+{cap}" for cap in capabilities)
    prefix = ["setpriv", "--securebits=+noroot,+noroot_locked", "--no-new-privs",
              "--inh-caps=-all" + (f",{caps}" if caps else "")]
    if caps:
        prefix.append(f"--ambient-caps={caps}")
    return prefix, ""


def effective_capabilities(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no CapEff for {pid}")


# -- processes --------------------------------------------------------------------------------

def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def start_serving(argv: list[str], env: dict, port: int, timeout: float = 60) -> subprocess.Popen:
    """Start argv (a `serve`) and wait until it accepts connections on port."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"{argv} exited {proc.returncode}: {err.decode()[-2000:]}")
        if port_answers(port):
            return proc
        time.sleep(0.1)
    stop(proc)
    raise AssertionError(f"{argv} did not listen on {port}")


def stop(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    """SIGTERM (what docker stop and systemctl stop send); the exit code and the output."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return proc.returncode, out.decode(), err.decode()


def wait_for(predicate, timeout: float = 60, poll: float = 0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(poll)
    return None
