"""/readyz on the metrics port: 200 only when the database answers, the spool is writable and
data_dir has more than min_free_bytes free; else 503 with a JSON body naming each failing
check. /healthz stays a liveness check (200 while the process answers)."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request

from smtp_logger.intake.disk import free_bytes

from .conftest import free_port, start_receiver


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def ready(port: int) -> tuple[int, dict]:
    status, body = get(port, "/readyz")
    return status, json.loads(body)


def test_ready_when_everything_answers_and_metrics_still_served(tmp_path, db_url):
    port = free_port()
    rx = start_receiver(tmp_path, db_url, metrics_port=port)
    try:
        status, body = ready(port)
        assert status == 200 and body["ready"] is True and body["failing"] == []
        assert set(body["checks"]) == {"database", "spool", "disk"}
        assert get(port, "/healthz") == (200, b"ok\n")
        status, metrics = get(port, "/metrics")
        assert status == 200 and b"smtp_logger_spool_backlog" in metrics
    finally:
        rx.stop()


def test_not_ready_when_free_space_is_below_min_free_bytes(tmp_path, db_url):
    port = free_port()
    (tmp_path / "data").mkdir()
    above = free_bytes(tmp_path / "data") + (1 << 40)
    rx = start_receiver(tmp_path, db_url, metrics_port=port, min_free_bytes=above)
    try:
        status, body = ready(port)
        assert status == 503 and body["ready"] is False and body["failing"] == ["disk"]
        assert body["checks"]["disk"]["min_free_bytes"] == above
        assert get(port, "/healthz")[0] == 200  # alive, only not ready
    finally:
        rx.stop()


def test_not_ready_when_the_spool_cannot_be_written(tmp_path, db_url):
    port = free_port()
    rx = start_receiver(tmp_path, db_url, metrics_port=port)
    tmp = tmp_path / "data" / "spool" / "tmp"
    try:
        shutil.rmtree(tmp)
        tmp.write_text("a file where the spool needs a folder")
        status, body = ready(port)
        assert status == 503 and body["failing"] == ["spool"]
        assert "NotADirectoryError" in body["checks"]["spool"]["detail"]
        tmp.unlink()
        tmp.mkdir()
        assert ready(port)[0] == 200
    finally:
        rx.stop()


def test_not_ready_when_the_database_server_does_not_answer(tmp_path):
    """A PostgreSQL URL where nothing listens (the stopped server of test_database_outage.py
    is the same from here): 503 naming the database; SMTP still starts."""
    port = free_port()
    url = f"postgresql+psycopg://root@127.0.0.1:{free_port()}/nowhere"
    rx = start_receiver(tmp_path, url, metrics_port=port)
    try:
        status, body = ready(port)
        assert status == 503 and body["failing"] == ["database"]
        assert "OperationalError" in body["checks"]["database"]["detail"]
        assert get(port, "/healthz")[0] == 200
    finally:
        rx.stop()
